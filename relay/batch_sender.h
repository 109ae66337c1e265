// Sends queued datagrams on one UDP socket in batches: with sendmmsg, or
// through the thread's io_uring when it has one (uring_sender.h). Consecutive
// equal-size packets to one address go out as one UDP GSO super-packet
// (UDP_SEGMENT) when the kernel allows it. It holds bytes, not packets: the
// caller keeps them alive until Flush() returns, so a sender on another
// thread can work on packets whose references stay with their owner.
//
// One thread per sender; several senders may share one socket.
#ifndef CASCADE_RELAY_BATCH_SENDER_H_
#define CASCADE_RELAY_BATCH_SENDER_H_

#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

#include "media/endpoint.h"
#include "relay/uring_sender.h"

namespace cascade::relay {

struct SendCounters {
  uint64_t send_calls = 0;
  uint64_t datagrams_sent = 0;
  uint64_t gso_messages = 0;
  uint64_t send_errors = 0;  // packets the kernel refused

  void Add(const SendCounters& other) {
    send_calls += other.send_calls;
    datagrams_sent += other.datagrams_sent;
    gso_messages += other.gso_messages;
    send_errors += other.send_errors;
  }
};

class BatchSender {
 public:
  // Flush() when queued() reaches it: enough for a 7-packet frame to 2,000
  // children in one flush, so no child's GSO run is cut in two.
  static constexpr size_t kMaxQueued = 16384;

  // `fd` stays the caller's. With `uring` (not owned; this thread's, for
  // `fd`), messages go through it, and with sendmmsg once it fails.
  explicit BatchSender(int fd, UringSender* uring = nullptr);
  BatchSender(const BatchSender&) = delete;
  BatchSender& operator=(const BatchSender&) = delete;

  // `size` bytes at `data`, which must stay valid until Flush(). Call only
  // while queued() < kMaxQueued.
  void Queue(const media::Endpoint& to, const uint8_t* data, uint32_t size) {
    queue_.push_back(Entry{to, data, size});
  }
  // How Flush() finds each destination's packets.
  enum class Order {
    kAny,      // sorted by destination first
    kGrouped,  // the caller queued each destination's packets together
  };
  // Hands every queued datagram to the kernel, grouped by destination with
  // each destination's packets in order.
  void Flush(Order order = Order::kAny);
  size_t queued() const { return queue_.size(); }
  bool full() const { return queue_.size() >= kMaxQueued; }

  void set_gso_enabled(bool enabled) { gso_enabled_ = enabled; }
  bool gso_enabled() const { return gso_enabled_; }
  const SendCounters& counters() const { return counters_; }
  // What was counted since the last take, counting from zero again.
  SendCounters TakeCounters() { return std::exchange(counters_, {}); }

 private:
  struct Entry {
    media::Endpoint to;
    const uint8_t* data;
    uint32_t size;
  };
  // Sends msgs_[0..count); a message the kernel refuses is counted and
  // skipped.
  void SendMessages(size_t count);
  void SendOnRing(size_t count);
  // Message `i` failed with `err`: counted, or sent again segment by
  // segment when GSO is what the kernel refused.
  void Failed(size_t i, int err);
  void Sent(size_t i) {
    counters_.datagrams_sent += msg_packets_[i];
    if (msg_packets_[i] > 1) ++counters_.gso_messages;
  }

  const int fd_;
  UringSender* const uring_;
  bool gso_enabled_ = true;
  SendCounters counters_;

  std::vector<Entry> queue_;
  // Scratch reused by every call, so the hot path does not allocate.
  std::vector<std::pair<uint64_t, uint32_t>> order_;  // (dest key, index)
  std::vector<mmsghdr> msgs_;
  std::vector<iovec> iovs_;
  std::vector<sockaddr_in> addrs_;
  std::vector<uint8_t> controls_;      // one cmsg buffer per message
  std::vector<uint32_t> msg_packets_;  // packets carried by each message
  std::vector<int> results_;           // the ring's, per message
};

}  // namespace cascade::relay

#endif  // CASCADE_RELAY_BATCH_SENDER_H_
