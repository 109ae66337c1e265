#ifndef CASCADE_TOOLS_PROBE_PROBE_H_
#define CASCADE_TOOLS_PROBE_PROBE_H_

// relay-probe's engine: any number of sites in one thread, each with its own
// socket, driven by one epoll loop; totals over all sites every interval and
// at the end.

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "tools/media/stats.h"
#include "tools/media/udp.h"
#include "tools/probe/site.h"

namespace cascade {
namespace probe {

// Sums over sites plus latency over all their samples.
struct Totals {
  int sites = 0;
  // Summed; first_frame: the slowest decoding site; longest_gap: the
  // longest at any site.
  SiteReport counters;
  int sites_on_standby = 0;  // children whose active parent is not the primary
  int sites_with_pictures = 0;  // decoding sites that showed a picture
  int decoding_sites = 0;
  absl::Duration latency_p50;
  absl::Duration latency_p99;
  absl::Duration latency_max;
  size_t latency_samples = 0;
  // Passed to Run's on_interval: the longest stall at any site that ended
  // within the interval.
  absl::Duration interval_gap;
};

class Probe {
 public:
  // `transports`: empty, or one per site (null: plain RTP), e.g. WHEP
  // viewers' WebRTC sessions.
  static absl::StatusOr<std::unique_ptr<Probe>> Create(
      const std::vector<SiteOptions>& sites,
      std::vector<std::unique_ptr<SiteTransport>> transports = {});
  ~Probe();

  // Runs until `duration` is over (zero: until Stop()). `on_interval` gets
  // the totals (latency of that interval only) every `interval`.
  void Run(absl::Duration duration, absl::Duration interval,
           const std::function<void(absl::Duration elapsed, const Totals&)>&
               on_interval);
  void Stop() { stop_.store(true); }
  // Runs `task` on Run's thread at its next turn (within a tick, ~20 ms;
  // posted before Run: at its start); safe from any thread. For what another
  // thread learns, e.g. topologyd's stream keys for the sites.
  void Post(std::function<void()> task);
  // Also ends a run once no media has arrived for `idle` after the first
  // packet (the stream ended; RTCP keeps coming from a relay); zero: never.
  void set_idle_exit(absl::Duration idle) { idle_exit_ = idle; }

  const std::vector<std::unique_ptr<Site>>& sites() const { return sites_; }
  // Totals for the whole run.
  Totals Final() const;

 private:
  explicit Probe(int epoll_fd) : epoll_fd_(epoll_fd) {}
  Totals Sum(const media::LatencyStats& latency) const;

  // Runs the posted tasks (the loop's thread).
  void RunPosted();

  int epoll_fd_;
  absl::Mutex posted_mu_;
  std::vector<std::function<void()>> posted_ ABSL_GUARDED_BY(posted_mu_);
  std::atomic<bool> has_posted_{false};
  media::LatencyStats total_latency_{1 << 22};
  media::LatencyStats interval_latency_{1 << 20};
  absl::Duration interval_gap_;
  std::vector<std::unique_ptr<Site>> sites_;
  media::Receiver receiver_;
  absl::Duration idle_exit_ = absl::ZeroDuration();
  std::atomic<bool> stop_{false};
};

}  // namespace probe
}  // namespace cascade

#endif  // CASCADE_TOOLS_PROBE_PROBE_H_
