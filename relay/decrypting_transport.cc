#include "relay/decrypting_transport.h"

#include <utility>

namespace cascade::relay {
namespace {

// Lists kept split: the core has two at most (video, audio) and makes new
// ones only when its children change.
constexpr size_t kMaxSplits = 4;

}  // namespace

DecryptingTransport::DecryptingTransport(Transport* next,
                                         StreamDecryptor* decryptor)
    : next_(next), decryptor_(decryptor) {}

void DecryptingTransport::Apply(const RelayOptions& options) {
  plain_.clear();
  for (const ChildOptions& child : options.children) {
    if (!child.static_push) continue;
    if (child.address.has_value()) plain_.insert(*child.address);
    if (child.audio_address.has_value()) plain_.insert(*child.audio_address);
  }
  splits_.clear();
}

void DecryptingTransport::Send(const media::Endpoint& to,
                               const PacketRef& packet) {
  if (!decryptor_->active() || !plain_.contains(to)) {
    next_->Send(to, packet);
    return;
  }
  // One packet to one child is a retransmission (a NACK's answer from the
  // ring) or a report: the fan-out decrypted the packet already, so the
  // decryptor's replay check would refuse it.
  if (PacketRef plain = decryptor_->Recall(packet)) next_->Send(to, plain);
}

void DecryptingTransport::SendToAll(const std::shared_ptr<const FanoutList>& to,
                                    const PacketRef& packet) {
  if (!decryptor_->active() || plain_.empty()) {
    next_->SendToAll(to, packet);
    return;
  }
  const Split& split = SplitOf(to);
  if (!split.as_is->empty()) next_->SendToAll(split.as_is, packet);
  if (split.plain->empty()) return;
  if (PacketRef plain = decryptor_->Decrypt(packet)) {
    next_->SendToAll(split.plain, plain);
  }
}

const DecryptingTransport::Split& DecryptingTransport::SplitOf(
    const std::shared_ptr<const FanoutList>& list) {
  for (const Split& split : splits_) {
    if (split.whole == list) return split;
  }
  auto as_is = std::make_shared<FanoutList>();
  auto plain = std::make_shared<FanoutList>();
  for (const media::Endpoint& address : *list) {
    (plain_.contains(address) ? plain : as_is)->push_back(address);
  }
  if (splits_.size() >= kMaxSplits) splits_.erase(splits_.begin());
  splits_.push_back({list, std::move(as_is), std::move(plain)});
  return splits_.back();
}

}  // namespace cascade::relay
