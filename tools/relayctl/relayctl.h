// relayctl's commands over the controller's Admin API, as a library so the
// CLI (main.cc) stays a thin flag parser.
#ifndef CASCADE_TOOLS_RELAYCTL_RELAYCTL_H_
#define CASCADE_TOOLS_RELAYCTL_RELAYCTL_H_

#include <grpcpp/grpcpp.h>

#include <cstdint>
#include <iosfwd>
#include <memory>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "proto/controller.pb.h"

namespace cascade::relayctl {

// Documented exit codes.
constexpr int kExitDone = 0;
constexpr int kExitFailed = 1;
constexpr int kExitUsage = 2;
constexpr int kExitNotFound = 3;
constexpr int kExitRefused = 4;
// drain --wait: the node did not report empty within --timeout (the drain
// itself was accepted and stays in force).
constexpr int kExitTimeout = 5;
// The controller refused the caller: its role may not make this call
// ("permission denied: ROLE may not COMMAND"), or it is not who it must be
// (no credential, a token expired or revoked, a node's certificate).
constexpr int kExitDenied = 6;

struct Options {
  // HOST:PORT, or HOST:PORT,HOST:PORT,... of controllers in one group (one
  // leads, the others redirect to it).
  std::string controller = "127.0.0.1:7700";
  bool json = false;
  // Sent as "authorization: Bearer ...": a signed token (--token-file) or
  // the legacy shared admin token (--admin-token-file).
  std::string admin_token;
  // Null means plaintext.
  std::shared_ptr<grpc::ChannelCredentials> credentials;
  // Added to an error when the controller closed the connection during the
  // handshake (control::HandshakeHint).
  std::string handshake_hint;
  // Deadline of each call, including finding the leader; for drain --wait,
  // of the whole wait.
  absl::Duration timeout = absl::Seconds(10);
  // drain: wait until the node reports no active children and every child
  // it had reports receiving from its new parent.
  bool wait = true;
  // How often drain --wait asks the controller.
  absl::Duration poll_interval = absl::Milliseconds(100);
  // move: the new parent.
  std::string parent;
  // restore: "revertive", "non-revertive" or empty (the controller's
  // default).
  std::string policy;
  // events: stop after this many (0 follows until interrupted).
  int count = 0;
  // events: first the last this many audited Admin calls.
  uint32_t history = 0;
  // token revoke --operator=NAME.
  std::string operator_name;
  // pki revoke --serial=HEX: a certificate by its serial number.
  std::string serial;
  // sdp: the file the SDP replaces (empty: stdout).
  std::string out;
  // url: a publish (WHIP) URL rather than a watch (WHEP) one; the command
  // center's rather than a site's; the token's lifetime (zero: the
  // controller's default, 24 h).
  bool publish = false;
  bool center = false;
  absl::Duration ttl = absl::ZeroDuration();
  // prometheus: the controllers' metrics HOST:PORT (their --metrics), how
  // often Prometheus scrapes and evaluates, the rule files it loads.
  std::vector<std::string> controller_metrics;
  absl::Duration scrape_interval = absl::Seconds(15);
  std::vector<std::string> rules;
};

// Runs `args` (the command and its operands); returns an exit code. Results
// go to `out`, errors to `err` as one line.
int Run(const Options& options, const std::vector<std::string>& args,
        std::ostream& out, std::ostream& err);

// Help for one command; empty if there is no such command.
std::string CommandHelp(const std::string& command);
// The list of commands, for the general usage message.
std::string CommandSummary();
bool IsCommand(const std::string& word);

}  // namespace cascade::relayctl

#endif  // CASCADE_TOOLS_RELAYCTL_RELAYCTL_H_
