// relayctl: the operator's and scripts' CLI over topologyd's Admin API, the
// PKI behind its mutual TLS (relayctl pki, pki.h) and operators' tokens
// (relayctl token issue, token.h).
// Exit codes: 0 done, 1 failed, 2 usage, 3 not found, 4 refused, 5 timed
// out (drain waiting for the node to empty), 6 permission denied.
#include <algorithm>
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "base/flags.h"
#include "control/tls.h"
#include "tools/relayctl/pki.h"
#include "tools/relayctl/relayctl.h"
#include "tools/relayctl/render.h"
#include "tools/relayctl/stream_key.h"
#include "tools/relayctl/token.h"

ABSL_FLAG(std::string, controller, "127.0.0.1:7700",
          "topologyd HOST:PORT, or several as HOST:PORT,HOST:PORT,... (a "
          "group on etcd: the leader is found by following the others' "
          "redirects, and a change is sent elsewhere only when it surely was "
          "not applied)");
ABSL_FLAG(bool, json, false, "print results as JSON, for scripts");
ABSL_FLAG(std::string, token_file, "",
          "file with an operator's signed token (relayctl token issue), sent "
          "as 'authorization: Bearer ...'; needs TLS (--tls-ca) unless "
          "--insecure");
ABSL_FLAG(std::string, admin_token_file, "",
          "legacy: file with the controller's shared admin token (its "
          "--admin-token-file); needs TLS unless --insecure");
ABSL_FLAG(bool, insecure, false,
          "talk to the controller in plaintext, without --tls-ca (a test "
          "bed's; refused otherwise), and send --token-file or "
          "--admin-token-file so too (anyone on the path can then replay "
          "the token)");
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
ABSL_FLAG(int, history, 0,
          "events: first print the last N audited Admin calls (accepted "
          "changes and refusals, who, from where), from the journal");
ABSL_FLAG(absl::Duration, ttl, absl::ZeroDuration(),
          "token issue: how long the token is valid (e.g. 8h; at most 366 "
          "days); url: how long the URL's token is (default 24h, at most "
          "31 days)");
ABSL_FLAG(bool, publish, false,
          "url: a publish (WHIP) URL rather than a watch (WHEP) one");
ABSL_FLAG(bool, center, false,
          "url: the command center's URL, at the national relay");
ABSL_FLAG(std::string, out, "",
          "pki: the directory the CA (init) or certificate (issue) goes to; "
          "token issue: the file the token goes to (default: stdout); sdp: "
          "the file the SDP goes to (default: stdout)");
ABSL_FLAG(std::string, ca, "",
          "pki issue, token issue, render: the CA's directory (ca.pem, "
          "ca.key)");
ABSL_FLAG(bool, force, false,
          "pki, token issue, render: replace files that exist");
ABSL_FLAG(std::string, operator, "",
          "pki issue: an operator's certificate, for NAME (instead of NODE); "
          "token issue: the token's operator; token revoke: every token of "
          "NAME");
ABSL_FLAG(std::string, serial, "",
          "pki revoke: the certificate's serial number (hex, colons allowed), "
          "when its file is lost");
ABSL_FLAG(std::string, name, "",
          "pki issue NODE NODE...: name of the files (NAME.pem, NAME.key; "
          "default: the first NODE)");
ABSL_FLAG(std::string, role, "",
          "pki issue --operator, token issue: viewer, operator or admin");
ABSL_FLAG(std::vector<std::string>, dns, {},
          "pki issue NODE: DNS names clients may dial the node by "
          "(comma-separated or repeated)");
ABSL_FLAG(std::vector<std::string>, ip, {},
          "pki issue NODE: IP addresses clients may dial the node at "
          "(comma-separated or repeated)");
ABSL_FLAG(std::vector<std::string>, controller_metrics, {},
          "prometheus: the controllers' metrics HOST:PORT (topologyd "
          "--metrics), comma-separated");
ABSL_FLAG(absl::Duration, scrape_interval, absl::Seconds(15),
          "prometheus: how often Prometheus scrapes and evaluates rules");
ABSL_FLAG(std::vector<std::string>, rules, {},
          "prometheus: rule files prometheus.yml loads (comma-separated)");
ABSL_FLAG(std::string, topology, "",
          "render: the topology file (text cascade.v1.Topology)");
ABSL_FLAG(bool, all, false, "render: every relay of the topology");
ABSL_FLAG(bool, ansible_inventory, false,
          "render --all: also OUT/inventory.json for deploy/ansible");
ABSL_FLAG(std::string, certs_dir, "/etc/cascade/certs",
          "render: where the relay machines keep ca.pem, NODE.pem and "
          "NODE.key (TLS_CA, TLS_CERT, TLS_KEY)");
ABSL_FLAG(int, days, 0,
          "pki: validity in days (0: 3650 for a CA, 365 for a certificate)");

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
    } else if (command.empty() &&
               (cascade::relayctl::IsCommand(arg) || arg == "pki" ||
                arg == "token" || arg == "render" || arg == "stream-key")) {
      command = arg;
    }
  }
  if (!wants_help || command.empty()) return false;
  std::cout << (command == "pki"
                    ? cascade::relayctl::PkiHelp() + "\n" +
                          cascade::relayctl::CommandHelp("pki revoke")
                : command == "token"  ? cascade::relayctl::TokenHelp()
                : command == "render" ? cascade::relayctl::RenderHelp()
                : command == "stream-key"
                    ? cascade::relayctl::StreamKeyHelp() + "\n" +
                          cascade::relayctl::CommandHelp("stream-key rotate")
                    : cascade::relayctl::CommandHelp(command));
  return true;
}

// --dns and --ip may be repeated: absl keeps only the last of a flag given
// twice, so every occurrence is gathered into one, comma-separated. `args`
// holds the rewritten arguments, which the returned pointers point into.
std::vector<char*> GatherRepeatedLists(int argc, char** argv,
                                       std::vector<std::string>* args) {
  std::vector<std::string> dns, ip;
  for (int i = 0; i < argc; ++i) {
    const absl::string_view arg = argv[i];
    if (arg == "--") {
      args->insert(args->end(), argv + i, argv + argc);
      break;
    }
    bool gathered = false;
    for (auto [flag, values] : {std::pair{"--dns", &dns}, {"--ip", &ip}}) {
      if (absl::StartsWith(arg, absl::StrCat(flag, "="))) {
        values->push_back(std::string(arg.substr(std::strlen(flag) + 1)));
        gathered = true;
      } else if (arg == flag && i + 1 < argc) {
        values->push_back(argv[++i]);
        gathered = true;
      }
    }
    if (!gathered) args->push_back(std::string(arg));
  }
  // Before a "--", so they are still flags.
  auto end = std::find(args->begin(), args->end(), "--");
  if (!ip.empty()) end = args->insert(end, "--ip=" + absl::StrJoin(ip, ","));
  if (!dns.empty()) args->insert(end, "--dns=" + absl::StrJoin(dns, ","));
  std::vector<char*> pointers;
  for (std::string& arg : *args) pointers.push_back(arg.data());
  return pointers;
}

// Whether --FLAG is on the command line (before a "--"): render needs
// --controller given, not its default.
bool Given(int argc, char** argv, absl::string_view flag) {
  for (int i = 1; i < argc; ++i) {
    const absl::string_view arg = argv[i];
    if (arg == "--") break;
    if (arg == flag || absl::StartsWith(arg, absl::StrCat(flag, "="))) {
      return true;
    }
  }
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  cascade::AcceptDashedFlagNames(argc, argv);
  if (PrintCommandHelp(argc, argv)) return 0;
  std::vector<std::string> gathered;
  std::vector<char*> args_with_lists =
      GatherRepeatedLists(argc, argv, &gathered);
  std::vector<char*> positional = cascade::ParseFlags(
      static_cast<int>(args_with_lists.size()), args_with_lists.data(),
      absl::StrCat(
          "CLI over topologyd's Admin API.\n"
          "  relayctl [--controller=HOST:PORT[,HOST:PORT...]] [--json] COMMAND "
          "[ARGS]\n"
          "Commands (relayctl COMMAND --help for each):\n",
          cascade::relayctl::CommandSummary(), cascade::relayctl::PkiSummary(),
          cascade::relayctl::TokenSummary(), cascade::relayctl::RenderSummary(),
          cascade::relayctl::StreamKeySummary(),
          "Exit codes: 0 done, 1 failed (also rate limited beyond --timeout), "
          "2 "
          "usage, 3 not found, 4 refused (invalid, precondition), 5 timed "
          "out (drain: not empty within --timeout), 6 permission denied (the "
          "controller refused who you are or what your role may do: "
          "\"permission denied: ROLE may not COMMAND\", or no, an expired "
          "or a revoked credential)."));
  std::vector<std::string> args(positional.begin() + 1, positional.end());
  // `pki revoke` calls topologyd; the rest of pki works on files.
  if (!args.empty() && args[0] == "pki" &&
      !(args.size() >= 2 && args[1] == "revoke")) {
    cascade::relayctl::PkiOptions pki;
    pki.out = absl::GetFlag(FLAGS_out);
    pki.ca = absl::GetFlag(FLAGS_ca);
    pki.force = absl::GetFlag(FLAGS_force);
    pki.operator_name = absl::GetFlag(FLAGS_operator);
    pki.role = absl::GetFlag(FLAGS_role);
    pki.name = absl::GetFlag(FLAGS_name);
    pki.dns = absl::GetFlag(FLAGS_dns);
    pki.ip = absl::GetFlag(FLAGS_ip);
    pki.days = absl::GetFlag(FLAGS_days);
    pki.json = absl::GetFlag(FLAGS_json);
    return cascade::relayctl::RunPki(pki, args, std::cout, std::cerr);
  }
  // `stream-key add` works on a file; `stream-key rotate` calls topologyd.
  if (!args.empty() && args[0] == "stream-key" &&
      !(args.size() >= 2 && args[1] == "rotate")) {
    return cascade::relayctl::RunStreamKey(args, absl::GetFlag(FLAGS_json),
                                           std::cout, std::cerr);
  }
  if (!args.empty() && args[0] == "render") {
    cascade::relayctl::RenderOptions render;
    render.topology = absl::GetFlag(FLAGS_topology);
    if (Given(argc, argv, "--controller")) {
      render.controller = absl::GetFlag(FLAGS_controller);
    }
    render.out = absl::GetFlag(FLAGS_out);
    render.ca = absl::GetFlag(FLAGS_ca);
    render.certs_dir = absl::GetFlag(FLAGS_certs_dir);
    render.all = absl::GetFlag(FLAGS_all);
    render.force = absl::GetFlag(FLAGS_force);
    render.json = absl::GetFlag(FLAGS_json);
    render.ansible_inventory = absl::GetFlag(FLAGS_ansible_inventory);
    return cascade::relayctl::RunRender(render, args, std::cout, std::cerr);
  }
  if (args.size() >= 2 && args[0] == "token" && args[1] == "issue") {
    cascade::relayctl::TokenOptions token;
    token.operator_name = absl::GetFlag(FLAGS_operator);
    token.role = absl::GetFlag(FLAGS_role);
    token.ttl = absl::GetFlag(FLAGS_ttl);
    token.ca = absl::GetFlag(FLAGS_ca);
    token.out = absl::GetFlag(FLAGS_out);
    token.force = absl::GetFlag(FLAGS_force);
    token.json = absl::GetFlag(FLAGS_json);
    return cascade::relayctl::RunTokenIssue(token, args, std::cout, std::cerr);
  }

  cascade::relayctl::Options options;
  options.controller = absl::GetFlag(FLAGS_controller);
  options.json = absl::GetFlag(FLAGS_json);
  options.timeout = absl::GetFlag(FLAGS_timeout);
  options.wait = absl::GetFlag(FLAGS_wait);
  options.parent = absl::GetFlag(FLAGS_parent);
  options.policy = absl::GetFlag(FLAGS_policy);
  options.count = absl::GetFlag(FLAGS_count);
  if (options.count < 0) return UsageError("--count must not be negative");
  if (absl::GetFlag(FLAGS_history) < 0) {
    return UsageError("--history must not be negative");
  }
  options.history = static_cast<uint32_t>(absl::GetFlag(FLAGS_history));
  options.operator_name = absl::GetFlag(FLAGS_operator);
  options.serial = absl::GetFlag(FLAGS_serial);
  options.out = absl::GetFlag(FLAGS_out);
  options.publish = absl::GetFlag(FLAGS_publish);
  options.center = absl::GetFlag(FLAGS_center);
  options.ttl = absl::GetFlag(FLAGS_ttl);
  options.controller_metrics = absl::GetFlag(FLAGS_controller_metrics);
  options.scrape_interval = absl::GetFlag(FLAGS_scrape_interval);
  options.rules = absl::GetFlag(FLAGS_rules);
  std::string error;
  // A signed token or the legacy shared one: both are a bearer credential.
  std::string token_flag = "--token-file";
  std::string token_file = absl::GetFlag(FLAGS_token_file);
  if (!absl::GetFlag(FLAGS_admin_token_file).empty()) {
    if (!token_file.empty()) {
      return UsageError("--token-file and --admin-token-file: give one");
    }
    token_flag = "--admin-token-file";
    token_file = absl::GetFlag(FLAGS_admin_token_file);
  }
  if (!token_file.empty()) {
    if (!cascade::ReadFlagFile(token_flag, token_file, &options.admin_token,
                               &error)) {
      return UsageError(error);
    }
    options.admin_token =
        std::string(absl::StripAsciiWhitespace(options.admin_token));
    if (options.admin_token.empty()) {
      return UsageError(
          absl::StrCat(token_flag, ": ", token_file, " is empty"));
    }
  }
  const cascade::control::TlsClientFiles tls = {absl::GetFlag(FLAGS_tls_ca),
                                                absl::GetFlag(FLAGS_tls_cert),
                                                absl::GetFlag(FLAGS_tls_key)};
  absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> credentials =
      cascade::control::ClientCredentials(tls);
  if (!credentials.ok()) {
    return UsageError(std::string(credentials.status().message()));
  }
  options.credentials = *std::move(credentials);
  // Whoever sees a bearer token can use it until it expires.
  if (!options.admin_token.empty() && options.credentials == nullptr &&
      !absl::GetFlag(FLAGS_insecure)) {
    return UsageError(absl::StrCat(
        token_flag,
        ": refusing to send a token over plaintext: give --tls-ca (TLS), or "
        "--insecure to send it in clear"));
  }
  // A missing or unknown command is Run's usage error: it calls no one.
  const bool known = !args.empty() &&
                     (cascade::relayctl::IsCommand(args[0]) ||
                      (args.size() >= 2 &&
                       cascade::relayctl::IsCommand(args[0] + " " + args[1])));
  if (options.credentials == nullptr && !absl::GetFlag(FLAGS_insecure) &&
      known) {
    return UsageError(
        "refusing to talk to the controller in plaintext: give --tls-ca (and "
        "--tls-cert/--tls-key for mutual TLS), or --insecure for a test bed");
  }
  if (options.credentials != nullptr && absl::GetFlag(FLAGS_insecure)) {
    return UsageError(
        "--insecure talks plaintext: it does not go with --tls-ca");
  }
  options.handshake_hint = cascade::control::HandshakeHint(tls);
  return cascade::relayctl::Run(options, args, std::cout, std::cerr);
}
