#include "topology/etcd/leader.h"

#include <glog/logging.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace cascade::topology::etcd {

LeaderElection::LeaderElection(EtcdClient* client,
                               LeaderElectionOptions options,
                               LeaderListener* listener)
    : client_(client),
      options_(std::move(options)),
      member_prefix_(options_.member_prefix.empty() ? options_.key + "/members/"
                                                    : options_.member_prefix),
      listener_(listener) {}

LeaderElection::~LeaderElection() { Resign(); }

void LeaderElection::Start() {
  campaign_ = std::thread([this] { Campaign(); });
  keep_alive_ = std::thread([this] { KeepAlive(); });
}

void LeaderElection::Resign() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    if (watch_ != nullptr) watch_->Cancel();
  }
  if (campaign_.joinable()) campaign_.join();
  if (keep_alive_.joinable()) keep_alive_.join();
  int64_t lease = 0;
  {
    absl::MutexLock lock(&mu_);
    lease = status_.lease_id;
    if (status_.leading) status_.last_loss = "resigned";
    status_.leading = false;
    status_.leader.clear();
    status_.lease_id = 0;
  }
  if (lease == 0) return;
  // The key goes with the lease: a follower need not wait for the TTL.
  absl::Status revoked = client_->LeaseRevoke(lease);
  if (!revoked.ok() && !absl::IsNotFound(revoked)) {
    LOG(WARNING) << "leader election: cannot revoke lease " << lease
                 << " (it lapses within its TTL): " << revoked;
  }
}

LeaderStatus LeaderElection::StatusLocked() const {
  LeaderStatus status = status_;
  // Counted here too, so a leader cut off from etcd stops leading at the
  // instant its lease may have lapsed, whatever its threads are doing.
  if (status.leading && absl::Now() >= lease_expiry_) {
    status.leading = false;
    status.last_loss = "lease lapsed: no keep-alive answered within its TTL";
  }
  return status;
}

LeaderStatus LeaderElection::Status() const {
  absl::MutexLock lock(&mu_);
  return StatusLocked();
}

absl::StatusOr<std::map<std::string, std::string>> LeaderElection::Members()
    const {
  etcdserverpb::RangeRequest request;
  request.set_key(member_prefix_);
  request.set_range_end(PrefixEnd(member_prefix_));
  absl::StatusOr<etcdserverpb::RangeResponse> range = client_->Range(request);
  if (!range.ok()) return range.status();
  std::map<std::string, std::string> members;
  for (const mvccpb::KeyValue& kv : range->kvs()) {
    members[kv.key().substr(member_prefix_.size())] = kv.value();
  }
  return members;
}

bool LeaderElection::WaitFor(
    const std::function<bool(const LeaderStatus&)>& check,
    absl::Duration timeout) const {
  const absl::Time deadline = absl::Now() + timeout;
  // Evaluated whenever the status may have changed (the mutex is released).
  auto holds = [&]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
    return check(StatusLocked());
  };
  absl::MutexLock lock(&mu_);
  while (true) {
    // A lease lapsing changes nothing stored: wake at that instant too.
    absl::Time wake = deadline;
    if (status_.leading && lease_expiry_ > absl::Now() &&
        lease_expiry_ < wake) {
      wake = lease_expiry_;
    }
    if (mu_.AwaitWithDeadline(absl::Condition(&holds), wake)) return true;
    if (absl::Now() >= deadline) return false;
  }
}

void LeaderElection::SetStatus(
    const std::function<void(LeaderStatus*)>& update) {
  LeaderStatus copy;
  {
    absl::MutexLock lock(&mu_);
    update(&status_);
    copy = StatusLocked();
  }
  if (listener_ != nullptr) listener_->OnLeaderStatus(copy);
}

void LeaderElection::Pause() {
  absl::MutexLock lock(&mu_);
  mu_.AwaitWithTimeout(absl::Condition(&stopping_), options_.retry_delay);
}

void LeaderElection::LoseLeaseLocked(std::string reason) {
  if (lease_lost_) return;
  lease_lost_ = true;
  lease_loss_ = std::move(reason);
  if (watch_ != nullptr) watch_->Cancel();
}

int64_t LeaderElection::EnsureLease() {
  int64_t stale = 0;
  {
    absl::MutexLock lock(&mu_);
    if (status_.lease_id != 0 && !lease_lost_) return status_.lease_id;
    stale = status_.lease_id;
  }
  if (stale != 0) {
    // Lost as this contender counts; etcd may still hold it (and the key).
    client_->LeaseRevoke(stale).IgnoreError();
  }
  const absl::Time sent = absl::Now();
  absl::StatusOr<etcdserverpb::LeaseGrantResponse> granted =
      client_->LeaseGrant(options_.ttl);
  if (!granted.ok()) {
    LOG_EVERY_N(WARNING, 25)
        << "leader election: no lease: " << granted.status();
    Pause();
    return 0;
  }
  absl::MutexLock lock(&mu_);
  status_.lease_id = granted->id();
  lease_lost_ = false;
  lease_loss_.clear();
  lease_expiry_ = sent + absl::Seconds(granted->ttl());
  return granted->id();
}

void LeaderElection::Campaign() {
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) return;
    }
    const int64_t lease = EnsureLease();
    if (lease == 0) continue;

    etcdserverpb::TxnRequest txn;
    auto* absent = txn.add_compare();
    absent->set_key(options_.key);
    absent->set_target(etcdserverpb::Compare::CREATE);
    absent->set_result(etcdserverpb::Compare::EQUAL);
    absent->set_create_revision(0);
    auto* put = txn.add_success()->mutable_request_put();
    put->set_key(options_.key);
    put->set_value(options_.address);
    put->set_lease(lease);
    txn.add_failure()->mutable_request_range()->set_key(options_.key);
    // Either way, this contender is a member (again, on this lease).
    if (!options_.member_value.empty()) {
      etcdserverpb::PutRequest member;
      member.set_key(member_prefix_ + options_.address);
      member.set_value(options_.member_value);
      member.set_lease(lease);
      *txn.add_success()->mutable_request_put() = member;
      *txn.add_failure()->mutable_request_put() = member;
    }
    absl::StatusOr<etcdserverpb::TxnResponse> answer = client_->Txn(txn);
    if (!answer.ok()) {
      LOG_EVERY_N(WARNING, 25)
          << "leader election: campaign failed: " << answer.status();
      Pause();
      continue;
    }
    const int64_t revision = answer->header().revision();
    int64_t term = revision;
    std::string holder = options_.address;
    bool won = answer->succeeded();
    if (!won) {
      if (answer->responses_size() < 1 ||
          !answer->responses(0).has_response_range()) {
        LOG_EVERY_N(WARNING, 25) << "leader election: malformed answer";
        Pause();
        continue;
      }
      const auto& range = answer->responses(0).response_range();
      if (range.kvs().empty()) continue;  // gone again already: campaign
      term = range.kvs(0).create_revision();
      holder = range.kvs(0).value();
      // A retried campaign whose first attempt landed finds itself.
      won = range.kvs(0).lease() == lease;
    }
    if (won) {
      // Won on a lease that has lapsed by this contender's own count (a slow
      // store: the grant and the campaign took longer than the TTL). Its
      // status would say "not leading", so nobody would hear of the term,
      // while the key stays and keeps everyone else out: the lease is given
      // up instead (EnsureLease revokes it, which deletes the key) and the
      // campaign starts again on a fresh one.
      absl::MutexLock lock(&mu_);
      if (absl::Now() >= lease_expiry_) {
        LOG(WARNING) << "leader election: " << options_.address
                     << " won the key on a lease that had already lapsed by "
                        "its own count; campaigning again";
        LoseLeaseLocked("the lease lapsed before the campaign was answered");
        continue;
      }
    }
    if (won) {
      LOG(INFO) << "leader election: " << options_.address << " leads (term "
                << term << ")";
      SetStatus([&](LeaderStatus* status) {
        status->leading = true;
        status->leader = holder;
        status->term = term;
        ++status->terms_won;
      });
    } else {
      SetStatus([&](LeaderStatus* status) {
        status->leader = holder;
        status->term = term;
        if (holder != options_.address) status->previous_leader = holder;
      });
    }
    std::string why = WaitForKeyGone(revision + 1, term);
    if (won) {
      LOG(WARNING) << "leader election: " << options_.address
                   << " no longer leads: " << why;
    }
    SetStatus([&](LeaderStatus* status) {
      if (status->leading) status->last_loss = why;
      status->leading = false;
      status->leader.clear();
    });
  }
}

std::string LeaderElection::WaitForKeyGone(int64_t from_revision,
                                           int64_t term) {
  EtcdWatch watch(client_, options_.key, "", from_revision);
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return "resigned";
    if (lease_lost_) return lease_loss_;
    watch_ = &watch;
  }
  std::string why;
  while (why.empty()) {
    absl::StatusOr<std::vector<mvccpb::Event>> events = watch.Next();
    if (events.ok()) {
      for (const mvccpb::Event& event : *events) {
        if (event.type() == mvccpb::Event::DELETE) {
          why = "the leader key was deleted (lease expired or revoked)";
        } else if (event.kv().create_revision() != term) {
          why = "the leader key was replaced";
        }
      }
    } else if (absl::IsCancelled(events.status())) {
      absl::MutexLock lock(&mu_);
      why = stopping_ ? "resigned" : lease_loss_;
    } else if (absl::IsOutOfRange(events.status())) {
      // History compacted past what we saw: campaign again, which reads the
      // key afresh.
      why = std::string(events.status().message());
    } else {
      LOG_EVERY_N(WARNING, 25) << "leader election: " << events.status();
      Pause();
    }
  }
  absl::MutexLock lock(&mu_);
  watch_ = nullptr;
  return why;
}

void LeaderElection::KeepAlive() {
  // etcd's own clients renew at a third of the TTL: two renewals may fail
  // before the lease is at risk.
  const absl::Duration interval = options_.ttl / 3;
  absl::MutexLock lock(&mu_);
  while (!stopping_) {
    mu_.AwaitWithTimeout(absl::Condition(&stopping_), interval);
    if (stopping_) break;
    const int64_t lease = status_.lease_id;
    if (lease == 0 || lease_lost_) continue;
    const absl::Time sent = absl::Now();
    mu_.Unlock();
    absl::StatusOr<int64_t> left = client_->LeaseKeepAlive(lease, interval);
    mu_.Lock();
    if (lease != status_.lease_id || lease_lost_) continue;
    if (left.ok()) {
      lease_expiry_ = sent + absl::Seconds(*left);
    } else if (absl::IsNotFound(left.status())) {
      LoseLeaseLocked(std::string(left.status().message()));
    } else if (absl::Now() >= lease_expiry_) {
      LoseLeaseLocked(absl::StrCat(
          "lease lapsed: no keep-alive answered within its TTL (last error: ",
          left.status().message(), ")"));
    } else {
      LOG_EVERY_N(WARNING, 10)
          << "leader election: keep-alive failed: " << left.status();
    }
  }
}

}  // namespace cascade::topology::etcd
