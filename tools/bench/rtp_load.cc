#include "tools/bench/rtp_load.h"

#include <arpa/inet.h>
#include <errno.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace cascade::bench {
namespace {

constexpr int kRtpVideoClock = 90000;

absl::Status Errno(absl::string_view what) {
  return absl::UnavailableError(absl::StrCat(what, ": ", strerror(errno)));
}

void AddNanos(timespec& t, int64_t nanos) {
  const int64_t total = t.tv_nsec + nanos;
  t.tv_sec += total / 1000000000;
  t.tv_nsec = total % 1000000000;
}

}  // namespace

size_t VideoShape::PacketSize(uint64_t frame, int index) const {
  if (index + 1 < packets_per_frame) return packet_bytes;
  // The tail of a frame: anywhere from a quarter to most of a full packet.
  const size_t floor = std::max<size_t>(kRtpHeaderBytes + 1, packet_bytes / 4);
  const size_t span = packet_bytes - floor - 1;
  return floor + (frame * 7919) % span;
}

VideoShape VideoShape::ForRate(double packets_per_second,
                               int max_packets_per_frame) {
  VideoShape shape;
  const double at_30fps = packets_per_second / 30;
  shape.packets_per_frame = std::clamp(static_cast<int>(std::lround(at_30fps)),
                                       2, max_packets_per_frame);
  shape.frames_per_second = packets_per_second / shape.packets_per_frame;
  return shape;
}

absl::StatusOr<std::unique_ptr<Blaster>> Blaster::Open(
    const SocketAddress& target) {
  const int fd = socket(target.storage.ss_family, SOCK_DGRAM, 0);
  if (fd < 0) return Errno("socket");
  std::unique_ptr<Blaster> blaster(new Blaster(fd));
  const int buffer_bytes = 4 << 20;
  setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buffer_bytes, sizeof(buffer_bytes));
  if (connect(fd, target.get(), target.size()) != 0) {
    return Errno(absl::StrCat("connect ", target.ToString()));
  }
  return blaster;
}

Blaster::~Blaster() { close(fd_); }

SocketAddress Blaster::local_address() const {
  SocketAddress local;
  socklen_t length = sizeof(local.storage);
  getsockname(fd_, local.get(), &length);
  return local;
}

void Blaster::SendFrame(const VideoShape& shape) {
  constexpr int kMaxBurst = 64;
  static char payload[2048];  // content past the send time is irrelevant
  char headers[kMaxBurst][kTimedHeaderBytes];
  iovec iovs[kMaxBurst][2];
  mmsghdr messages[kMaxBurst] = {};
  const int count = std::min(shape.packets_per_frame, kMaxBurst);
  const uint32_t timestamp = static_cast<uint32_t>(
      frame_ * kRtpVideoClock / std::max(1.0, shape.frames_per_second));
  // One send time for the burst: it leaves in one sendmmsg call.
  const int64_t send_time = RealtimeNanos();
  for (int i = 0; i < count; ++i) {
    const bool last = i + 1 == count;
    char* h = headers[i];
    h[0] = static_cast<char>(0x80);                    // RTP version 2
    h[1] = static_cast<char>((last ? 0x80 : 0) | 96);  // marker, PT 96
    const uint16_t sequence = htons(sequence_++);
    const uint32_t ts = htonl(timestamp);
    const uint32_t ssrc = htonl(kBenchSsrc);
    std::memcpy(h + 2, &sequence, 2);
    std::memcpy(h + 4, &ts, 4);
    std::memcpy(h + 8, &ssrc, 4);
    EncodeSendTime(send_time, absl::Span<char>(h, kTimedHeaderBytes));
    const size_t size =
        std::clamp(shape.PacketSize(frame_, i), kTimedHeaderBytes,
                   sizeof(payload) + kTimedHeaderBytes);
    iovs[i][0] = {h, kTimedHeaderBytes};
    iovs[i][1] = {payload, size - kTimedHeaderBytes};
    messages[i].msg_hdr.msg_iov = iovs[i];
    messages[i].msg_hdr.msg_iovlen = 2;
  }
  int done = 0;
  while (done < count) {
    const int sent = sendmmsg(fd_, messages + done, count - done, 0);
    if (sent <= 0) break;  // a refused burst counts as not sent
    done += sent;
  }
  sent_ += done;
  ++frame_;
}

uint64_t Blaster::Send(const VideoShape& shape, uint64_t frames,
                       absl::Time deadline) {
  const uint64_t before = sent_;
  const int64_t interval_ns =
      static_cast<int64_t>(1e9 / std::max(0.1, shape.frames_per_second));
  timespec next;
  clock_gettime(CLOCK_MONOTONIC, &next);
  for (uint64_t f = 0; f < frames && absl::Now() < deadline; ++f) {
    SendFrame(shape);
    AddNanos(next, interval_ns);
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, nullptr) ==
           EINTR) {
    }
  }
  return sent_ - before;
}

absl::StatusOr<std::unique_ptr<ReceiverSet>> ReceiverSet::Open(int count) {
  std::unique_ptr<ReceiverSet> set(new ReceiverSet());
  set->epoll_fd_ = epoll_create1(0);
  if (set->epoll_fd_ < 0) return Errno("epoll_create1");
  const SocketAddress any = *SocketAddress::Parse("127.0.0.1:0");
  for (int i = 0; i < count; ++i) {
    const int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    if (fd < 0) return Errno("socket");
    set->fds_.push_back(fd);
    if (bind(fd, any.get(), any.size()) != 0) return Errno("bind");
    // Deep buffers so a descheduled receiver thread loses nothing, within
    // 256 MiB across all sockets.
    const int buffer_bytes = std::min(4 << 20, (256 << 20) / count);
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buffer_bytes, sizeof(buffer_bytes));
    // The kernel stamps each datagram on arrival (see latency.h).
    const int on = 1;
    if (setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof(on)) != 0) {
      return Errno("setsockopt(SO_TIMESTAMPNS)");
    }
    SocketAddress bound;
    socklen_t length = sizeof(bound.storage);
    getsockname(fd, bound.get(), &length);
    set->addresses_.push_back(bound);
    epoll_event event{};
    event.events = EPOLLIN;
    event.data.u32 = static_cast<uint32_t>(i);
    if (epoll_ctl(set->epoll_fd_, EPOLL_CTL_ADD, fd, &event) != 0) {
      return Errno("epoll_ctl");
    }
  }
  set->seen_.assign(count, false);
  set->thread_ = std::thread([raw = set.get()] { raw->Loop(); });
  return set;
}

ReceiverSet::~ReceiverSet() {
  stop_.store(true);
  if (thread_.joinable()) thread_.join();
  for (int fd : fds_) close(fd);
  if (epoll_fd_ >= 0) close(epoll_fd_);
}

namespace {

// The kernel's receive timestamp of a datagram, or `fallback`.
int64_t ArrivalNanos(const msghdr& message, int64_t fallback) {
  for (const cmsghdr* c = CMSG_FIRSTHDR(&message); c != nullptr;
       c = CMSG_NXTHDR(const_cast<msghdr*>(&message),
                       const_cast<cmsghdr*>(c))) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
      timespec at;
      std::memcpy(&at, CMSG_DATA(c), sizeof(at));
      return static_cast<int64_t>(at.tv_sec) * 1000000000 + at.tv_nsec;
    }
  }
  return fallback;
}

}  // namespace

void ReceiverSet::Loop() {
  constexpr int kBatch = 64;
  // Only the RTP header and the send time are read (short reads skip the
  // payload copy): enough to check the SSRC and time the packet, and the
  // harness stays cheap.
  char headers[kBatch][kTimedHeaderBytes];
  iovec iovs[kBatch];
  mmsghdr messages[kBatch] = {};
  alignas(cmsghdr) char controls[kBatch][CMSG_SPACE(sizeof(timespec))];
  int64_t delays[kBatch];
  for (int i = 0; i < kBatch; ++i) {
    iovs[i] = {headers[i], kTimedHeaderBytes};
    messages[i].msg_hdr.msg_iov = &iovs[i];
    messages[i].msg_hdr.msg_iovlen = 1;
  }
  epoll_event events[256];
  while (!stop_.load(std::memory_order_relaxed)) {
    const int ready = epoll_wait(epoll_fd_, events, 256, 100);
    for (int e = 0; e < ready; ++e) {
      const uint32_t index = events[e].data.u32;
      for (int i = 0; i < kBatch; ++i) {
        messages[i].msg_hdr.msg_control = controls[i];
        messages[i].msg_hdr.msg_controllen = sizeof(controls[i]);
      }
      const int count =
          recvmmsg(fds_[index], messages, kBatch, MSG_DONTWAIT, nullptr);
      if (count <= 0) continue;
      const bool recording = recording_.load(std::memory_order_relaxed);
      // For a datagram the kernel did not stamp: when it was read.
      const int64_t now = recording ? RealtimeNanos() : 0;
      uint64_t ours = 0;
      int timed = 0;
      for (int i = 0; i < count; ++i) {
        uint32_t ssrc = 0;
        const size_t length =
            std::min<size_t>(messages[i].msg_len, kTimedHeaderBytes);
        if (length >= kRtpHeaderBytes) std::memcpy(&ssrc, headers[i] + 8, 4);
        if (ntohl(ssrc) != kBenchSsrc) continue;
        ++ours;
        if (!recording) continue;
        const std::optional<int64_t> sent =
            DecodeSendTime(absl::Span<const char>(headers[i], length));
        if (sent)
          delays[timed++] = ArrivalNanos(messages[i].msg_hdr, now) - *sent;
      }
      if (timed > 0) {
        std::lock_guard<std::mutex> lock(latency_mutex_);
        const size_t room = kMaxLatencySamples - delays_ns_.size();
        delays_ns_.insert(delays_ns_.end(), delays,
                          delays + std::min<size_t>(timed, room));
      }
      received_.fetch_add(ours, std::memory_order_relaxed);
      foreign_.fetch_add(count - ours, std::memory_order_relaxed);
      if (ours > 0 && !seen_[index]) {
        seen_[index] = true;
        reached_.fetch_add(1, std::memory_order_relaxed);
      }
    }
  }
}

void ReceiverSet::StartLatency() {
  {
    std::lock_guard<std::mutex> lock(latency_mutex_);
    delays_ns_.clear();
  }
  recording_.store(true);
}

LatencySummary ReceiverSet::TakeLatency() {
  recording_.store(false);
  std::lock_guard<std::mutex> lock(latency_mutex_);
  return Summarize(delays_ns_);
}

void ReceiverSet::WaitQuiet(absl::Duration quiet, absl::Duration limit) const {
  const absl::Time deadline = absl::Now() + limit;
  uint64_t last = received();
  absl::Time last_change = absl::Now();
  while (absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(10));
    const uint64_t now_received = received();
    if (now_received != last) {
      last = now_received;
      last_change = absl::Now();
    } else if (absl::Now() - last_change >= quiet) {
      return;
    }
  }
}

}  // namespace cascade::bench
