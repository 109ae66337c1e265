#include "relay/udp_socket.h"

#include <errno.h>
#include <netinet/udp.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "media/unreachable.h"

namespace cascade::relay {
namespace {

constexpr int kSocketBufferBytes = 8 << 20;
// Linux limits: 64 segments per GSO send, and a UDP payload under 64 KiB.
constexpr size_t kMaxGsoSegments = 64;
constexpr size_t kMaxGsoBytes = 65000;
constexpr size_t kControlSize = CMSG_SPACE(sizeof(uint16_t));

void SetBuffer(int fd, int force_option, int option) {
  const int bytes = kSocketBufferBytes;
  // The FORCE variant passes rmem_max/wmem_max when running as root.
  if (setsockopt(fd, SOL_SOCKET, force_option, &bytes, sizeof(bytes)) != 0) {
    setsockopt(fd, SOL_SOCKET, option, &bytes, sizeof(bytes));
  }
}

}  // namespace

absl::StatusOr<std::unique_ptr<UdpSocket>> UdpSocket::Open(
    const media::Endpoint& listen, PacketPool* pool) {
  const int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return absl::InternalError(absl::StrCat("socket: ", strerror(errno)));
  }
  SetBuffer(fd, SO_RCVBUFFORCE, SO_RCVBUF);
  SetBuffer(fd, SO_SNDBUFFORCE, SO_SNDBUF);
  // A parent whose process is gone answers port unreachable.
  if (absl::Status status = media::ReportUnreachable(fd); !status.ok()) {
    close(fd);
    return status;
  }
  sockaddr_in addr = listen.ToSockaddr();
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    const int err = errno;
    close(fd);
    return absl::UnavailableError(
        absl::StrCat("bind ", listen.ToString(), ": ", strerror(err)));
  }
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  return std::unique_ptr<UdpSocket>(
      new UdpSocket(fd, media::Endpoint::FromSockaddr(addr), pool));
}

UdpSocket::UdpSocket(int fd, const media::Endpoint& local, PacketPool* pool)
    : fd_(fd), local_(local), pool_(pool) {
  queue_.reserve(kMaxQueued);
  recv_slots_.resize(kBatch);
  order_.reserve(kMaxQueued);
  // Sized once: msgs_ points into iovs_, addrs_ and controls_.
  msgs_.resize(kMaxQueued);
  iovs_.resize(kMaxQueued);
  addrs_.resize(kMaxQueued);
  controls_.resize(kMaxQueued * kControlSize);
  msg_packets_.resize(kMaxQueued);
}

UdpSocket::~UdpSocket() { close(fd_); }

bool UdpSocket::ReceiveBatch(std::vector<Received>* out, bool* errors_pending) {
  out->clear();
  size_t slots = 0;
  for (; slots < kBatch; ++slots) {
    if (!recv_slots_[slots]) recv_slots_[slots] = pool_->Acquire();
    if (!recv_slots_[slots]) break;
  }
  if (slots == 0) {
    // Drain one datagram anyway, or the poll would spin on a full socket.
    ++counters_.recv_pool_empty;
    uint8_t scratch[64];
    return recv(fd_, scratch, sizeof(scratch), MSG_DONTWAIT) >= 0;
  }
  for (size_t i = 0; i < slots; ++i) {
    iovs_[i].iov_base = recv_slots_[i].buffer().data();
    iovs_[i].iov_len = kPacketCapacity;
    msgs_[i] = mmsghdr{};
    msgs_[i].msg_hdr.msg_name = &addrs_[i];
    msgs_[i].msg_hdr.msg_namelen = sizeof(sockaddr_in);
    msgs_[i].msg_hdr.msg_iov = &iovs_[i];
    msgs_[i].msg_hdr.msg_iovlen = 1;
  }
  const int n = recvmmsg(fd_, msgs_.data(), static_cast<unsigned>(slots),
                         MSG_DONTWAIT, nullptr);
  ++counters_.recv_calls;
  if (n < 0 && media::IsReportedError(errno)) {
    // A report is returned once, ahead of the datagrams behind it.
    *errors_pending = true;
    return true;
  }
  if (n <= 0) return false;
  for (int i = 0; i < n; ++i) {
    if ((msgs_[i].msg_hdr.msg_flags & MSG_TRUNC) != 0 ||
        msgs_[i].msg_hdr.msg_namelen != sizeof(sockaddr_in)) {
      ++counters_.recv_truncated;
      continue;  // the slot stays for the next read
    }
    recv_slots_[i].set_size(msgs_[i].msg_len);
    out->push_back(Received{media::Endpoint::FromSockaddr(addrs_[i]),
                            std::move(recv_slots_[i])});
  }
  return true;
}

void UdpSocket::ReceiveErrors(std::vector<media::Endpoint>* out) {
  media::ReadUnreachable(fd_, kBatch, out);
  counters_.unreachable += out->size();
}

void UdpSocket::Send(const media::Endpoint& to, const PacketRef& packet) {
  if (queue_.size() == kMaxQueued) Flush();
  queue_.emplace_back(to, packet);
}

void UdpSocket::Flush() {
  if (queue_.empty()) return;
  // Group by destination, keeping each destination's packets in order.
  order_.clear();
  for (size_t i = 0; i < queue_.size(); ++i) {
    order_.emplace_back(queue_[i].first.Key(), static_cast<uint32_t>(i));
  }
  std::sort(order_.begin(), order_.end());

  size_t msg_count = 0;
  size_t j = 0;
  while (j < order_.size()) {
    const auto& [to, first] = queue_[order_[j].second];
    // A run: packets of the first one's size, to one address, of which the
    // last may be shorter (UDP GSO allows a short final segment).
    size_t run = 1;
    size_t bytes = first.size();
    if (gso_enabled_) {
      while (j + run < order_.size() && run < kMaxGsoSegments &&
             order_[j + run].first == order_[j].first) {
        const size_t size = queue_[order_[j + run].second].second.size();
        if (size > first.size() || bytes + size > kMaxGsoBytes) break;
        bytes += size;
        ++run;
        if (size < first.size()) break;
      }
    }
    mmsghdr& msg = msgs_[msg_count];
    msg = mmsghdr{};
    addrs_[msg_count] = to.ToSockaddr();
    msg.msg_hdr.msg_name = &addrs_[msg_count];
    msg.msg_hdr.msg_namelen = sizeof(sockaddr_in);
    // Each message's iovecs start at the index of its first packet.
    iovec* iov = &iovs_[j];
    for (size_t k = 0; k < run; ++k) {
      const PacketRef& p = queue_[order_[j + k].second].second;
      iov[k].iov_base = const_cast<uint8_t*>(p.data());
      iov[k].iov_len = p.size();
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
      const uint16_t segment = static_cast<uint16_t>(first.size());
      std::memcpy(CMSG_DATA(cmsg), &segment, sizeof(segment));
    }
    msg_packets_[msg_count] = static_cast<uint32_t>(run);
    ++msg_count;
    j += run;
  }
  SendMessages(msg_count);
  queue_.clear();
}

void UdpSocket::SendMessages(size_t count) {
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
      for (int i = 0; i < n; ++i) {
        counters_.datagrams_sent += msg_packets_[done + i];
        if (msg_packets_[done + i] > 1) ++counters_.gso_messages;
      }
      done += static_cast<size_t>(n);
      continue;
    }
    const uint32_t packets = msg_packets_[done];
    if (err == EAGAIN || err == EWOULDBLOCK || err == ENOBUFS) {
      // The socket buffer is full: drop the rest rather than block the loop.
      for (size_t i = done; i < count; ++i) {
        counters_.send_errors += msg_packets_[i];
      }
      return;
    }
    if (packets > 1 && (err == EIO || err == EINVAL || err == ENOPROTOOPT)) {
      // GSO refused here: from now on one datagram per packet.
      gso_enabled_ = false;
      msghdr& hdr = msgs_[done].msg_hdr;
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
    ++done;
  }
}

}  // namespace cascade::relay
