// Who calls Admin, and whether they may make this call: the gate every
// Admin RPC passes (admin_service.cc), topologyd's console's requests
// included (in-process calls, console/server.h). A caller is known by
//   - a signed token (`authorization: Bearer ct1....`, security/token.h),
//     checked against the client CA and the revocations in the state;
//   - else its client certificate (an operator's, with its role);
//   - else the legacy shared admin token (role admin);
//   - else, with no authentication configured at all, anyone (role admin).
// Its role must be at least the call's (roles.h). Each caller (operator,
// node, or peer host when unknown) has its own token bucket of calls; a
// caller over it is refused RESOURCE_EXHAUSTED, unrecorded. A refusal for
// who the caller is or what it may do is a KIND_DENIED event and is
// journaled, within a bucket of its own per caller (the journal, and the
// disk behind it, are shared by everyone).
#ifndef CASCADE_TOPOLOGY_ADMIN_GATE_H_
#define CASCADE_TOPOLOGY_ADMIN_GATE_H_

#include <grpcpp/grpcpp.h>

#include <cstdint>
#include <memory>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "base/token_bucket.h"
#include "proto/controller.pb.h"
#include "security/token.h"

namespace cascade::topology {

class ControllerService;

// Metadata an in-process caller (topologyd's console) sets for the browser
// it calls for: its address (the audit's "from where", and the budget of a
// caller without an identity), and the client certificate (PEM) its TLS
// handshake verified, taken as a client certificate of this call's.
inline constexpr char kConsolePeerMetadata[] = "cascade-console-peer";
inline constexpr char kConsoleCertificateMetadata[] =
    "cascade-console-certificate-bin";

struct AdminGateOptions {
  // The legacy shared admin token (--admin-token-file); empty: none.
  std::string shared_token;
  // Callers present client certificates (mutual TLS).
  bool client_certificates = false;
  // Checks signed tokens; null: none is accepted.
  std::shared_ptr<const security::TokenVerifier> tokens;
  // Admin calls per second per caller, and the burst allowed.
  double calls_per_second = 100;
  double burst = 500;
  // Refusals journaled per second per caller, and the burst; the rest are
  // events only, counted in the next one journaled.
  double refusals_journaled_per_second = 1;
  double refusals_journaled_burst = 5;
};

class AdminGate {
 public:
  explicit AdminGate(AdminGateOptions options);

  // OK when the caller may call `method` (an Admin RPC) on `target` (what
  // it acts on, for the audit; may be empty); `*audit` then says who, from
  // where, what. Otherwise the status to finish the call with. A follower
  // only refuses (naming the leader), records nothing.
  grpc::Status Admit(ControllerService* service,
                     grpc::CallbackServerContext* context,
                     absl::string_view method, const std::string& target,
                     cascade::v1::AuditRecord* audit);

 private:
  struct Caller;
  struct Budget {
    TokenBucket calls;
    TokenBucket journal;
    uint32_t unjournaled = 0;
    absl::Time last;
  };

  Caller Identify(const grpc::ServerContextBase& context) const;
  // Takes one call from `key`'s bucket; false when it is empty.
  bool AllowCall(const std::string& key, absl::Time now);
  // Whether a refusal of `key` is journaled now; `*unjournaled` gets the
  // refusals left out since the last one that was (and is reset).
  bool AllowJournal(const std::string& key, absl::Time now,
                    uint32_t* unjournaled);
  Budget& BudgetLocked(const std::string& key, absl::Time now)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const AdminGateOptions options_;
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, Budget> budgets_ ABSL_GUARDED_BY(mu_);
};

}  // namespace cascade::topology

#endif  // CASCADE_TOPOLOGY_ADMIN_GATE_H_
