// The certificates the etcd tests run with, made in the test's own
// directory. The one place that makes them (with the openssl CLI for now),
// so it can move to the security/ library without touching the tests.
#ifndef CASCADE_TESTS_ETCD_TEST_PKI_H_
#define CASCADE_TESTS_ETCD_TEST_PKI_H_

#include <string>

#include "absl/status/statusor.h"
#include "topology/etcd/etcd_client.h"

namespace cascade::testing {

// Paths of PEM files: a CA, the certificate etcd serves with (IP SAN
// 127.0.0.1) and a client certificate (extendedKeyUsage clientAuth), both
// signed by the CA.
struct TestPki {
  std::string ca;
  std::string server_cert;
  std::string server_key;
  std::string client_cert;
  std::string client_key;

  // The CA and the client certificate, read, as EtcdClient takes them.
  absl::StatusOr<topology::etcd::EtcdTls> ClientTls() const;
};

// Makes a new CA and its two certificates in `dir` (created if need be).
// Each call makes another CA.
absl::StatusOr<TestPki> MakeTestPki(const std::string& dir);

}  // namespace cascade::testing

#endif  // CASCADE_TESTS_ETCD_TEST_PKI_H_
