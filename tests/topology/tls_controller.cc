#include "tests/topology/tls_controller.h"

#include <fstream>

namespace cascade::topology::testing {

void TlsControllerTest::StartTls(const Setup& setup) {
  tmp_ = TestDir();
  auto pki = TestPki::Make(tmp_ + "/pki");
  ASSERT_TRUE(pki.ok()) << pki.status();
  pki_ = std::make_unique<TestPki>(*std::move(pki));
  ASSERT_TRUE(pki_->IssueNode("topologyd").ok());
  for (const std::string& node : setup.nodes) {
    ASSERT_TRUE(pki_->IssueNode(node).ok()) << node;
  }
  for (const auto& [name, role] : setup.operators) {
    ASSERT_TRUE(pki_->IssueOperator(name, role).ok()) << name;
  }
  const std::string topology = tmp_ + "/topology.textproto";
  std::ofstream(topology) << setup.topology;
  flags_ = pki_->ServerFlags("topologyd");
  flags_.insert(flags_.end(),
                {"--state-dir=" + tmp_ + "/state", "--topology=" + topology});
  flags_.insert(flags_.end(), setup.flags.begin(), setup.flags.end());
  StartController("topologyd", 0);
}

void TlsControllerTest::StartController(const std::string& name, int port) {
  controller_.reset();
  auto daemon = Topologyd::Start(tmp_, name, flags_, port);
  ASSERT_TRUE(daemon.ok()) << daemon.status();
  controller_ = std::move(*daemon);
}

cascade::testing::CommandResult TlsControllerTest::As(
    const std::string& name, std::vector<std::string> args) {
  std::vector<std::string> flags = pki_->Flags(name);
  args.insert(args.begin(), flags.begin(), flags.end());
  return Relayctl(tmp_, controller_->address(), std::move(args));
}

grpc::Status TlsControllerTest::Keys(
    const std::string& holder, const std::vector<std::string>& nodes,
    cascade::v1::GetStreamKeysResponse* response) {
  return GetStreamKeysAs(*pki_, controller_->address(), holder, nodes,
                         response);
}

}  // namespace cascade::topology::testing
