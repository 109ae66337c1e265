#include "tools/relayctl/token.h"

#include <sys/stat.h>

#include <ostream>

#include "absl/strings/str_cat.h"
#include "base/files.h"
#include "google/protobuf/struct.pb.h"
#include "security/identity.h"
#include "security/pki_files.h"
#include "security/token.h"
#include "tools/relayctl/commands.h"
#include "tools/relayctl/json_line.h"
#include "tools/relayctl/relayctl.h"

namespace cascade::relayctl {
namespace {

constexpr char kIssueUsage[] =
    "token issue --operator=NAME --role=viewer|operator|admin --ttl=D "
    "--ca=DIR [--out=FILE] [--force]";

int Fail(std::ostream& err, int code, absl::string_view message) {
  err << "relayctl: token issue: " << message << "\n";
  return code;
}

std::string Utc(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", t, absl::UTCTimeZone());
}

}  // namespace

int RunTokenIssue(const TokenOptions& options,
                  const std::vector<std::string>& args, std::ostream& out,
                  std::ostream& err) {
  if (args.size() != 2 || options.operator_name.empty() || options.ca.empty() ||
      options.ttl == absl::ZeroDuration()) {
    return Fail(err, kExitUsage, absl::StrCat("usage: relayctl ", kIssueUsage));
  }
  absl::StatusOr<security::Role> role = security::ParseRole(options.role);
  if (!role.ok()) {
    return Fail(err, kExitUsage,
                absl::StrCat("--role: ", role.status().message()));
  }
  security::Token token;
  token.operator_name = options.operator_name;
  token.role = *role;
  token.issued = absl::Now();
  token.expires = token.issued + options.ttl;
  absl::StatusOr<security::Credentials> ca =
      security::ReadCredentials(options.ca, security::kCaName);
  if (!ca.ok()) {
    return Fail(err,
                absl::IsNotFound(ca.status()) ? kExitNotFound : kExitFailed,
                absl::StrCat("--ca: ", ca.status().message(),
                             " (relayctl pki init --out=DIR makes a CA)"));
  }
  absl::StatusOr<std::string> minted = security::MintToken(*ca, token);
  if (!minted.ok()) {
    return Fail(
        err,
        absl::IsInvalidArgument(minted.status()) ? kExitUsage : kExitFailed,
        minted.status().message());
  }
  absl::StatusOr<security::Token> made = security::ParseToken(*minted);
  if (!made.ok()) return Fail(err, kExitFailed, made.status().message());
  if (!options.out.empty()) {
    struct stat st;
    if (!options.force && lstat(options.out.c_str(), &st) == 0) {
      return Fail(err, kExitRefused,
                  absl::StrCat(options.out, " exists (--force replaces it)"));
    }
    if (absl::Status written =
            WriteFileAtomically(options.out, *minted + "\n", 0600);
        !written.ok()) {
      return Fail(err, kExitFailed, written.message());
    }
  }
  security::Identity identity;
  identity.kind = security::IdentityKind::kOperator;
  identity.name = made->operator_name;
  identity.role = made->role;
  const std::string what =
      absl::StrCat("token ", made->id, " for ", security::Describe(identity),
                   ", valid until ", Utc(made->expires));
  if (options.json) {
    google::protobuf::Struct result;
    auto& fields = *result.mutable_fields();
    fields["operator"].set_string_value(made->operator_name);
    fields["role"].set_string_value(
        std::string(security::RoleName(made->role)));
    fields["token_id"].set_string_value(made->id);
    fields["expires"].set_string_value(Utc(made->expires));
    if (options.out.empty()) {
      fields["token"].set_string_value(*minted);
    } else {
      fields["file"].set_string_value(options.out);
    }
    PrintJsonLine(result, out);
  } else if (options.out.empty()) {
    // The token alone on standard output (for a redirect), what it is on
    // standard error.
    out << *minted << "\n";
    err << "relayctl: " << what << "\n";
  } else {
    out << "wrote " << options.out << " (mode 0600): " << what << "\n";
  }
  return kExitDone;
}

std::string TokenSummary() { return absl::StrCat("  ", kIssueUsage, "\n"); }

std::string TokenHelp() {
  const Command& revoke = Commands().at("token revoke");
  return absl::StrCat(
      "usage: relayctl ", kIssueUsage,
      "\n       relayctl [--controller=...] token revoke ", revoke.usage,
      "\n\n"
      "issue mints a bearer token for operator NAME with ROLE (viewer, "
      "operator or admin), valid for --ttl (e.g. 8h, at most 366 days), "
      "signed with the CA's key in --ca (no controller needed; "
      "docs/security.md). It goes to --out (mode 0600; an existing file is "
      "kept unless --force), or to standard output. Give it to relayctl as "
      "--token-file=FILE: it is sent as 'authorization: Bearer ...', over "
      "TLS only (--tls-ca; --insecure sends it in clear). topologyd checks "
      "it against its --tls-client-ca; with --client-cert=optional a token "
      "needs no client certificate. The token's id is printed: keep it to "
      "revoke this one token.\n\n"
      "revoke: ",
      revoke.help,
      "\n\n"
      "Exit codes (issue): 0 written, 2 usage (also an invalid name, role or "
      "lifetime), 3 no CA in --ca, 4 --out exists, 1 failed. revoke: as "
      "every Admin command (6: the caller is not an admin).\n");
}

}  // namespace cascade::relayctl
