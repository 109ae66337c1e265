// The forwarding and latency benchmarks' load: a blaster sending video-shaped
// RTP stamped with its send time, and a set of receivers that count every
// packet and, on request, record each packet's one-way delay.
#ifndef CASCADE_TOOLS_BENCH_RTP_LOAD_H_
#define CASCADE_TOOLS_BENCH_RTP_LOAD_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "tools/bench/latency.h"
#include "tools/impair/socket_address.h"

namespace cascade::bench {

constexpr uint32_t kBenchSsrc = 0x0CA5CADE;
constexpr size_t kRtpHeaderBytes = 12;

// Frames as an H.264 packetiser makes them: a burst of equal full-size
// packets and a shorter last one (marker bit set), at a steady frame rate.
struct VideoShape {
  int packets_per_frame = 7;
  double frames_per_second = 30;
  size_t packet_bytes = 1200;  // RTP header included

  double packets_per_second() const {
    return packets_per_frame * frames_per_second;
  }
  // The size of packet `index` (0-based) of frame `frame`; the last packet's
  // size varies between frames, always shorter than packet_bytes.
  size_t PacketSize(uint64_t frame, int index) const;

  // A shape for `packets_per_second`: 30 fps while frames stay at most
  // `max_packets_per_frame`, else more frames per second of that size.
  static VideoShape ForRate(double packets_per_second,
                            int max_packets_per_frame = 32);
};

// Sends frames from one socket to one address, paced by the clock.
class Blaster {
 public:
  static absl::StatusOr<std::unique_ptr<Blaster>> Open(
      const SocketAddress& target);
  ~Blaster();

  // Sends `frames` frames paced at the shape's frame rate, or fewer when
  // `deadline` passes first (a starved sender falls behind; the case stays
  // bounded). Returns packets sent.
  uint64_t Send(const VideoShape& shape, uint64_t frames,
                absl::Time deadline = absl::InfiniteFuture());
  // The address packets come from (a relay's parent is this address).
  SocketAddress local_address() const;

 private:
  explicit Blaster(int fd) : fd_(fd) {}
  void SendFrame(const VideoShape& shape);

  const int fd_;
  uint16_t sequence_ = 0;
  uint64_t frame_ = 0;
  uint64_t sent_ = 0;
};

// N sockets on 127.0.0.1 (kernel-chosen ports), read by one thread with epoll
// and recvmmsg, counting datagrams that carry the benchmark's SSRC.
class ReceiverSet {
 public:
  static absl::StatusOr<std::unique_ptr<ReceiverSet>> Open(int count);
  ~ReceiverSet();  // stops the thread

  const std::vector<SocketAddress>& addresses() const { return addresses_; }
  uint64_t received() const {
    return received_.load(std::memory_order_relaxed);
  }
  uint64_t foreign() const { return foreign_.load(std::memory_order_relaxed); }
  // Children that have received at least one packet.
  int children_reached() const {
    return reached_.load(std::memory_order_relaxed);
  }
  // Waits until received() stops moving for `quiet` (at most `limit`).
  void WaitQuiet(absl::Duration quiet, absl::Duration limit) const;

  // From now on, records the delay (receive time - send time in the packet)
  // of every packet of ours, up to kMaxLatencySamples.
  void StartLatency();
  // Stops recording and summarises what was recorded since StartLatency().
  LatencySummary TakeLatency();

  static constexpr size_t kMaxLatencySamples = size_t{1} << 22;

 private:
  ReceiverSet() = default;
  void Loop();

  int epoll_fd_ = -1;
  std::vector<int> fds_;
  std::vector<SocketAddress> addresses_;
  std::vector<bool> seen_;  // read only by the receiving thread
  std::atomic<uint64_t> received_{0};
  std::atomic<uint64_t> foreign_{0};
  std::atomic<int> reached_{0};
  std::atomic<bool> stop_{false};
  std::atomic<bool> recording_{false};
  std::mutex latency_mutex_;
  std::vector<int64_t> delays_ns_;  // guarded by latency_mutex_
  std::thread thread_;
};

}  // namespace cascade::bench

#endif  // CASCADE_TOOLS_BENCH_RTP_LOAD_H_
