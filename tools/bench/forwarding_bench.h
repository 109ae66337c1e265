// The forwarding benchmark: video-shaped RTP into one forwarder with N
// children; delivered packets/s, loss, and the forwarder's CPU per delivered
// packet.
#ifndef CASCADE_TOOLS_BENCH_FORWARDING_BENCH_H_
#define CASCADE_TOOLS_BENCH_FORWARDING_BENCH_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "tools/bench/forwarder.h"
#include "tools/bench/latency.h"
#include "tools/bench/rtp_load.h"

namespace cascade::bench {

struct ForwardingResult {
  std::string forwarder;
  int fanout = 0;
  VideoShape shape;
  std::string error;       // empty when the case ran
  uint64_t sent = 0;       // packets the blaster sent in the window
  uint64_t delivered = 0;  // packets the receivers counted in the window
  double seconds = 0;      // length of the sending window
  double delivered_pps = 0;
  double loss_ratio = 0;
  // Where packets were lost, from the kernel's per-socket counters: at the
  // forwarder's input socket (it fell behind) and at the receivers' sockets
  // (the harness fell behind; not the forwarder's fault).
  uint64_t input_drops = 0;
  uint64_t receiver_drops = 0;
  double ns_per_packet = 0;  // forwarder CPU ns per delivered packet
  double cpu_share = 0;      // forwarder CPU time / wall time (1 = one core)
  // The busiest thread's part of the forwarder's CPU: the work spreads over
  // 1 / busiest_thread_share cores at most, however many are idle.
  double busiest_thread_share = 1;
  // Over repetitions (see MedianOf): how many ran, and the ns_per_packet range.
  int runs = 1;
  double ns_min = 0;
  double ns_max = 0;
  // One-way delay blaster -> forwarder -> receiver of the window's packets.
  LatencySummary latency;
};

// The run with the median ns_per_packet among those without error, with
// runs / ns_min / ns_max filled in; the last error when all failed.
ForwardingResult MedianOf(std::vector<ForwardingResult> results);

// One forwarder at one fan-out, `duration` of load at `shape`'s rate. Every
// step is bounded: start-up 5 s, sending 1.5x duration, drain 2 s. Packets
// not delivered by the end of the drain count as lost.
ForwardingResult RunForwardingCase(const Forwarder& forwarder, int fanout,
                                   const VideoShape& shape,
                                   absl::Duration duration,
                                   const std::string& work_dir);

// The input rate for a fan-out: out_pps / fanout, at least min_input_pps.
double InputRate(int fanout, double out_pps, double min_input_pps);

}  // namespace cascade::bench

#endif  // CASCADE_TOOLS_BENCH_FORWARDING_BENCH_H_
