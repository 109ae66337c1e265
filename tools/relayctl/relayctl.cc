#include "tools/relayctl/relayctl.h"

#include <ostream>
#include <utility>

#include "control/controllers.h"
#include "tools/relayctl/change_commands.h"
#include "tools/relayctl/commands.h"
#include "tools/relayctl/drain_wait.h"
#include "tools/relayctl/key_commands.h"
#include "tools/relayctl/read_commands.h"
#include "tools/relayctl/session.h"

namespace cascade::relayctl {
namespace {

// Runs the command `name` (a key of Commands(), its operand count checked).
int Dispatch(Session& session, const std::string& name,
             const std::vector<std::string>& operands) {
  const std::string first = operands.empty() ? "" : operands[0];
  if (name == "tree") return Tree(session, first);
  if (name == "nodes") return Nodes(session);
  if (name == "show") return Show(session, first);
  if (name == "apply") return Apply(session, first);
  if (name == "add") return Add(session, first);
  if (name == "stats") return Stats(session);
  if (name == "events") return Events(session);
  if (name == "sdp") return Sdp(session, first);
  if (name == "token revoke") return RevokeToken(session, operands);
  if (name == "pki revoke") return RevokeCertificate(session, operands);
  if (name == "url") return Url(session, operands);
  if (name == "prometheus") return Prometheus(session);
  if (name == "rotate-edge-key") return RotateEdgeKey(session);
  if (name == "rotate-keys") return RotateLinkKeys(session, first);
  if (name == "stream-key rotate") return RotateStreamKey(session, first);
  if (name == "drain" && session.options().wait) {
    return DrainAndWait(session, first);
  }
  return ChangeNode(session, name, first);
}

}  // namespace

int Run(const Options& options, const std::vector<std::string>& given,
        std::ostream& out, std::ostream& err) {
  if (given.empty()) {
    err << "relayctl: no command (relayctl --help lists them)\n";
    return kExitUsage;
  }
  std::vector<std::string> args = given;
  // A two-word command ("token revoke") is one name.
  if (args.size() >= 2 && Commands().count(args[0] + " " + args[1]) > 0) {
    args[1] = args[0] + " " + args[1];
    args.erase(args.begin());
  }
  auto it = Commands().find(args[0]);
  if (it == Commands().end()) {
    err << "relayctl: unknown command \"" << args[0]
        << "\" (relayctl --help lists them)\n";
    return kExitUsage;
  }
  int operands = static_cast<int>(args.size()) - 1;
  if (operands < it->second.min_args || operands > it->second.max_args) {
    err << "relayctl: " << args[0] << ": usage: relayctl " << args[0] << " "
        << it->second.usage << "\n";
    return kExitUsage;
  }
  absl::StatusOr<std::vector<std::string>> controllers =
      control::ParseControllerList(options.controller);
  if (!controllers.ok()) {
    err << "relayctl: --controller: " << controllers.status().message() << "\n";
    return kExitUsage;
  }
  Session session(options, *std::move(controllers), args[0], out, err);
  return Dispatch(session, args[0],
                  std::vector<std::string>(args.begin() + 1, args.end()));
}

}  // namespace cascade::relayctl
