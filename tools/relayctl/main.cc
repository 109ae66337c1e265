// relayctl: the operator's and scripts' CLI over topologyd's Admin API.
// Exit codes: 0 done, 1 failed, 2 usage, 3 not found, 4 refused, 5 timed
// out (drain waiting for the node to empty).
#include <iostream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "base/flags.h"
#include "tools/relayctl/relayctl.h"

ABSL_FLAG(std::string, controller, "127.0.0.1:7700",
          "topologyd HOST:PORT, or several as HOST:PORT,HOST:PORT,... (a "
          "group on etcd: the leader is found by following the others' "
          "redirects, and a change is sent elsewhere only when it surely was "
          "not applied)");
ABSL_FLAG(bool, json, false, "print results as JSON, for scripts");
ABSL_FLAG(std::string, admin_token_file, "",
          "file with the controller's admin token");
ABSL_FLAG(std::string, tls_ca, "",
          "PEM CA that signed the controller's certificate (enables TLS)");
ABSL_FLAG(std::string, tls_cert, "",
          "PEM client certificate, for a controller that requires mutual TLS");
ABSL_FLAG(std::string, tls_key, "", "PEM private key of --tls-cert");
ABSL_FLAG(absl::Duration, timeout, absl::Seconds(10),
          "deadline of each call; for drain (waiting), of the whole wait");
ABSL_FLAG(bool, wait, true,
          "drain: wait until the node reports empty (--wait=false: return "
          "once the drain is accepted)");
ABSL_FLAG(std::string, parent, "", "move: the new parent");
ABSL_FLAG(std::string, policy, "",
          "restore: revertive or non-revertive (default: the controller's)");
ABSL_FLAG(int, count, 0, "events: stop after this many (0: follow)");

namespace {

using cascade::relayctl::kExitUsage;

int UsageError(const std::string& message) {
  std::cerr << "relayctl: " << message << "\n";
  return kExitUsage;
}

// `relayctl COMMAND --help` and `relayctl help COMMAND` print that
// command's help; absl's --help lists the flags.
bool PrintCommandHelp(int argc, char** argv) {
  bool wants_help = false;
  std::string command;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h" || arg == "help") {
      wants_help = true;
    } else if (command.empty() && cascade::relayctl::IsCommand(arg)) {
      command = arg;
    }
  }
  if (!wants_help || command.empty()) return false;
  std::cout << cascade::relayctl::CommandHelp(command);
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  cascade::AcceptDashedFlagNames(argc, argv);
  if (PrintCommandHelp(argc, argv)) return 0;
  std::vector<char*> positional = cascade::ParseFlags(
      argc, argv,
      absl::StrCat(
          "CLI over topologyd's Admin API.\n"
          "  relayctl [--controller=HOST:PORT[,HOST:PORT...]] [--json] COMMAND "
          "[ARGS]\n"
          "Commands (relayctl COMMAND --help for each):\n",
          cascade::relayctl::CommandSummary(),
          "Exit codes: 0 done, 1 failed, 2 usage, 3 not found, 4 refused, "
          "5 timed out (drain: not empty within --timeout)."));

  cascade::relayctl::Options options;
  options.controller = absl::GetFlag(FLAGS_controller);
  options.json = absl::GetFlag(FLAGS_json);
  options.timeout = absl::GetFlag(FLAGS_timeout);
  options.wait = absl::GetFlag(FLAGS_wait);
  options.parent = absl::GetFlag(FLAGS_parent);
  options.policy = absl::GetFlag(FLAGS_policy);
  options.count = absl::GetFlag(FLAGS_count);
  if (options.count < 0) return UsageError("--count must not be negative");
  std::string error;
  const std::string token_file = absl::GetFlag(FLAGS_admin_token_file);
  if (!token_file.empty()) {
    if (!cascade::ReadFlagFile("--admin-token-file", token_file,
                               &options.admin_token, &error)) {
      return UsageError(error);
    }
    options.admin_token =
        std::string(absl::StripAsciiWhitespace(options.admin_token));
  }
  const std::string ca = absl::GetFlag(FLAGS_tls_ca);
  const std::string cert = absl::GetFlag(FLAGS_tls_cert);
  const std::string key = absl::GetFlag(FLAGS_tls_key);
  if (cert.empty() != key.empty()) {
    return UsageError("--tls-cert and --tls-key go together");
  }
  if (!cert.empty() && ca.empty()) {
    return UsageError("--tls-cert needs --tls-ca");
  }
  if (!ca.empty()) {
    grpc::SslCredentialsOptions ssl;
    if (!cascade::ReadFlagFile("--tls-ca", ca, &ssl.pem_root_certs, &error) ||
        (!cert.empty() &&
         (!cascade::ReadFlagFile("--tls-cert", cert, &ssl.pem_cert_chain,
                                 &error) ||
          !cascade::ReadFlagFile("--tls-key", key, &ssl.pem_private_key,
                                 &error)))) {
      return UsageError(error);
    }
    options.credentials = grpc::SslCredentials(ssl);
  }

  std::vector<std::string> args(positional.begin() + 1, positional.end());
  return cascade::relayctl::Run(options, args, std::cout, std::cerr);
}
