// Certificates for tests that run topologyd with mutual TLS, made with the
// security library in the test's directory: a CA, and node and operator
// certificates, each NAME.pem and NAME.key beside ca.pem.
#ifndef CASCADE_TESTS_TOPOLOGY_TEST_PKI_H_
#define CASCADE_TESTS_TOPOLOGY_TEST_PKI_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "proto/controller.grpc.pb.h"
#include "security/identity.h"
#include "security/pki.h"

namespace cascade::topology::testing {

class TestPki {
 public:
  // A new CA in `dir` (created if need be).
  static absl::StatusOr<TestPki> Make(const std::string& dir);

  // NAME.pem/NAME.key for node `id`, valid for a server at 127.0.0.1 too;
  // valid from `now` - 5 min for `validity`.
  absl::Status IssueNode(const std::string& id, absl::Time now = absl::Now(),
                         absl::Duration validity = absl::Hours(24)) const;
  // FILE.pem/FILE.key naming every node of `ids` (a relayd running them).
  absl::Status IssueNodes(const std::string& file,
                          const std::vector<std::string>& ids) const;
  absl::Status IssueOperator(const std::string& name, security::Role role,
                             absl::Time now = absl::Now(),
                             absl::Duration validity = absl::Hours(24)) const;

  std::string ca() const;
  std::string cert(const std::string& name) const;
  std::string key(const std::string& name) const;
  // --tls-ca, --tls-cert and --tls-key of NAME (relayctl, relayd).
  std::vector<std::string> Flags(const std::string& name) const;
  // topologyd's TLS flags with NAME as its server certificate, requiring
  // client certificates from this CA.
  std::vector<std::string> ServerFlags(const std::string& name) const;
  // A client's credentials as NAME; `ca` is this CA's unless given.
  std::shared_ptr<grpc::ChannelCredentials> Credentials(
      const std::string& name, const std::string& ca = "") const;

 private:
  absl::Status IssueAs(const std::string& file,
                       const security::IssueOptions& options) const;

  std::string dir_;
  security::Credentials ca_;
};

// GetStreamKeys for `nodes` at the topologyd at `address`, with `holder`'s
// certificate (a 10 s deadline).
grpc::Status GetStreamKeysAs(const TestPki& pki, const std::string& address,
                             const std::string& holder,
                             const std::vector<std::string>& nodes,
                             cascade::v1::GetStreamKeysResponse* response);

}  // namespace cascade::topology::testing

#endif  // CASCADE_TESTS_TOPOLOGY_TEST_PKI_H_
