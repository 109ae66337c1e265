#include "tools/bench/forwarding_bench.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "absl/strings/str_cat.h"
#include "base/subprocess.h"
#include "tools/bench/process.h"
#include "tools/bench/udp_drops.h"

namespace cascade::bench {

double InputRate(int fanout, double out_pps, double min_input_pps) {
  return std::max(min_input_pps, out_pps / std::max(1, fanout));
}

ForwardingResult MedianOf(std::vector<ForwardingResult> results) {
  std::vector<ForwardingResult> ran;
  for (ForwardingResult& r : results) {
    if (r.error.empty()) ran.push_back(std::move(r));
  }
  if (ran.empty()) return results.empty() ? ForwardingResult{} : results.back();
  std::sort(ran.begin(), ran.end(),
            [](const ForwardingResult& a, const ForwardingResult& b) {
              return a.ns_per_packet < b.ns_per_packet;
            });
  ForwardingResult median = ran[ran.size() / 2];
  median.runs = static_cast<int>(ran.size());
  median.ns_min = ran.front().ns_per_packet;
  median.ns_max = ran.back().ns_per_packet;
  return median;
}

ForwardingResult RunForwardingCase(const Forwarder& forwarder, int fanout,
                                   const VideoShape& shape,
                                   absl::Duration duration,
                                   const std::string& work_dir) {
  ForwardingResult result;
  result.forwarder = forwarder.name();
  result.fanout = fanout;
  result.shape = shape;

  absl::StatusOr<std::unique_ptr<ReceiverSet>> receivers =
      ReceiverSet::Open(fanout);
  if (!receivers.ok()) {
    result.error = std::string(receivers.status().message());
    return result;
  }
  absl::StatusOr<int> port = ReserveLoopbackPort();
  if (!port.ok()) {
    result.error = std::string(port.status().message());
    return result;
  }
  ForwarderSetup setup;
  setup.listen = *SocketAddress::Parse(absl::StrCat("127.0.0.1:", *port));
  setup.children = (*receivers)->addresses();
  setup.work_dir = work_dir;
  absl::StatusOr<std::unique_ptr<Blaster>> blaster =
      Blaster::Open(setup.listen);
  if (!blaster.ok()) {
    result.error = std::string(blaster.status().message());
    return result;
  }
  setup.source = (*blaster)->local_address();
  absl::StatusOr<std::unique_ptr<Subprocess>> process = forwarder.Start(setup);
  if (!process.ok()) {
    result.error = std::string(process.status().message());
    return result;
  }

  // Ready when one frame has reached every child: the process is up and has
  // learnt all its children.
  const absl::Time ready_deadline = absl::Now() + absl::Seconds(5);
  while ((*receivers)->children_reached() < fanout) {
    if (!(*process)->Running() || absl::Now() > ready_deadline) {
      result.error =
          absl::StrCat("reached ", (*receivers)->children_reached(), " of ",
                       fanout, " children within 5 s (",
                       ExitText((*process)->Stop(absl::Seconds(2))),
                       "); log: ", FileTail(forwarder.LogPath(setup)));
      return result;
    }
    (*blaster)->Send(shape, 1);
    absl::SleepFor(absl::Milliseconds(50));
  }
  (*receivers)->WaitQuiet(absl::Milliseconds(100), absl::Seconds(1));

  // Sums the kernel's drop counters of the forwarder's input socket and of
  // the receivers' sockets.
  auto drops = [&]() -> std::pair<uint64_t, uint64_t> {
    const absl::flat_hash_map<int, uint64_t> by_port = UdpDropsByPort();
    auto at = [&](int port) {
      auto it = by_port.find(port);
      return it == by_port.end() ? uint64_t{0} : it->second;
    };
    uint64_t receiver = 0;
    for (const SocketAddress& child : setup.children)
      receiver += at(child.port());
    return {at(setup.listen.port()), receiver};
  };
  const auto drops_before = drops();
  const uint64_t received_before = (*receivers)->received();
  absl::StatusOr<std::map<pid_t, uint64_t>> cpu_before =
      ThreadCpuNanos((*process)->pid());
  (*receivers)->StartLatency();
  const absl::Time start = absl::Now();
  const uint64_t frames = static_cast<uint64_t>(
      std::ceil(absl::ToDoubleSeconds(duration) * shape.frames_per_second));
  // A sender starved of CPU runs late: cut it off at 1.5x the duration.
  result.sent = (*blaster)->Send(shape, frames, start + duration * 1.5);
  result.seconds = absl::ToDoubleSeconds(absl::Now() - start);
  (*receivers)->WaitQuiet(absl::Milliseconds(200), absl::Seconds(2));
  const double wall_seconds = absl::ToDoubleSeconds(absl::Now() - start);
  absl::StatusOr<std::map<pid_t, uint64_t>> cpu_after =
      ThreadCpuNanos((*process)->pid());
  result.latency = (*receivers)->TakeLatency();
  result.delivered = (*receivers)->received() - received_before;
  const auto drops_after = drops();
  result.input_drops = drops_after.first - drops_before.first;
  result.receiver_drops = drops_after.second - drops_before.second;
  if (!cpu_before.ok() || !cpu_after.ok()) {
    result.error =
        absl::StrCat("no CPU time for pid ", (*process)->pid(), " (",
                     ExitText((*process)->Stop(absl::Seconds(2))), ")");
    return result;
  }
  if (!(*process)->Running()) {
    result.error = absl::StrCat("forwarder died (",
                                ExitText((*process)->Stop(absl::Seconds(2))),
                                "); log: ", FileTail(forwarder.LogPath(setup)));
    return result;
  }
  (*process)->Stop(absl::Seconds(2)).IgnoreError();

  // Per thread: the busiest one bounds what more cores could give.
  double cpu_ns = 0;
  double busiest_ns = 0;
  for (const auto& [tid, after] : *cpu_after) {
    auto before = cpu_before->find(tid);
    const double ns = static_cast<double>(
        after - (before != cpu_before->end() ? before->second : 0));
    cpu_ns += ns;
    busiest_ns = std::max(busiest_ns, ns);
  }
  const double expected = static_cast<double>(result.sent) * fanout;
  result.delivered_pps = result.delivered / std::max(1e-9, result.seconds);
  result.loss_ratio =
      expected > 0 ? std::max(0.0, 1 - result.delivered / expected) : 0;
  result.ns_per_packet = result.delivered > 0 ? cpu_ns / result.delivered : 0;
  result.cpu_share = cpu_ns / 1e9 / wall_seconds;
  result.busiest_thread_share = cpu_ns > 0 ? busiest_ns / cpu_ns : 1;
  result.ns_min = result.ns_max = result.ns_per_packet;
  return result;
}

}  // namespace cascade::bench
