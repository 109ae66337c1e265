// The topology controller's core: the persistent state, the nodes' leases,
// and the assignment engine that turns both into one Assignment per node.
// Transport-free (the gRPC services in service.h call it), so tests drive it
// directly with a fake clock.
#ifndef CASCADE_TOPOLOGY_CONTROLLER_H_
#define CASCADE_TOPOLOGY_CONTROLLER_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "base/clock.h"
#include "base/prometheus_text.h"
#include "proto/controller.pb.h"
#include "topology/commit_pipeline.h"
#include "topology/controller_timing.h"
#include "topology/store.h"

namespace cascade::topology {

using MintResult = absl::StatusOr<cascade::v1::MintEdgeTokenResponse>;
// Receives a mint's outcome, without the controller's lock held.
using MintDone = std::function<void(MintResult)>;

// An edge token lasts this long when the caller gives no lifetime.
inline constexpr absl::Duration kDefaultEdgeTokenTtl = absl::Hours(24);

struct ControllerOptions {
  // A node that has not reported for this long is marked down.
  absl::Duration lease_timeout = absl::Seconds(3);
  // How a node that comes back (lease renewed after expiry, or a restore
  // without an explicit policy) is reintegrated.
  cascade::v1::RestorePolicy default_policy = cascade::v1::RESTORE_REVERTIVE;
  // Hold-down: a node whose lease expired and is renewed again gets no
  // children (none back, none new) until it has held its lease this long,
  // doubled for each further expiry within `reintegrate_max`, and never
  // longer than `reintegrate_max`. So a flapping node moves its children
  // once, not on every flap.
  absl::Duration reintegrate_after = absl::Seconds(5);
  absl::Duration reintegrate_max = absl::Seconds(60);
  // After a restart: how long to learn before sending assignments, unless
  // every relay (every node but the sites) has reported sooner. Longer than the
  // relays' reconnect backoff (the relay client's is at most 5 s), so live
  // relays are heard before anything is decided; never shorter than a lease.
  absl::Duration restart_learning = absl::Seconds(10);
  // Journal records between snapshots.
  uint64_t snapshot_every = 1000;
  // Standby parents per node beyond the active one.
  int max_standbys = 1;
  // Every recompute places every node (integer work over cached candidate
  // lists), but rebuilds and compares only the assignments of nodes whose
  // parents, children or upstream selections changed; a change of topology
  // rebuilds them all. False: every recompute rebuilds everything from
  // scratch, the reference the incremental path is tested against.
  bool incremental = true;
  // A link key rotation (RotateLinkKeys): how long each link's key before
  // it stays accepted. Every relay gets the new key within a push (well
  // under a second); the rest is room for a relay that is reconnecting.
  absl::Duration link_key_overlap = absl::Minutes(10);
  // Stream keys (stream_keys.h): a downstream stream gets a new key when
  // its newest is this old (and its first at once); zero: only when an
  // admin rotates it (topologyd's flag makes it 24 h). A new key is handed
  // out this long before the source uses it, so the sites that poll for
  // keys (GetStreamKeys) have it first.
  absl::Duration stream_key_rotation = absl::ZeroDuration();
  absl::Duration stream_key_overlap = absl::Minutes(2);
  // The most assignments a whole rebuild (a restart's first push, a new
  // topology, a key rotation: 11,000 at national scale, a second of the
  // lock on a busy machine) pushes under one hold of the lock; the rest
  // follow a slice at a time, each time the lock is next taken (a report, a
  // registration, an ack, a tick), so those wait for a slice, not the whole
  // push, and leases are renewed meanwhile. Such a change's response counts
  // the assignments of its first slice.
  size_t push_slice = 256;
};

// Receives what the controller pushes. Called with the controller's lock
// held (from the caller's thread or the commit pipeline's): must not block
// and must not call back into the controller. Only what is durable is
// published: a change's assignments and events come once the store has it.
class ControllerListener {
 public:
  virtual ~ControllerListener() = default;
  virtual void OnAssignment(
      std::shared_ptr<const cascade::v1::Assignment> assignment) = 0;
  virtual void OnNodeRemoved(const std::string& node_id) = 0;
  virtual void OnEvent(const cascade::v1::Event& event) = 0;
  // A certificate was revoked: streams opened with it must end
  // (Controller::CertificateRevoked names them).
  virtual void OnCertificateRevoked() = 0;
};

// What topologyd's /metrics shows of the controller: copied under its lock
// (Controller::Metrics) and rendered without it (metrics_server.h).
struct ControllerMetrics {
  // Every node that reports (plain endpoints never do).
  struct Node {
    std::string id;
    cascade::v1::Tier tier = cascade::v1::TIER_UNSPECIFIED;
    cascade::v1::NodeStatus status = cascade::v1::STATUS_UNKNOWN;
    // From its last report.
    uint64_t packets_in = 0;
    // Active children in the current plan, and its capacity (0: a leaf).
    uint32_t children = 0;
    uint32_t max_children = 0;
  };
  std::vector<Node> nodes;
  // Plain endpoints by tier and status are counted here only.
  std::map<std::pair<cascade::v1::Tier, cascade::v1::NodeStatus>, uint32_t>
      plain_endpoints;
  uint64_t state_sequence = 0;
  uint32_t orphans = 0;
  bool learning = false;
  uint64_t lease_expiries = 0;
  // RelayControl calls refused for who the caller is (no, a wrong or a
  // revoked certificate).
  uint64_t node_calls_refused = 0;
  // Nodes the controller moved off an active parent that stopped being
  // usable, by why: down (lease or silence), failed (an operator's
  // failover), drained.
  std::map<std::string, uint64_t> failovers;
  uint64_t assignments_pushed = 0;
  uint64_t acks = 0;
  uint64_t nacks = 0;
  // Applied changes by kind (the Change field: apply, drain, ...;
  // "reintegrate", "audit" for an audit record alone); dropped: not
  // persisted, so not applied.
  std::map<std::string, uint64_t> changes_applied;
  uint64_t changes_dropped = 0;
  // From an assignment's offer to its node's ack of that version.
  DurationHistogram ack_latency{ControlLatencyBounds()};
  // The store's appends (journal fsync, etcd transaction).
  DurationHistogram store_write_latency{ControlLatencyBounds()};
};

class Controller {
 public:
  Controller(const Clock* clock, Store* store, ControllerOptions options);
  Controller(const Controller&) = delete;
  Controller& operator=(const Controller&) = delete;

  // Loads the stored state (snapshot + journal). Call once, first. When the
  // state is not empty (a restart), no assignment goes out while the
  // controller learns (options.restart_learning) from the nodes' reports who is
  // alive and which parent each one receives from, so what it then sends
  // matches what the relays already run.
  absl::Status Recover();
  // Set before serving; may be null.
  void SetListener(ControllerListener* listener);

  // Decides `change` against the current state and every change accepted
  // before it (a refusal goes to `done` at once, on this thread). An accepted
  // change is made durable by the commit pipeline (commit_pipeline.h) without
  // the controller's lock; then it is applied, the assignments it changed are
  // pushed, and `done` gets the response on the pipeline's thread. Nothing is
  // applied if any step fails. `done` must not block: the next change waits
  // for it.
  void SubmitAsync(cascade::v1::Change change, ChangeDone done);
  // The same, waiting for the outcome. Never from a `done`.
  ChangeResult Submit(cascade::v1::Change change);
  // Returns once every change decided before the call (also the
  // controller's own, see Tick) is applied or dropped.
  void AwaitCommitted();

  // Relay side. Register and Report renew the lease; a node whose lease had
  // expired is reintegrated under the default policy.
  absl::StatusOr<cascade::v1::RegisterResponse> Register(
      const cascade::v1::RegisterRequest& request);
  absl::Status Report(const cascade::v1::ReportRequest& request);
  absl::Status Ack(const cascade::v1::AckRequest& request);
  // A caller was refused for who it is (its certificate): a KIND_DENIED
  // event, `node_id` the node it claimed (empty if none).
  void RecordDenied(const std::string& node_id, const std::string& detail);
  // Counts every such refusal, evented or not; takes no lock, as a flood
  // of refused calls must not contend with the controller's work.
  void CountNodeRefusal() {
    node_calls_refused_.fetch_add(1, std::memory_order_relaxed);
  }
  // A refused Admin call: with `journal`, made durable like a change (its
  // KIND_DENIED event comes once it is, and it stays in the audit trail);
  // otherwise only the event. Never waits for the store.
  void RecordAdminRefusal(cascade::v1::AuditRecord audit, bool journal);
  // Whether a durable revocation covers the token `id` of `operator_name`
  // issued at `issued`.
  bool TokenRevoked(const std::string& operator_name, const std::string& id,
                    absl::Time issued) const;
  // Whether the client certificate with this serial (NormalizeSerial's
  // form) is revoked. Takes only a lock of its own: every call that checks
  // a certificate asks, Report messages included.
  bool CertificateRevoked(const std::string& serial) const;
  // Calls `fn`, under the controller's lock, with up to `count` of the
  // newest audited Admin calls as events, oldest first: an event subscriber
  // registered in `fn` then misses no event and gets none twice. `fn` may
  // take the listener's locks (the order OnEvent takes them in) and must
  // not call back into the controller.
  void WithAuditHistory(
      size_t count,
      const std::function<void(std::vector<cascade::v1::Event>)>& fn) const;
  // The node's current assignment; null if there is no such node, or while
  // a restarted controller is still learning (see Recover).
  std::shared_ptr<const cascade::v1::Assignment> CurrentAssignment(
      const std::string& node_id) const;
  bool HasNode(const std::string& node_id) const;

  // Runs the timers, to be called often (a tenth of a lease): marks down
  // every node whose lease expired (or that never reported within a lease
  // of being expected), gives children to nodes whose first report came
  // after that, reintegrates nodes whose hold-down is over (once their pins,
  // if any, are durable: Tick does not wait for that), ends a restart's
  // learning period. Returns how many leases expired.
  int Tick();
  // The controller did not run for `late` (stopped, descheduled): reports
  // sent meanwhile wait unread, so that time is not the nodes' silence and
  // every lease is extended by it.
  void Excuse(absl::Duration late);

  // Edge tokens (controller_edge.cc). A token for a site's browser, or the
  // center's, at a relay's HTTPS edge: the relay and stream come from the
  // current plan (MintEdgeTokenRequest says which), the signature from the
  // current edge key, made first (a change of the controller's own) when
  // there is none. `done` gets the token once `audit`, its target set to
  // what was minted for whom, is durable in the audit trail; a refusal at
  // once: NOT_FOUND (no such node), FAILED_PRECONDITION (not a site, no
  // active parent, no edge_address, no such stream), INVALID_ARGUMENT.
  void MintEdgeTokenAsync(const cascade::v1::MintEdgeTokenRequest& request,
                          cascade::v1::AuditRecord audit, MintDone done);
  // The same, waiting. Never from a `done`.
  MintResult MintEdgeToken(const cascade::v1::MintEdgeTokenRequest& request,
                           cascade::v1::AuditRecord audit);

  // The stream keys `nodes` may hold (stream_keys.h, StreamKeysFor), of
  // the durable state: what GetStreamKeys answers.
  absl::StatusOr<cascade::v1::GetStreamKeysResponse> StreamKeys(
      absl::Span<const std::string> nodes) const;

  // Admin views: never contain keys.
  absl::StatusOr<cascade::v1::NodeView> GetNode(const std::string& id) const;
  absl::StatusOr<cascade::v1::GetTopologyResponse> GetTopology(
      const std::string& root) const;
  cascade::v1::StatsResponse GetStats() const;
  // Counters and per-node figures for /metrics (controller_metrics.cc).
  ControllerMetrics Metrics() const;
  // Lock waits and holds by kind, tick lateness: for /metrics and the
  // lease ticker (controller_timing.h). Thread-safe.
  ControllerTiming* timing() const { return &timing_; }
  // What recovery found wrong with the journal; empty if nothing.
  std::string RecoveryNote() const;
  uint64_t Sequence() const;

 private:
  struct Live {
    cascade::v1::NodeStatus status = cascade::v1::STATUS_UNKNOWN;
    absl::Time last_report = absl::InfinitePast();
    // When the controller began to expect reports (its start, or the node's
    // addition): silent for a lease from then on means down.
    absl::Time expected_since = absl::InfinitePast();
    // Lease expiries within options_.reintegrate_max, oldest first. A vector
    // (a few entries at most): an empty std::deque allocates half a
    // kilobyte, for every one of 100,000 nodes.
    std::vector<absl::Time> expiries;
    // While STATUS_HOLD_DOWN: when the node is reintegrated.
    absl::Time hold_until = absl::InfinitePast();
    cascade::v1::RelayStats stats;
    uint64_t acked_version = 0;
    std::string ack_error;
    // While STATUS_HOLD_DOWN: its reintegration's pins are being persisted.
    bool reintegrating = false;
    // The version last offered and when, until acked (ack latency).
    uint64_t offered_version = 0;
    absl::Time offered_at = absl::InfinitePast();
  };

  // DECIDE (see commit_pipeline.h): resolves and validates the change of
  // `*commit` against the newest decided state and queues it, taking
  // `*commit`; leaves it to the caller when refused.
  absl::Status DecideLocked(std::unique_ptr<Commit>* commit)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // decided_ with `change` applied, or unchanged when it does not apply.
  absl::Status ApplyToDecidedLocked(const cascade::v1::Change& change)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // APPLY: makes a durable commit current, recomputes, pushes.
  ChangeResult ApplyLocked(Commit& commit, const absl::Status& persisted)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Fills in what replay must not recompute: keys (kept from `base`, or
  // made) and resolved policies. An error refuses the change.
  absl::Status ResolveLocked(const cascade::v1::ControllerState& base,
                             cascade::v1::Change* change)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void AddPinsLocked(const std::string& returning, cascade::v1::Change* change)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // `child` went silent at `reporter`: down at once if `reporter` is its
  // active parent and it could be anyone's parent. True if marked down; the
  // caller recomputes once for all it marked.
  bool MarkSilentLocked(const std::string& child, const std::string& reporter)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // A node that was up (or held down) is down now, counted as an expiry.
  void MarkDownLocked(const std::string& node_id, Live* live, absl::Time now,
                      const std::string& why)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Renews the lease; a node back after an expiry starts its hold-down.
  absl::Status RenewLocked(const std::string& node_id)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Makes held-down nodes usable again under the default policy. Without
  // pins to change: at once, with a recompute (returns true). Otherwise the
  // pins go through the pipeline and the nodes stay held down until they are
  // applied (FinishReintegrationLocked); returns false.
  bool ReintegrateLocked(const std::vector<std::string>& node_ids)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Their pins applied: the nodes are up. Dropped: they stay held down and
  // the next Tick tries again.
  void FinishReintegrationLocked(const std::vector<std::string>& node_ids,
                                 bool applied)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Duration HoldDownLocked(Live* live) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Ends a restart's learning: sends every assignment.
  void SettleLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Whether a restarted controller waits for this node's first report
  // before it sends assignments.
  static bool SettlesLearning(const cascade::v1::Node& node);
  // A site that activates: it moves only among its configured parents
  // (parent, then standby_parents), never to one the controller picks.
  static bool KeepsOwnParents(const cascade::v1::Node& node) {
    return node.tier() == cascade::v1::TIER_SITE && !node.plain_endpoint();
  }
  // The plan (controller_plan.cc). Places every node, rebuilds the assignments
  // that may have changed, pushes those that did, returns how many.
  uint32_t RecomputeLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // What depends only on the topology and the pins: the index, each node's
  // candidate parents, capacities, the tier order; carries the last plan
  // over to the new indices.
  void RebuildLayoutLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Builds the assignments of `nodes` from the current plan and pushes
  // those that changed; returns how many.
  uint32_t OfferLocked(absl::Span<const int> nodes)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Pushes the next slice of a whole rebuild's assignments, if any are
  // pending (see ControllerOptions::push_slice).
  void PushPendingLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Node `i`'s assignment from the current plan, version unset.
  std::shared_ptr<cascade::v1::Assignment> BuildAssignmentLocked(int i)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  cascade::v1::NodeStatus StatusLocked(int index) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  cascade::v1::NodeView ViewLocked(int index) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Link keys (controller_link_keys.cc). The key of `child`'s link to
  // `parent` and, during a rotation's overlap, the one before it.
  struct LinkKeys {
    std::string key;
    std::string previous;
  };
  const LinkKeys& LinkKeyLocked(int child, int parent)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Fills in a rotation's new keys (for its node, or every relay of `base`)
  // and its overlap, from now.
  void ResolveLinkKeyRotationLocked(const cascade::v1::ControllerState& base,
                                    cascade::v1::RotateLinkKeysRequest* rotate)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // previous_keys_ from state_, and when the next overlap ends.
  void RefreshPreviousKeysLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Whether an overlap has ended by `now`: then every assignment is
  // rebuilt without the keys before (the caller recomputes).
  bool EndOverlapsLocked(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // decrypting_relays_ from state_'s topology.
  void RefreshDecryptingRelaysLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // revoked_serials_ from state_ (controller_audit.cc).
  void RefreshRevokedLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Queues a rotation of each downstream stream whose key is due
  // (controller_stream_keys.cc): a change of the controller's own.
  void KeyStreamsLocked(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The edge key's public halves for relays' assignments, from state_.
  void RefreshEdgeKeysLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // What a mint is for (controller_edge.cc), from the current plan.
  struct EdgeTarget {
    std::string relay, edge_address, stream, holder, note;
  };
  absl::StatusOr<EdgeTarget> EdgeTargetLocked(
      const cascade::v1::MintEdgeTokenRequest& request) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // A fresh edge key made at `now`; without a key if OpenSSL fails (the
  // change is then refused).
  static cascade::v1::EdgeKey NewEdgeKey(absl::Time now);
  // The active national relay (the root of the tree); -1 if none.
  int RootRelayLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void EmitLocked(cascade::v1::Event::Kind kind, const std::string& node_id,
                  const std::string& detail) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void PublishLocked(const cascade::v1::Event& event)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const Clock* const clock_;
  const ControllerOptions options_;

  mutable ControllerTiming timing_;
  mutable absl::Mutex mu_;
  ControllerListener* listener_ ABSL_GUARDED_BY(mu_) = nullptr;
  // Durable and applied; changes decided after it wait in pipeline_.
  cascade::v1::ControllerState state_ ABSL_GUARDED_BY(mu_);
  // state_ with every decided change applied, durable or not: what the next
  // change is decided against.
  cascade::v1::ControllerState decided_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, int> index_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, Live> live_ ABSL_GUARDED_BY(mu_);
  // What was pushed last, by node id.
  absl::flat_hash_map<std::string,
                      std::shared_ptr<const cascade::v1::Assignment>>
      pushed_ ABSL_GUARDED_BY(mu_);
  // SubjectPublicKeyInfo DER of state_'s edge keys, newest first: what
  // every relay's assignment carries.
  std::vector<std::string> edge_public_keys_ ABSL_GUARDED_BY(mu_);
  // state_'s revoked certificates, under a lock of their own (taken after
  // mu_ when both are).
  mutable absl::Mutex revoked_mu_ ABSL_ACQUIRED_AFTER(mu_);
  absl::flat_hash_set<std::string> revoked_serials_
      ABSL_GUARDED_BY(revoked_mu_);
  // The relays whose assignments carry the stream keys (stream_keys.h,
  // DecryptingRelays).
  absl::flat_hash_set<std::string> decrypting_relays_ ABSL_GUARDED_BY(mu_);
  // HMAC link keys by (child, parent) index; cleared with the layout, a
  // rotation and the end of its overlap.
  absl::flat_hash_map<std::pair<int, int>, LinkKeys> link_keys_
      ABSL_GUARDED_BY(mu_);
  // Nodes' keys before their last rotation, by node id, and until when.
  struct PreviousKey {
    std::string key;
    absl::Time until;
  };
  absl::flat_hash_map<std::string, PreviousKey> previous_keys_
      ABSL_GUARDED_BY(mu_);
  // The earliest overlap still running ends then.
  absl::Time overlap_ends_ ABSL_GUARDED_BY(mu_) = absl::InfiniteFuture();
  // The layout (see RebuildLayoutLocked), stale after a change of topology
  // or pins.
  bool layout_stale_ ABSL_GUARDED_BY(mu_) = true;
  std::vector<std::vector<int>> candidates_ ABSL_GUARDED_BY(mu_);
  // How many of candidates_[i] are the node's own: pin, parent, standbys.
  std::vector<size_t> own_candidates_ ABSL_GUARDED_BY(mu_);
  std::vector<uint32_t> capacity_ ABSL_GUARDED_BY(mu_);
  std::vector<int> tier_order_ ABSL_GUARDED_BY(mu_);
  // Every assignment must be rebuilt: the topology changed, or nothing has
  // been sent since a restart.
  bool rebuild_all_ ABSL_GUARDED_BY(mu_) = true;
  // The plan of the last recompute, by node index. parent_known_[i]: node i
  // was in the plan last sent (otherwise the parent it reports receiving
  // from stands for its active parent).
  std::vector<std::vector<int>> parents_ ABSL_GUARDED_BY(mu_);
  std::vector<bool> parent_known_ ABSL_GUARDED_BY(mu_);
  // The previous plan's lists, reused by the next recompute.
  std::vector<std::vector<int>> next_parents_ ABSL_GUARDED_BY(mu_);
  std::vector<std::vector<int>> next_active_children_ ABSL_GUARDED_BY(mu_);
  std::vector<std::vector<int>> next_standby_children_ ABSL_GUARDED_BY(mu_);
  std::vector<std::vector<cascade::v1::UpstreamSelection>> upstream_
      ABSL_GUARDED_BY(mu_);
  // Nodes whose assignments a whole rebuild has yet to push, the next last
  // (see PushPendingLocked).
  std::vector<int> pending_push_ ABSL_GUARDED_BY(mu_);
  // A Tick is waiting for the lock: no slice is pushed meanwhile.
  std::atomic<bool> tick_waiting_{false};
  // False while a restarted controller learns (see Recover): assignments
  // are computed but not sent, and the previous plan is not known.
  bool settled_ ABSL_GUARDED_BY(mu_) = true;
  // While learning: nodes expected to report that have not yet.
  size_t unheard_ ABSL_GUARDED_BY(mu_) = 0;
  // A node became usable without a recompute; the next Tick does it.
  bool recompute_pending_ ABSL_GUARDED_BY(mu_) = false;
  const absl::Time started_;
  std::vector<std::vector<int>> active_children_ ABSL_GUARDED_BY(mu_);
  std::vector<std::vector<int>> standby_children_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_set<std::string> orphans_ ABSL_GUARDED_BY(mu_);
  // Operators' flags by node id, pointing into state_; rebuilt with the plan.
  absl::flat_hash_map<std::string, const cascade::v1::NodeAdminState*> admin_
      ABSL_GUARDED_BY(mu_);
  uint64_t next_version_ ABSL_GUARDED_BY(mu_);
  uint64_t assignments_pushed_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t journal_discarded_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  // Counted for /metrics (ControllerMetrics says what each is).
  uint64_t lease_expiries_ ABSL_GUARDED_BY(mu_) = 0;
  std::atomic<uint64_t> node_calls_refused_{0};
  std::map<std::string, uint64_t> failovers_ ABSL_GUARDED_BY(mu_);
  uint64_t acks_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t nacks_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<std::string, uint64_t> changes_applied_ ABSL_GUARDED_BY(mu_);
  uint64_t changes_dropped_ ABSL_GUARDED_BY(mu_) = 0;
  DurationHistogram ack_latency_ ABSL_GUARDED_BY(mu_){ControlLatencyBounds()};
  std::string recovery_note_ ABSL_GUARDED_BY(mu_);
  // Last: destroyed first, its thread applying what is still queued while
  // everything above is alive.
  CommitPipeline pipeline_;
};

// A fresh random node key (32 bytes).
std::string RandomNodeKey();

}  // namespace cascade::topology

#endif  // CASCADE_TOPOLOGY_CONTROLLER_H_
