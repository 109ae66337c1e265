// Hands prepared UDP messages (the msghdrs a sendmmsg would take) to the
// kernel through an io_uring: one IORING_OP_SENDMSG per message, a batch of
// them submitted with one io_uring_enter, every completion reaped before
// Send() returns, so the caller may free the bytes right after.
//
// One ring per sending thread, bound to one socket (registered as a fixed
// file). BatchSender (batch_sender.h) builds the messages, GSO runs
// included, and counts the results; this only moves them.
#ifndef CASCADE_RELAY_URING_SENDER_H_
#define CASCADE_RELAY_URING_SENDER_H_

#include <liburing.h>
#include <sys/socket.h>

#include <cstddef>
#include <memory>

#include "absl/status/statusor.h"

namespace cascade::relay {

// How a relay's senders hand datagrams to the kernel (relayd --send_path).
enum class SendPath { kSendmmsg, kIoUring };

class UringSender {
 public:
  // Messages per submission: sendmmsg's own limit (UIO_MAXIOV), so both
  // paths make as many system calls for a flush. About 100 KiB of rings.
  static constexpr unsigned kEntries = 1024;

  // Fails when the kernel has no io_uring or refuses it (a sysctl, a
  // seccomp filter). `fd` stays the caller's.
  static absl::StatusOr<std::unique_ptr<UringSender>> Create(int fd);
  // For SendPath::kIoUring: a ring, or null after one log line when the
  // kernel refuses (the caller then sends with sendmmsg). Null for
  // kSendmmsg.
  static std::unique_ptr<UringSender> CreateOrFallBack(SendPath path, int fd);
  ~UringSender();
  UringSender(const UringSender&) = delete;
  UringSender& operator=(const UringSender&) = delete;

  // Sends msgs[0..count) (msg_name: a sockaddr_in) in order with
  // MSG_DONTWAIT; results[i] is what sendmsg would have returned for msgs[i],
  // as bytes or -errno. Returns the io_uring_enter calls made.
  //
  // -ECANCELED: not sent, to keep one destination's order. Consecutive
  // messages to one destination are linked, so one that fails cancels the
  // rest of its run: the caller may send them again after it (an earlier
  // packet's ICMP report, media/unreachable.h, fails a send that a retry
  // gets through). After a failure of the ring itself, every message not
  // handed over gets it too, and broken() is true.
  size_t Send(mmsghdr* msgs, size_t count, int* results);
  // The ring failed; the caller sends another way from now on.
  bool broken() const { return broken_; }

 private:
  UringSender() = default;
  // Hands over msgs[first..first+batch) and reaps their completions.
  size_t SendBatch(mmsghdr* msgs, size_t first, unsigned batch, int* results);

  io_uring ring_;
  int fd_ = -1;
  bool fixed_file_ = false;  // fd_ is registered: SQEs name index 0
  bool broken_ = false;
};

}  // namespace cascade::relay

#endif  // CASCADE_RELAY_URING_SENDER_H_
