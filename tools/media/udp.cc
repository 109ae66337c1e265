#include "tools/media/udp.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <string.h>
#include <unistd.h>

#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "media/unreachable.h"

namespace cascade {
namespace media {

absl::StatusOr<UdpFd> UdpFd::Open(const media::Endpoint& local) {
  const int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return absl::InternalError(absl::StrCat("socket: ", strerror(errno)));
  }
  // Room for a keyframe burst while the loop is busy decoding.
  const int buffer = 4 << 20;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buffer, sizeof(buffer));
  setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buffer, sizeof(buffer));
  // The kernel's receive time rides with each datagram (Receiver): a reader
  // that ran late still knows when each one arrived.
  const int on = 1;
  setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof(on));
  sockaddr_in addr = local.ToSockaddr();
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    const int error = errno;
    close(fd);
    return absl::UnavailableError(
        absl::StrCat("bind ", local.ToString(), ": ", strerror(error)));
  }
  socklen_t length = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &length);
  return UdpFd(fd, media::Endpoint::FromSockaddr(addr));
}

UdpFd::UdpFd(UdpFd&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)), local_(other.local_) {}

UdpFd& UdpFd::operator=(UdpFd&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) close(fd_);
    fd_ = std::exchange(other.fd_, -1);
    local_ = other.local_;
  }
  return *this;
}

UdpFd::~UdpFd() {
  if (fd_ >= 0) close(fd_);
}

bool UdpFd::SendTo(const media::Endpoint& to,
                   absl::Span<const uint8_t> data) const {
  const sockaddr_in addr = to.ToSockaddr();
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (sendto(fd_, data.data(), data.size(), 0,
               reinterpret_cast<const sockaddr*>(&addr),
               sizeof(addr)) == static_cast<ssize_t>(data.size())) {
      return true;
    }
    // An earlier packet's ICMP report (media/unreachable.h), not this one's.
    if (!media::IsReportedError(errno)) return false;
  }
  return false;
}

namespace {

// The SO_TIMESTAMPNS time of a received message, if it carries one.
std::optional<absl::Time> KernelArrival(msghdr& header) {
  for (cmsghdr* c = CMSG_FIRSTHDR(&header); c != nullptr;
       c = CMSG_NXTHDR(&header, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
      timespec stamp;
      memcpy(&stamp, CMSG_DATA(c), sizeof(stamp));
      return absl::TimeFromTimespec(stamp);
    }
  }
  return std::nullopt;
}

}  // namespace

Receiver::Receiver()
    : buffers_(kBatch),
      controls_(kBatch),
      msgs_(kBatch),
      iovs_(kBatch),
      addrs_(kBatch) {}

size_t Receiver::Receive(int fd, std::vector<Datagram>* out) {
  out->clear();
  for (size_t i = 0; i < kBatch; ++i) {
    iovs_[i] = iovec{buffers_[i].data(), kMaxDatagram};
    msgs_[i] = mmsghdr{};
    msgs_[i].msg_hdr.msg_name = &addrs_[i];
    msgs_[i].msg_hdr.msg_namelen = sizeof(addrs_[i]);
    msgs_[i].msg_hdr.msg_iov = &iovs_[i];
    msgs_[i].msg_hdr.msg_iovlen = 1;
    msgs_[i].msg_hdr.msg_control = controls_[i].data();
    msgs_[i].msg_hdr.msg_controllen = controls_[i].size();
  }
  int count = recvmmsg(fd, msgs_.data(), kBatch, MSG_DONTWAIT, nullptr);
  if (count < 0 && media::IsReportedError(errno)) {
    // The report goes ahead of the datagrams; it is read from the error queue.
    count = recvmmsg(fd, msgs_.data(), kBatch, MSG_DONTWAIT, nullptr);
  }
  if (count <= 0) return 0;
  const absl::Time read_at = absl::Now();
  for (int i = 0; i < count; ++i) {
    if (msgs_[i].msg_hdr.msg_flags & MSG_TRUNC) {
      ++truncated_;
      continue;
    }
    out->push_back(
        Datagram{media::Endpoint::FromSockaddr(addrs_[i]),
                 absl::MakeConstSpan(buffers_[i].data(), msgs_[i].msg_len),
                 KernelArrival(msgs_[i].msg_hdr).value_or(read_at)});
  }
  return static_cast<size_t>(count);
}

}  // namespace media
}  // namespace cascade
