#include "tools/relayctl/pki.h"

#include <ostream>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "google/protobuf/struct.pb.h"
#include "security/identity.h"
#include "security/pki.h"
#include "security/pki_files.h"
#include "tools/relayctl/json_line.h"
#include "tools/relayctl/relayctl.h"

namespace cascade::relayctl {
namespace {

using security::Credentials;
using security::Identity;
using security::IdentityKind;

constexpr char kInitUsage[] = "pki init [NAME] --out=DIR [--days=N] [--force]";
constexpr char kIssueNodeUsage[] =
    "pki issue NODE [NODE...] --ca=DIR --out=DIR [--name=FILE] "
    "[--dns=NAME,...] [--ip=ADDRESS,...] [--days=N] [--force]";
constexpr char kIssueOperatorUsage[] =
    "pki issue --operator=NAME --role=viewer|operator|admin --ca=DIR "
    "--out=DIR [--days=N] [--force]";

class Pki {
 public:
  Pki(const PkiOptions& options, std::ostream& out, std::ostream& err)
      : options_(options), out_(out), err_(err) {}

  int Run(const std::vector<std::string>& args) {
    if (args.size() < 2) {
      return Fail("pki", kExitUsage,
                  "needs init or issue (relayctl pki --help)");
    }
    if (options_.days < 0) {
      return Fail("pki", kExitUsage, "--days must not be negative");
    }
    const std::vector<std::string> operands(args.begin() + 2, args.end());
    if (args[1] == "init") return Init(operands);
    if (args[1] == "issue") return IssueCommand(operands);
    return Fail(
        "pki", kExitUsage,
        absl::StrCat("unknown subcommand \"", args[1], "\" (init or issue)"));
  }

 private:
  int Init(const std::vector<std::string>& operands) {
    command_ = "pki init";
    if (operands.size() > 1 || options_.out.empty()) {
      return Fail(command_, kExitUsage,
                  absl::StrCat("usage: relayctl ", kInitUsage));
    }
    if (!options_.ca.empty() || !options_.operator_name.empty() ||
        !options_.role.empty() || !options_.name.empty() ||
        !options_.dns.empty() || !options_.ip.empty()) {
      return Fail(command_, kExitUsage,
                  "takes only NAME, --out, --days and --force");
    }
    security::CaOptions ca;
    if (!operands.empty()) ca.name = operands[0];
    if (options_.days > 0) ca.validity = absl::Hours(24) * options_.days;
    absl::StatusOr<Credentials> made = security::MakeCa(ca);
    if (!made.ok())
      return Fail(command_, ExitCode(made.status()), made.status());
    return Write(security::kCaName, *made,
                 absl::StrCat("CA \"Cascade CA ", ca.name, "\""),
                 ca.now + ca.validity);
  }

  int IssueCommand(const std::vector<std::string>& operands) {
    command_ = "pki issue";
    const bool is_operator = !options_.operator_name.empty();
    if ((is_operator ? !operands.empty() : operands.empty()) ||
        options_.out.empty() || options_.ca.empty()) {
      return Fail(command_, kExitUsage,
                  absl::StrCat("usage: relayctl ", kIssueNodeUsage,
                               ", or relayctl ", kIssueOperatorUsage));
    }
    security::IssueOptions issue;
    if (is_operator) {
      if (!options_.dns.empty() || !options_.ip.empty()) {
        return Fail(command_, kExitUsage,
                    "--dns and --ip are for nodes, not operators");
      }
      absl::StatusOr<security::Role> role = security::ParseRole(options_.role);
      if (!role.ok()) {
        return Fail(command_, kExitUsage,
                    options_.role.empty()
                        ? std::string("--operator needs --role=viewer, "
                                      "operator or admin")
                        : absl::StrCat("--role: ", role.status().message()));
      }
      if (!options_.name.empty()) {
        return Fail(command_, kExitUsage,
                    "--name is for nodes; an operator's files are named "
                    "after the operator");
      }
      issue.identity = {IdentityKind::kOperator, options_.operator_name, *role};
    } else {
      if (!options_.role.empty()) {
        return Fail(command_, kExitUsage,
                    "--role is for operators (--operator=NAME); a node has "
                    "none");
      }
      issue.identity = {
          IdentityKind::kNode, operands[0], security::Role::kNone,
          std::vector<std::string>(operands.begin() + 1, operands.end())};
      issue.dns_names = options_.dns;
      issue.ip_addresses = options_.ip;
    }
    if (absl::Status valid = security::ValidateIdentity(issue.identity);
        !valid.ok()) {
      return Fail(command_, kExitUsage, valid);
    }
    if (options_.days > 0) issue.validity = absl::Hours(24) * options_.days;
    absl::StatusOr<Credentials> ca =
        security::ReadCredentials(options_.ca, security::kCaName);
    if (!ca.ok()) {
      return Fail(command_, ExitCode(ca.status()),
                  absl::StrCat("--ca: ", ca.status().message(),
                               " (relayctl pki init --out=DIR makes a CA)"));
    }
    absl::StatusOr<Credentials> issued = security::Issue(*ca, issue);
    if (!issued.ok()) {
      return Fail(command_, ExitCode(issued.status()), issued.status());
    }
    return Write(options_.name.empty() ? issue.identity.name : options_.name,
                 *issued, security::Describe(issue.identity),
                 issue.now + issue.validity);
  }

  int Write(const std::string& name, const Credentials& credentials,
            const std::string& what, absl::Time not_after) {
    absl::Status written = security::WriteCredentials(
        options_.out, name, credentials, options_.force);
    if (!written.ok()) {
      return Fail(
          command_, ExitCode(written),
          absl::IsAlreadyExists(written)
              ? absl::StrCat(written.message(), " (--force replaces it)")
              : std::string(written.message()));
    }
    const security::CredentialFiles files =
        security::FilesOf(options_.out, name);
    const std::string until =
        absl::FormatTime("%Y-%m-%d %H:%M UTC", not_after, absl::UTCTimeZone());
    if (options_.json) {
      google::protobuf::Struct result;
      auto& fields = *result.mutable_fields();
      fields["what"].set_string_value(what);
      fields["certificate"].set_string_value(files.certificate);
      fields["key"].set_string_value(files.key);
      fields["not_after"].set_string_value(absl::FormatTime(
          "%Y-%m-%dT%H:%M:%SZ", not_after, absl::UTCTimeZone()));
      PrintJsonLine(result, out_);
    } else {
      out_ << "wrote " << files.certificate << " and " << files.key
           << " (key mode 0600): " << what << ", valid until " << until << "\n";
    }
    return kExitDone;
  }

  static int ExitCode(const absl::Status& status) {
    switch (status.code()) {
      case absl::StatusCode::kNotFound:
        return kExitNotFound;
      case absl::StatusCode::kAlreadyExists:
        return kExitRefused;
      case absl::StatusCode::kInvalidArgument:
        return kExitUsage;
      default:
        return kExitFailed;
    }
  }

  int Fail(const std::string& command, int code, const absl::Status& status) {
    return Fail(command, code, std::string(status.message()));
  }
  int Fail(const std::string& command, int code, const std::string& message) {
    err_ << "relayctl: " << command << ": " << message << "\n";
    return code;
  }

  const PkiOptions& options_;
  std::ostream& out_;
  std::ostream& err_;
  std::string command_;
};

}  // namespace

int RunPki(const PkiOptions& options, const std::vector<std::string>& args,
           std::ostream& out, std::ostream& err) {
  return Pki(options, out, err).Run(args);
}

std::string PkiSummary() {
  return absl::StrCat("  ", kInitUsage, "\n  ", kIssueNodeUsage, "\n  ",
                      kIssueOperatorUsage, "\n");
}

std::string PkiHelp() {
  return absl::StrCat(
      "usage: relayctl ", kInitUsage, "\n       relayctl ", kIssueNodeUsage,
      "\n       relayctl ", kIssueOperatorUsage,
      "\n\n"
      "A small PKI for mutual TLS between topologyd, relayd and relayctl "
      "(docs/security.md). Keys are EC P-256; keys are written mode 0600, "
      "certificates 0644; existing files are kept unless --force.\n\n"
      "init makes a CA in --out: ca.pem (give it to every process as "
      "--tls-ca, and to topologyd as --tls-client-ca) and ca.key (keep it "
      "offline). Subject \"Cascade CA NAME\" (NAME: cascade), valid 10 years "
      "(--days).\n\n"
      "issue NODE writes NODE.pem and NODE.key in --out, signed by the CA in "
      "--ca: identity spiffe://cascade/node/NODE, for relayd --id=NODE (and "
      "for topologyd itself: give it a node name and the --dns/--ip names "
      "clients dial, e.g. --ip=127.0.0.1). topologyd accepts a relay only "
      "for the node its certificate names. --dns and --ip take several "
      "names, comma-separated or repeated. Valid 1 year (--days).\n\n"
      "issue NODE NODE... writes one certificate for several nodes (one URI "
      "SAN each), named after the first NODE or --name: for a relayd "
      "running them all (--relays), whose relays then share one "
      "connection to topologyd.\n\n"
      "issue --operator=NAME --role=ROLE writes NAME.pem and NAME.key: "
      "identity spiffe://cascade/operator/NAME with ROLE (viewer, operator "
      "or admin) in the subject's OU, for relayctl --tls-cert/--tls-key.\n\n"
      "Exit codes: 0 written, 2 usage (also an invalid name or address), 3 "
      "no CA in --ca, 4 a file exists (--force replaces it), 1 failed.\n");
}

}  // namespace cascade::relayctl
