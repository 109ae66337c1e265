#include "console/hub.h"

#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace cascade::console {
namespace {

std::shared_ptr<const std::string> Json(
    const google::protobuf::Message& message) {
  auto json = std::make_shared<std::string>();
  // Only our own messages: printing cannot fail.
  (void)google::protobuf::util::MessageToJsonString(message, json.get());
  return json;
}

}  // namespace

Hub::Hub(Snapshot snapshot, absl::Duration interval)
    : snapshot_(std::move(snapshot)), interval_(interval) {
  thread_ = std::thread([this] { Run(); });
}

Hub::~Hub() {
  Stop();
  thread_.join();
}

void Hub::Stop() {
  absl::MutexLock lock(&mu_);
  stopping_ = true;
}

std::unique_ptr<Hub::Subscription> Hub::Subscribe() {
  absl::MutexLock lock(&mu_);
  ++subscribers_;
  return std::unique_ptr<Subscription>(new Subscription(this));
}

Hub::Subscription::~Subscription() {
  absl::MutexLock lock(&hub_->mu_);
  --hub_->subscribers_;
}

void Hub::Subscription::PushEvent(const cascade::v1::Event& event) {
  std::shared_ptr<const std::string> json = Json(event);
  absl::MutexLock lock(&hub_->mu_);
  if (events_.size() >= kEventBacklog) {
    events_.pop_front();
    ++dropped_;
  }
  events_.push_back(std::move(json));
}

bool Hub::Subscription::Next(absl::Duration timeout,
                             std::vector<StreamMessage>* out) {
  absl::MutexLock lock(&hub_->mu_);
  auto ready = [this]() ABSL_SHARED_LOCKS_REQUIRED(hub_->mu_) {
    return hub_->stopping_ || !events_.empty() ||
           (hub_->version_ > version_ && hub_->have_tree_);
  };
  hub_->mu_.AwaitWithTimeout(absl::Condition(&ready), timeout);
  if (hub_->stopping_) return false;
  if (hub_->version_ > version_ && hub_->have_tree_) {
    if (version_ > 0 && version_ + 1 == hub_->version_ &&
        hub_->delta_json_ != nullptr) {
      out->push_back({"delta", hub_->delta_json_});
    } else {
      out->push_back({"tree", hub_->TreeJsonLocked()});
    }
    version_ = hub_->version_;
  }
  if (dropped_ > 0) {
    out->push_back({"dropped", std::make_shared<const std::string>(
                                   absl::StrCat(dropped_))});
    dropped_ = 0;
  }
  for (auto& event : events_) out->push_back({"event", std::move(event)});
  events_.clear();
  return true;
}

std::shared_ptr<const std::string> Hub::TreeJsonLocked() {
  // Printed once per tick, for the first stream (or GET) that needs it.
  if (tree_json_ == nullptr) tree_json_ = Json(tree_);
  return tree_json_;
}

std::shared_ptr<const std::string> Hub::Tree() {
  absl::MutexLock lock(&mu_);
  return have_tree_ ? TreeJsonLocked() : nullptr;
}

absl::Status Hub::Tick(absl::Time now) {
  absl::StatusOr<cascade::v1::GetTopologyResponse> topology = snapshot_();
  if (!topology.ok()) return topology.status();
  Apply(*topology, now);
  return absl::OkStatus();
}

void Hub::Apply(const cascade::v1::GetTopologyResponse& topology,
                absl::Time now) {
  absl::MutexLock tick_lock(&tick_mu_);
  TreeTracker::Update update = tracker_.Apply(topology, now);
  bool changed =
      update.delta.changed_size() > 0 || update.delta.removed_size() > 0;
  {
    absl::MutexLock lock(&mu_);
    changed = changed || !have_tree_ ||
              update.tree.state_sequence() != tree_.state_sequence();
  }
  // Printed outside the hub's lock: the delta is for every stream anyway.
  std::shared_ptr<const std::string> delta =
      changed ? Json(update.delta) : nullptr;
  absl::MutexLock lock(&mu_);
  have_tree_ = true;
  tree_ = std::move(update.tree);
  tree_json_ = nullptr;
  if (changed) {
    ++version_;
    delta_json_ = std::move(delta);
  }
}

void Hub::Run() {
  absl::MutexLock lock(&mu_);
  while (!stopping_) {
    auto wake = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
      return stopping_ || subscribers_ > 0;
    };
    mu_.Await(absl::Condition(&wake));
    if (stopping_) break;
    mu_.Unlock();
    // A follower has no tree: its streams wait until it leads.
    const absl::Time start = absl::Now();
    (void)Tick(start);
    const absl::Duration took = absl::Now() - start;
    mu_.Lock();
    // The snapshot holds the controller's lock: a big tree on a busy
    // machine ticks less often rather than take more than a share of it.
    auto stop = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return stopping_; };
    mu_.AwaitWithTimeout(absl::Condition(&stop),
                         std::max(interval_, took * kTickShareInverse));
  }
}

}  // namespace cascade::console
