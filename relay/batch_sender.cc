#include "relay/batch_sender.h"

#include <errno.h>
#include <netinet/udp.h>

#include <algorithm>
#include <cstring>

#include "media/unreachable.h"

namespace cascade::relay {
namespace {

// Linux limits: 64 segments per GSO send, and a UDP payload under 64 KiB.
constexpr size_t kMaxGsoSegments = 64;
constexpr size_t kMaxGsoBytes = 65000;
constexpr size_t kControlSize = CMSG_SPACE(sizeof(uint16_t));

}  // namespace

BatchSender::BatchSender(int fd, UringSender* uring) : fd_(fd), uring_(uring) {}

void BatchSender::Flush(Order order) {
  if (queue_.empty()) return;
  // Group by destination, keeping each destination's packets in order.
  order_.clear();
  for (size_t i = 0; i < queue_.size(); ++i) {
    order_.emplace_back(queue_[i].to.Key(), static_cast<uint32_t>(i));
  }
  if (order == Order::kAny) std::sort(order_.begin(), order_.end());
  // Grown to the largest flush seen, never up front: a process of a
  // thousand small relays (relay-sim) must not hold megabytes each.
  // msgs_ points into the others, so they are resized before it is built.
  if (msgs_.size() < queue_.size()) {
    const size_t size = queue_.size();
    msgs_.resize(size);
    iovs_.resize(size);
    addrs_.resize(size);
    controls_.resize(size * kControlSize);
    msg_packets_.resize(size);
    if (uring_ != nullptr) results_.resize(size);
  }

  size_t msg_count = 0;
  size_t j = 0;
  while (j < order_.size()) {
    const Entry& first = queue_[order_[j].second];
    // A run: packets of the first one's size, to one address, of which the
    // last may be shorter (UDP GSO allows a short final segment).
    size_t run = 1;
    size_t bytes = first.size;
    if (gso_enabled_) {
      while (j + run < order_.size() && run < kMaxGsoSegments &&
             order_[j + run].first == order_[j].first) {
        const size_t size = queue_[order_[j + run].second].size;
        if (size > first.size || bytes + size > kMaxGsoBytes) break;
        bytes += size;
        ++run;
        if (size < first.size) break;
      }
    }
    mmsghdr& msg = msgs_[msg_count];
    msg = mmsghdr{};
    addrs_[msg_count] = first.to.ToSockaddr();
    msg.msg_hdr.msg_name = &addrs_[msg_count];
    msg.msg_hdr.msg_namelen = sizeof(sockaddr_in);
    // Each message's iovecs start at the index of its first packet.
    iovec* iov = &iovs_[j];
    for (size_t k = 0; k < run; ++k) {
      const Entry& p = queue_[order_[j + k].second];
      iov[k].iov_base = const_cast<uint8_t*>(p.data);
      iov[k].iov_len = p.size;
    }
    msg.msg_hdr.msg_iov = iov;
    msg.msg_hdr.msg_iovlen = run;
    if (run > 1) {
      uint8_t* control = &controls_[msg_count * kControlSize];
      std::memset(control, 0, kControlSize);
      msg.msg_hdr.msg_control = control;
      msg.msg_hdr.msg_controllen = kControlSize;
      cmsghdr* cmsg = CMSG_FIRSTHDR(&msg.msg_hdr);
      cmsg->cmsg_level = SOL_UDP;
      cmsg->cmsg_type = UDP_SEGMENT;
      cmsg->cmsg_len = CMSG_LEN(sizeof(uint16_t));
      const uint16_t segment = static_cast<uint16_t>(first.size);
      std::memcpy(CMSG_DATA(cmsg), &segment, sizeof(segment));
    }
    msg_packets_[msg_count] = static_cast<uint32_t>(run);
    ++msg_count;
    j += run;
  }
  SendMessages(msg_count);
  queue_.clear();
}

void BatchSender::SendMessages(size_t count) {
  if (uring_ != nullptr && !uring_->broken()) {
    SendOnRing(count);
    return;
  }
  size_t done = 0;
  size_t retried = count;  // the message already sent again after an ICMP
  while (done < count) {
    const int n = sendmmsg(fd_, &msgs_[done],
                           static_cast<unsigned>(count - done), MSG_DONTWAIT);
    ++counters_.send_calls;
    const int err = errno;
    if (n < 0 && retried != done && media::IsReportedError(err)) {
      // An earlier packet's report (a dead child's), not this one's.
      retried = done;
      continue;
    }
    if (n > 0) {
      for (int i = 0; i < n; ++i) Sent(done + i);
      done += static_cast<size_t>(n);
      continue;
    }
    if (err == EAGAIN || err == EWOULDBLOCK || err == ENOBUFS) {
      // The socket buffer is full: drop the rest rather than block the loop.
      for (size_t i = done; i < count; ++i) {
        counters_.send_errors += msg_packets_[i];
      }
      return;
    }
    Failed(done, err);
    ++done;
  }
}

void BatchSender::SendOnRing(size_t count) {
  counters_.send_calls += uring_->Send(msgs_.data(), count, results_.data());
  for (size_t i = 0; i < count; ++i) {
    int result = results_[i];
    // An earlier packet's report took this send's place (tried once more),
    // or the ring held it back behind a failed one of its destination.
    if (result == -ECANCELED ||
        (result < 0 && media::IsReportedError(-result))) {
      result = static_cast<int>(sendmsg(fd_, &msgs_[i].msg_hdr, MSG_DONTWAIT));
      ++counters_.send_calls;
      if (result < 0) result = -errno;
    }
    if (result >= 0) {
      Sent(i);
    } else {
      // A full socket buffer fails each message on its own (EAGAIN,
      // ENOBUFS) rather than the rest of the flush.
      Failed(i, -result);
    }
  }
}

void BatchSender::Failed(size_t i, int err) {
  const uint32_t packets = msg_packets_[i];
  if (packets > 1 && (err == EIO || err == EINVAL || err == ENOPROTOOPT)) {
    // GSO refused here: from now on one datagram per packet.
    gso_enabled_ = false;
    msghdr& hdr = msgs_[i].msg_hdr;
    for (size_t k = 0; k < hdr.msg_iovlen; ++k) {
      if (sendto(fd_, hdr.msg_iov[k].iov_base, hdr.msg_iov[k].iov_len,
                 MSG_DONTWAIT, static_cast<sockaddr*>(hdr.msg_name),
                 hdr.msg_namelen) < 0) {
        ++counters_.send_errors;
      } else {
        ++counters_.datagrams_sent;
      }
    }
  } else {
    counters_.send_errors += packets;
  }
}

}  // namespace cascade::relay
