// Leader election among controllers through an etcd lease.
//
// Each contender holds a lease of `ttl` and keeps it alive (every ttl/3).
// It campaigns with one transaction: if the leader key does not exist
// (create_revision 0), put it with this contender's address, attached to its
// lease; otherwise read who holds it. The winner's term is the key's
// create_revision: EtcdStore fences every write on it. Everyone then
// watches the key (a Watch, never a polling loop): followers campaign again
// when it is deleted (the leader resigned, or its lease expired because it
// died or lost etcd); the leader steps down when its own key goes.
//
// A leader that cannot reach etcd cannot learn that its lease expired
// there, so it counts for itself: its term ends once a lease's TTL has
// passed since the last keep-alive etcd answered was sent. etcd counts the
// same TTL from a later instant (when it received that keep-alive), so the
// old leader stops before etcd lets anyone else win.
//
// Each contender may also keep a member key (member_prefix + its address)
// under the same lease, written by every campaign: the group as etcd knows
// it, e.g. each controller's console URL, which a follower's console names
// for the leader's and a page uses to find the new leader.
//
// Real time throughout: the lease runs on etcd's clock, which a fake clock
// cannot move.
#ifndef CASCADE_TOPOLOGY_ETCD_LEADER_H_
#define CASCADE_TOPOLOGY_ETCD_LEADER_H_

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "topology/etcd/etcd_client.h"

namespace cascade::topology::etcd {

struct LeaderElectionOptions {
  // Whoever holds this key leads.
  std::string key = "/cascade/leader";
  // This contender's address as followers should reach it (the admin API's
  // host:port): the value of the key while it leads.
  std::string address;
  // Lease TTL, in whole seconds as etcd counts them (at least 1; etcd may
  // grant more). A dead leader is replaced within about this long.
  absl::Duration ttl = absl::Seconds(5);
  // Pause before retrying a failed etcd call.
  absl::Duration retry_delay = absl::Milliseconds(200);
  // When not empty: kept at member_prefix + address under this contender's
  // lease (gone with it). An empty member_prefix is key + "/members/".
  std::string member_value;
  std::string member_prefix;
};

struct LeaderStatus {
  // This contender leads: it holds the key and its lease has not lapsed.
  bool leading = false;
  // The leader's address; empty when none is known.
  std::string leader;
  // The last leader other than this contender that it saw (kept after that
  // leader is gone); empty: none.
  std::string previous_leader;
  // The leader key's create_revision: the term, for EtcdStore's fence.
  int64_t term = 0;
  // How many times this contender was elected.
  int64_t terms_won = 0;
  // Why this contender's last term ended; empty if none did.
  std::string last_loss;
  // This contender's current lease (0: none).
  int64_t lease_id = 0;
};

class LeaderListener {
 public:
  virtual ~LeaderListener() = default;
  // Every change of the status. Called from the election's thread with no
  // lock held; must not call Resign().
  virtual void OnLeaderStatus(const LeaderStatus& status) = 0;
};

class LeaderElection {
 public:
  // `client` and `listener` (may be null) must outlive the election.
  LeaderElection(EtcdClient* client, LeaderElectionOptions options,
                 LeaderListener* listener = nullptr);
  ~LeaderElection();  // Resign()s
  LeaderElection(const LeaderElection&) = delete;
  LeaderElection& operator=(const LeaderElection&) = delete;

  // Starts campaigning in the background. Call once.
  void Start();
  // Steps down: stops campaigning and revokes the lease, which deletes the
  // leader key, so a follower takes over at once. Idempotent.
  void Resign();

  LeaderStatus Status() const;
  // The members' values by address, as etcd holds them now (one Range).
  absl::StatusOr<std::map<std::string, std::string>> Members() const;
  // Waits (bounded) until `check` holds for the status.
  bool WaitFor(const std::function<bool(const LeaderStatus&)>& check,
               absl::Duration timeout) const;

 private:
  void Campaign();
  void KeepAlive();
  // The lease to campaign with, granted if need be; 0 after a failure.
  int64_t EnsureLease();
  // Blocks until the leader key (created at `term`) is gone, this
  // contender's lease lapses, or Resign(). Returns why it returned.
  std::string WaitForKeyGone(int64_t from_revision, int64_t term);
  void SetStatus(const std::function<void(LeaderStatus*)>& update);
  void LoseLeaseLocked(std::string reason) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  LeaderStatus StatusLocked() const ABSL_SHARED_LOCKS_REQUIRED(mu_);
  // Sleeps retry_delay unless Resign() comes first.
  void Pause();

  EtcdClient* const client_;
  const LeaderElectionOptions options_;
  const std::string member_prefix_;
  LeaderListener* const listener_;

  mutable absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  LeaderStatus status_ ABSL_GUARDED_BY(mu_);
  // Set when the lease is known (or counted) to be gone.
  bool lease_lost_ ABSL_GUARDED_BY(mu_) = false;
  std::string lease_loss_ ABSL_GUARDED_BY(mu_);
  // When the lease lapses unless renewed, as this contender counts.
  absl::Time lease_expiry_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  // The watch the campaign thread blocks in, for LoseLeaseLocked/Resign.
  EtcdWatch* watch_ ABSL_GUARDED_BY(mu_) = nullptr;

  std::thread campaign_;
  std::thread keep_alive_;
};

}  // namespace cascade::topology::etcd

#endif  // CASCADE_TOPOLOGY_ETCD_LEADER_H_
