#include "topology/admin_gate.h"

#include <glog/logging.h>
#include <openssl/crypto.h>

#include <cmath>
#include <cstdint>
#include <optional>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "control/controllers.h"
#include "topology/peer_identity.h"
#include "topology/roles.h"
#include "topology/service.h"

namespace cascade::topology {
namespace {

// Budgets of callers not heard from for this long are dropped once there
// are more than kMaxBudgets (callers without an identity are keyed by
// their host, so there can be many).
constexpr size_t kMaxBudgets = 10000;
constexpr absl::Duration kIdleBudget = absl::Minutes(10);

// gRPC's peer ("ipv4:10.0.0.9:53211", "ipv6:[::1]:53211") without its
// port: a caller without an identity is known by its host.
std::string PeerHost(const std::string& peer) {
  const size_t colon = peer.rfind(':');
  if (colon == std::string::npos || colon + 1 == peer.size()) return peer;
  for (size_t i = colon + 1; i < peer.size(); ++i) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(peer[i]))) return peer;
  }
  return peer.substr(0, colon);
}

// The console (console/server.h) calls in-process on a browser's behalf,
// and names the browser's address and the certificate its TLS handshake
// verified. Only an in-process caller can: its peer is "unknown" to gRPC,
// a network caller's is always its address.
bool InProcess(const grpc::ServerContextBase& context) {
  const std::string peer = context.peer();
  return peer == "unknown" || absl::StartsWith(peer, "inproc");
}

// Who the client certificate names: the TLS handshake's, or the console's
// browser's.
absl::StatusOr<security::CertificateInfo> CertificateOf(
    const grpc::ServerContextBase& context) {
  if (!InProcess(context)) return PeerCertificate(context);
  const auto& metadata = context.client_metadata();
  auto forwarded = metadata.find(kConsoleCertificateMetadata);
  if (forwarded == metadata.end()) {
    return absl::UnauthenticatedError("no client certificate");
  }
  return VerifiedCertificate(
      absl::string_view(forwarded->second.data(), forwarded->second.size()));
}

// Where the call comes from: for the console, its browser.
std::string Peer(const grpc::ServerContextBase& context) {
  std::string peer = context.peer();
  if (!InProcess(context)) return peer;
  const auto& metadata = context.client_metadata();
  auto console = metadata.find(kConsolePeerMetadata);
  if (console == metadata.end()) return peer;
  return absl::StrCat("console ", absl::string_view(console->second.data(),
                                                    console->second.size()));
}

bool ConstantTimeEquals(absl::string_view a, absl::string_view b) {
  return a.size() == b.size() &&
         CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace

struct AdminGate::Caller {
  // Not OK: refused for who it is (UNAUTHENTICATED, PERMISSION_DENIED).
  absl::Status status;
  security::Role role = security::Role::kNone;
  // Whose budget the call is taken from.
  std::string key;
  // Who, how known, from where.
  cascade::v1::AuditRecord audit;
  // A token's claims, or the certificate, to check against revocations.
  std::optional<security::Token> token;
  std::optional<security::CertificateInfo> certificate;

  void Operator(const std::string& name, security::Role r,
                const std::string& credential) {
    role = r;
    key = "operator " + name;
    security::Identity identity;
    identity.kind = security::IdentityKind::kOperator;
    identity.name = name;
    identity.role = r;
    audit.set_who(security::Describe(identity));
    audit.set_operator_(name);
    audit.set_role(std::string(security::RoleName(r)));
    audit.set_credential(credential);
  }
  void Refused(absl::Status why) {
    status = std::move(why);
    role = security::Role::kNone;
  }
};

AdminGate::AdminGate(AdminGateOptions options) : options_(std::move(options)) {}

AdminGate::Caller AdminGate::Identify(
    const grpc::ServerContextBase& context) const {
  Caller caller;
  const auto& metadata = context.client_metadata();
  const std::string peer = Peer(context);
  caller.audit.set_peer(peer);
  caller.key = PeerHost(peer);
  caller.audit.set_who("unknown caller");
  caller.audit.set_credential("none");
  auto authorization = metadata.find("authorization");
  if (authorization != metadata.end()) {
    absl::string_view value(authorization->second.data(),
                            authorization->second.size());
    if (!absl::ConsumePrefix(&value, "Bearer ")) {
      caller.Refused(
          absl::UnauthenticatedError("authorization must be \"Bearer TOKEN\""));
      return caller;
    }
    if (security::LooksLikeToken(value)) {
      if (options_.tokens == nullptr) {
        caller.Refused(absl::UnauthenticatedError(
            "this controller checks no tokens: it runs without "
            "--tls-client-ca"));
        return caller;
      }
      security::Token token;
      absl::Status verified =
          options_.tokens->Verify(value, absl::Now(), &token);
      if (!token.operator_name.empty()) {
        caller.Operator(token.operator_name, token.role, "token " + token.id);
        caller.token = std::move(token);
      }
      if (!verified.ok()) caller.Refused(std::move(verified));
      return caller;
    }
    if (!options_.shared_token.empty() &&
        ConstantTimeEquals(value, options_.shared_token)) {
      caller.role = security::Role::kAdmin;
      caller.key = "admin token";
      caller.audit.set_who("the admin token");
      caller.audit.set_role("admin");
      caller.audit.set_credential("admin token");
      return caller;
    }
    caller.Refused(options_.shared_token.empty()
                       ? absl::UnauthenticatedError(
                             "not a signed token (relayctl token issue), and "
                             "this controller has no admin token")
                       : absl::PermissionDeniedError("wrong admin token"));
    return caller;
  }
  if (options_.client_certificates) {
    absl::StatusOr<security::CertificateInfo> certificate =
        CertificateOf(context);
    if (!certificate.ok()) {
      caller.Refused(
          absl::IsUnauthenticated(certificate.status())
              ? absl::UnauthenticatedError("no client certificate and no token")
              : certificate.status());
      return caller;
    }
    const security::Identity& identity = certificate->identity;
    if (identity.kind == security::IdentityKind::kNode) {
      caller.key = "node " + identity.name;
      caller.audit.set_who(security::Describe(identity));
      caller.audit.set_credential("certificate");
      caller.Refused(CheckOperator(identity));
    } else {
      caller.Operator(identity.name, identity.role, "certificate");
      caller.certificate = *std::move(certificate);
    }
    return caller;
  }
  if (!options_.shared_token.empty()) {
    caller.Refused(absl::UnauthenticatedError(
        "admin token required (authorization: Bearer ...)"));
    return caller;
  }
  // Nothing configured: Admin is open (docs/security.md says why not to).
  caller.role = security::Role::kAdmin;
  caller.audit.set_who("anyone (Admin is open)");
  return caller;
}

grpc::Status AdminGate::Admit(ControllerService* service,
                              grpc::CallbackServerContext* context,
                              absl::string_view method,
                              const std::string& target,
                              cascade::v1::AuditRecord* audit) {
  const AdminRpc* rpc = FindAdminRpc(method);
  CHECK(rpc != nullptr) << "Admin." << method << " has no role (roles.cc)";
  Caller caller = Identify(*context);
  // A follower records nothing; a caller it would refuse anyway hears why
  // rather than where the leader is.
  grpc::Status serving = service->Serving(context);
  if (!serving.ok()) {
    return caller.status.ok() ? serving : ToGrpcStatus(caller.status);
  }
  const absl::Time now = absl::Now();
  if (!AllowCall(caller.key, now)) {
    LOG_EVERY_N(WARNING, 1000)
        << "Admin calls of " << caller.key << " rate limited";
    // The bucket holds a call again within one call's worth of its rate.
    context->AddTrailingMetadata(control::kRetryAfterMetadata,
                                 absl::StrCat(static_cast<int64_t>(std::ceil(
                                     1000.0 / options_.calls_per_second))));
    return grpc::Status(
        grpc::StatusCode::RESOURCE_EXHAUSTED,
        absl::StrCat("rate limited: ", caller.audit.who(), " made more than ",
                     options_.calls_per_second,
                     " Admin calls a second; retry later"));
  }
  Controller* controller = service->controller();
  if (caller.status.ok() && caller.token.has_value() &&
      controller->TokenRevoked(caller.token->operator_name, caller.token->id,
                               caller.token->issued)) {
    caller.Refused(absl::UnauthenticatedError(
        absl::StrCat("token ", caller.token->id, " of operator ",
                     caller.token->operator_name, " was revoked")));
  }
  if (caller.status.ok() && caller.certificate.has_value()) {
    if (absl::Status revoked =
            CheckNotRevoked(*controller, *caller.certificate);
        !revoked.ok()) {
      caller.Refused(std::move(revoked));
    }
  }
  if (caller.status.ok()) caller.status = CheckRole(caller.role, *rpc);
  *audit = std::move(caller.audit);
  audit->set_call(std::string(rpc->method));
  audit->set_command(std::string(rpc->command));
  audit->set_target(target);
  if (caller.status.ok()) return grpc::Status::OK;
  audit->set_refused(std::string(caller.status.message()));
  uint32_t unjournaled = 0;
  const bool journal = AllowJournal(caller.key, now, &unjournaled);
  audit->set_unjournaled(unjournaled);
  controller->RecordAdminRefusal(*audit, journal);
  return ToGrpcStatus(caller.status);
}

AdminGate::Budget& AdminGate::BudgetLocked(const std::string& key,
                                           absl::Time now) {
  auto it = budgets_.find(key);
  if (it == budgets_.end()) {
    if (budgets_.size() >= kMaxBudgets) {
      absl::erase_if(budgets_, [now](const auto& entry) {
        return now - entry.second.last > kIdleBudget;
      });
    }
    it = budgets_
             .try_emplace(
                 key,
                 Budget{TokenBucket(options_.calls_per_second, options_.burst),
                        TokenBucket(options_.refusals_journaled_per_second,
                                    options_.refusals_journaled_burst),
                        0, now})
             .first;
  }
  it->second.last = now;
  return it->second;
}

bool AdminGate::AllowCall(const std::string& key, absl::Time now) {
  absl::MutexLock lock(&mu_);
  return BudgetLocked(key, now).calls.Allow(now);
}

bool AdminGate::AllowJournal(const std::string& key, absl::Time now,
                             uint32_t* unjournaled) {
  absl::MutexLock lock(&mu_);
  Budget& budget = BudgetLocked(key, now);
  if (!budget.journal.Allow(now)) {
    ++budget.unjournaled;
    *unjournaled = 0;
    return false;
  }
  *unjournaled = budget.unjournaled;
  budget.unjournaled = 0;
  return true;
}

}  // namespace cascade::topology
