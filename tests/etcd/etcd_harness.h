// Real etcd processes for tests: one member or a small cluster on 127.0.0.1,
// each with a temporary data directory, started within a bounded time.
#ifndef CASCADE_TESTS_ETCD_ETCD_HARNESS_H_
#define CASCADE_TESTS_ETCD_ETCD_HARNESS_H_

#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "base/subprocess.h"
#include "tests/etcd/test_pki.h"
#include "tests/media/process.h"
#include "topology/etcd/etcd_client.h"

namespace cascade::testing {

// How clients reach the members.
enum class EtcdTransport {
  // https:// client URLs, --client-cert-auth: how Cascade runs etcd.
  kMutualTls,
  // http://, for the tests that a TLS client never falls back to it.
  kPlaintext,
};

class EtcdCluster {
 public:
  // Starts `members` etcd members under `dir` and waits until every one
  // answers. With TLS the certificates are made in `dir`/pki. Peers talk
  // plaintext (loopback). FailedPrecondition naming the Debian package when
  // etcd is not installed.
  static absl::StatusOr<std::unique_ptr<EtcdCluster>> Start(
      int members, const std::string& dir,
      EtcdTransport transport = EtcdTransport::kMutualTls);

  // "127.0.0.1:PORT" of each member's client URL.
  const std::vector<std::string>& endpoints() const { return endpoints_; }
  // "etcd://https://127.0.0.1:P1,https://127.0.0.1:P2,..." (http:// when
  // plaintext), as topologyd's --store takes it.
  std::string Url() const;
  // The certificates etcd was started with (TLS only).
  const TestPki& pki() const { return pki_; }
  // What an EtcdClient needs for this cluster: the members and, with TLS,
  // the test CA and client certificate.
  topology::etcd::EtcdClientOptions ClientOptions() const;
  // topologyd's flags for this cluster: --store=Url() and, with TLS,
  // --etcd-ca, --etcd-cert and --etcd-key.
  std::vector<std::string> TopologydFlags() const;
  // Kills member `index` (SIGKILL).
  void StopMember(int index);

 private:
  std::vector<std::string> endpoints_;
  TestPki pki_;
  std::optional<topology::etcd::EtcdTls> tls_;
  std::vector<std::unique_ptr<Subprocess>> processes_;
};

// Forwards TCP connections from a kernel-chosen port on 127.0.0.1 to a
// local port until Cut(): then every connection it carried is closed and new
// ones are refused, as when a controller loses its network to etcd.
class TcpForwarder {
 public:
  static absl::StatusOr<std::unique_ptr<TcpForwarder>> Start(
      const std::string& target);  // "127.0.0.1:PORT"
  ~TcpForwarder();
  // "127.0.0.1:PORT" to connect to instead of the target.
  std::string endpoint() const;
  void Cut();

 private:
  TcpForwarder() = default;
  void Run();

  int target_port_ = 0;
  int listen_fd_ = -1;
  int port_ = 0;
  int wake_[2] = {-1, -1};
  std::thread thread_;
};

// The test's scratch directory ($TEST_TMPDIR under Bazel).
std::string TestDir();

}  // namespace cascade::testing

#endif  // CASCADE_TESTS_ETCD_ETCD_HARNESS_H_
