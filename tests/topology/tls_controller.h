// A topologyd with mutual TLS under a fresh PKI, for integration tests of
// what certificates allow: the nodes' and operators' certificates, the
// controller (restartable on its port, as after a kill -9), relayctl as an
// operator, and GetStreamKeys as a node.
#ifndef CASCADE_TESTS_TOPOLOGY_TLS_CONTROLLER_H_
#define CASCADE_TESTS_TOPOLOGY_TLS_CONTROLLER_H_

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "proto/controller.grpc.pb.h"
#include "security/identity.h"
#include "tests/media/process.h"
#include "tests/topology/harness.h"
#include "tests/topology/test_pki.h"

namespace cascade::topology::testing {

class TlsControllerTest : public ::testing::Test {
 protected:
  struct Setup {
    // Text cascade.v1.Topology that seeds the controller.
    std::string topology;
    // Each gets NAME.pem/NAME.key ("topologyd" is always issued).
    std::vector<std::string> nodes;
    std::vector<std::pair<std::string, security::Role>> operators;
    // topologyd flags beyond TLS, --state-dir and --topology.
    std::vector<std::string> flags;
  };
  // The PKI, the topology file and a running topologyd (fatal failures:
  // wrap in ASSERT_NO_FATAL_FAILURE).
  void StartTls(const Setup& setup);
  // topologyd (again) with the same flags: port 0 lets the kernel choose,
  // a restart passes controller_->port().
  void StartController(const std::string& name, int port);

  // relayctl ARGS as `name` (its certificate).
  cascade::testing::CommandResult As(const std::string& name,
                                     std::vector<std::string> args);
  // GetStreamKeys for `nodes` with `holder`'s certificate.
  grpc::Status Keys(const std::string& holder,
                    const std::vector<std::string>& nodes,
                    cascade::v1::GetStreamKeysResponse* response);

  std::string tmp_;
  std::unique_ptr<TestPki> pki_;
  std::vector<std::string> flags_;
  std::unique_ptr<Topologyd> controller_;
};

}  // namespace cascade::topology::testing

#endif  // CASCADE_TESTS_TOPOLOGY_TLS_CONTROLLER_H_
