#include "tools/bench/fanout_loop.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif

namespace cascade::bench {
namespace {

// sendmmsg takes at most UIO_MAXIOV messages per call.
constexpr size_t kMaxMessages = 1024;
// A GSO message stays under the 64 KiB IP limit and the kernel's segment cap.
constexpr size_t kMaxGsoBytes = 60000;
constexpr size_t kMaxGsoSegments = 64;
constexpr size_t kControlBytes = CMSG_SPACE(sizeof(uint16_t));

absl::Status Errno(absl::string_view what) {
  return absl::UnavailableError(absl::StrCat(what, ": ", strerror(errno)));
}

}  // namespace

absl::StatusOr<FanoutMode> ParseFanoutMode(absl::string_view text) {
  if (text == "sendmmsg") return FanoutMode::kSendmmsg;
  if (text == "gso") return FanoutMode::kGso;
  return absl::InvalidArgumentError(
      absl::StrCat("mode '", text, "' is neither sendmmsg nor gso"));
}

FanoutLoop::FanoutLoop(FanoutMode mode, int fd,
                       std::vector<SocketAddress> children)
    : mode_(mode),
      fd_(fd),
      children_(std::move(children)),
      buffers_(kBatch * kMaxDatagram),
      receive_iovs_(kBatch),
      receive_messages_(kBatch),
      messages_(kMaxMessages),
      segments_(kMaxMessages),
      send_iovs_(kBatch),
      controls_(kBatch * kControlBytes) {
  for (int i = 0; i < kBatch; ++i) {
    receive_iovs_[i] = {&buffers_[i * kMaxDatagram], kMaxDatagram};
    receive_messages_[i].msg_hdr = {};
    receive_messages_[i].msg_hdr.msg_iov = &receive_iovs_[i];
    receive_messages_[i].msg_hdr.msg_iovlen = 1;
  }
}

FanoutLoop::~FanoutLoop() { close(fd_); }

absl::StatusOr<std::unique_ptr<FanoutLoop>> FanoutLoop::Create(
    FanoutMode mode, const SocketAddress& listen,
    std::vector<SocketAddress> children) {
  if (children.empty()) return absl::InvalidArgumentError("no children");
  for (const SocketAddress& child : children) {
    if (child.storage.ss_family != listen.storage.ss_family) {
      return absl::InvalidArgumentError(absl::StrCat(
          "child ", child.ToString(), " is not in the listen address family"));
    }
  }
  const int fd = socket(listen.storage.ss_family, SOCK_DGRAM, 0);
  if (fd < 0) return Errno("socket");
  std::unique_ptr<FanoutLoop> loop(
      new FanoutLoop(mode, fd, std::move(children)));
  if (bind(fd, listen.get(), listen.size()) != 0) {
    return Errno(absl::StrCat("bind ", listen.ToString()));
  }
  socklen_t length = sizeof(loop->listen_address_.storage);
  getsockname(fd, loop->listen_address_.get(), &length);
  // Big buffers and a receive timeout so Run can notice `stop`. Buffer sizes
  // are best effort (capped by rmem_max / wmem_max).
  const int buffer_bytes = 4 << 20;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buffer_bytes, sizeof(buffer_bytes));
  setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buffer_bytes, sizeof(buffer_bytes));
  const timeval timeout{0, 100000};
  if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout)) != 0) {
    return Errno("SO_RCVTIMEO");
  }
  return loop;
}

void FanoutLoop::Run(const std::atomic<bool>& stop) {
  while (!stop.load(std::memory_order_relaxed)) {
    // MSG_WAITFORONE: block for the first datagram, then take what is queued.
    const int count = recvmmsg(fd_, receive_messages_.data(), kBatch,
                               MSG_WAITFORONE, nullptr);
    if (count <= 0) continue;  // timeout or signal: check `stop`
    counters_.received += count;
    int kept = 0;
    for (int i = 0; i < count; ++i) {
      if (receive_messages_[i].msg_hdr.msg_flags & MSG_TRUNC) {
        ++counters_.truncated;
        continue;
      }
      if (kept != i) {
        std::memcpy(&buffers_[kept * kMaxDatagram], &buffers_[i * kMaxDatagram],
                    receive_messages_[i].msg_len);
        receive_messages_[kept].msg_len = receive_messages_[i].msg_len;
      }
      ++kept;
    }
    if (mode_ == FanoutMode::kGso) {
      SendGso(kept);
    } else {
      SendEach(kept);
    }
  }
}

void FanoutLoop::SendEach(int count) {
  size_t used = 0;
  for (int packet = 0; packet < count; ++packet) {
    send_iovs_[packet] = {&buffers_[packet * kMaxDatagram],
                          receive_messages_[packet].msg_len};
    for (const SocketAddress& child : children_) {
      msghdr& header = messages_[used].msg_hdr;
      header = {};
      header.msg_name = const_cast<sockaddr*>(child.get());
      header.msg_namelen = child.size();
      header.msg_iov = &send_iovs_[packet];
      header.msg_iovlen = 1;
      segments_[used] = 1;
      if (++used == kMaxMessages) {
        Flush(used);
        used = 0;
      }
    }
  }
  Flush(used);
}

void FanoutLoop::SendGso(int count) {
  size_t used = 0;
  int run_index = 0;
  for (int start = 0; start < count; ++run_index) {
    // A run: equal-size datagrams, optionally ending with one shorter one
    // (the kernel allows only the last segment to be short).
    const size_t size = receive_messages_[start].msg_len;
    // An empty datagram goes alone: zero-size segments cannot be told apart.
    const size_t max_segments =
        size == 0 ? 1
                  : std::min(kMaxGsoSegments,
                             std::max<size_t>(1, kMaxGsoBytes / size));
    int end = start + 1;
    while (end < count && static_cast<size_t>(end - start) < max_segments &&
           receive_messages_[end].msg_len == size) {
      ++end;
    }
    if (end < count && static_cast<size_t>(end - start) < max_segments &&
        receive_messages_[end].msg_len < size) {
      ++end;
    }
    for (int i = start; i < end; ++i) {
      send_iovs_[i] = {&buffers_[i * kMaxDatagram],
                       receive_messages_[i].msg_len};
    }
    char* control = &controls_[run_index * kControlBytes];
    std::memset(control, 0, kControlBytes);
    auto* cmsg = reinterpret_cast<cmsghdr*>(control);
    cmsg->cmsg_level = SOL_UDP;
    cmsg->cmsg_type = UDP_SEGMENT;
    cmsg->cmsg_len = CMSG_LEN(sizeof(uint16_t));
    const uint16_t gso_size = static_cast<uint16_t>(size);
    std::memcpy(CMSG_DATA(cmsg), &gso_size, sizeof(gso_size));
    for (const SocketAddress& child : children_) {
      msghdr& header = messages_[used].msg_hdr;
      header = {};
      header.msg_name = const_cast<sockaddr*>(child.get());
      header.msg_namelen = child.size();
      header.msg_iov = &send_iovs_[start];
      header.msg_iovlen = end - start;
      header.msg_control = control;
      header.msg_controllen = kControlBytes;
      segments_[used] = end - start;
      if (++used == kMaxMessages) {
        Flush(used);
        used = 0;
      }
    }
    start = end;
  }
  Flush(used);
}

void FanoutLoop::Flush(size_t count) {
  size_t done = 0;
  while (done < count) {
    ++counters_.send_calls;
    const int sent = sendmmsg(fd_, &messages_[done], count - done, 0);
    if (sent < 0) {
      if (errno == EINTR) continue;
      // The first message failed: count its datagrams and go past it.
      counters_.send_errors += segments_[done];
      ++done;
      continue;
    }
    for (int i = 0; i < sent; ++i) counters_.sent += segments_[done + i];
    done += sent;
  }
}

}  // namespace cascade::bench
