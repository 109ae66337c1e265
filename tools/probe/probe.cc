#include "tools/probe/probe.h"

#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <algorithm>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "media/unreachable.h"

namespace cascade {
namespace probe {
namespace {

// How often site timers (NACK, PLI, keepalive, frame assembly) run: often
// while a site has gaps to ask for, else seldom, since every wakeup of
// hundreds of processes on one machine costs more than the work it does.
constexpr absl::Duration kRepairTick = absl::Milliseconds(5);
constexpr absl::Duration kIdleTick = absl::Milliseconds(20);
// Batches read from one socket per wake-up before moving on (fairness).
constexpr int kMaxBatchesPerSocket = 8;

}  // namespace

absl::StatusOr<std::unique_ptr<Probe>> Probe::Create(
    const std::vector<SiteOptions>& sites,
    std::vector<std::unique_ptr<SiteTransport>> transports) {
  if (sites.empty()) return absl::InvalidArgumentError("no sites");
  if (!transports.empty() && transports.size() != sites.size()) {
    return absl::InvalidArgumentError("one transport per site");
  }
  transports.resize(sites.size());
  const int epoll_fd = epoll_create1(EPOLL_CLOEXEC);
  if (epoll_fd < 0) {
    return absl::InternalError(absl::StrCat("epoll: ", strerror(errno)));
  }
  std::unique_ptr<Probe> probe(new Probe(epoll_fd));
  // Sites time their first picture from here.
  const absl::Time created = absl::Now();
  for (size_t i = 0; i < sites.size(); ++i) {
    auto socket = media::UdpFd::Open(sites[i].listen);
    if (!socket.ok()) {
      return absl::Status(
          socket.status().code(),
          absl::StrCat("site ", i, ": ", socket.status().message()));
    }
    // A parent whose process is gone answers port unreachable.
    if (absl::Status status = media::ReportUnreachable(socket->fd());
        !status.ok()) {
      return status;
    }
    epoll_event event{};
    event.events = EPOLLIN | EPOLLPRI;
    event.data.u32 = static_cast<uint32_t>(i);
    if (epoll_ctl(epoll_fd, EPOLL_CTL_ADD, socket->fd(), &event) != 0) {
      return absl::InternalError(absl::StrCat("epoll_ctl: ", strerror(errno)));
    }
    probe->sites_.push_back(std::make_unique<Site>(
        sites[i], std::move(*socket), created,
        LatencySinks{&probe->total_latency_, &probe->interval_latency_,
                     &probe->interval_gap_},
        std::move(transports[i])));
  }
  return probe;
}

Probe::~Probe() { close(epoll_fd_); }

void Probe::Post(std::function<void()> task) {
  absl::MutexLock lock(&posted_mu_);
  posted_.push_back(std::move(task));
  has_posted_.store(true);
}

void Probe::RunPosted() {
  std::vector<std::function<void()>> tasks;
  {
    absl::MutexLock lock(&posted_mu_);
    tasks.swap(posted_);
    has_posted_.store(false);
  }
  for (auto& task : tasks) task();
}

void Probe::Run(
    absl::Duration duration, absl::Duration interval,
    const std::function<void(absl::Duration, const Totals&)>& on_interval) {
  // Timed from here: opening thousands of sockets in Create takes a while.
  const absl::Time start = absl::Now();
  const absl::Time end = duration > absl::ZeroDuration()
                             ? start + duration
                             : absl::InfiniteFuture();
  absl::Time next_tick = absl::Now();
  absl::Time next_report = start + interval;
  std::vector<epoll_event> events(std::min<size_t>(sites_.size(), 1024));
  std::vector<media::Receiver::Datagram> datagrams;
  std::vector<media::Endpoint> unreachable;
  std::optional<absl::Time> last_media;
  while (!stop_.load()) {
    if (has_posted_.load()) RunPosted();
    absl::Time now = absl::Now();
    if (now >= end) break;
    if (idle_exit_ > absl::ZeroDuration() && last_media.has_value() &&
        now - *last_media >= idle_exit_) {
      break;
    }
    const absl::Time wake = std::min({next_tick, next_report, end});
    const int timeout_ms = static_cast<int>(std::max<int64_t>(
        0, absl::ToInt64Milliseconds(wake - now + absl::Microseconds(999))));
    const int ready = epoll_wait(epoll_fd_, events.data(),
                                 static_cast<int>(events.size()), timeout_ms);
    for (int i = 0; i < ready; ++i) {
      Site& site = *sites_[events[i].data.u32];
      if ((events[i].events & (EPOLLPRI | EPOLLERR)) != 0) {
        media::ReadUnreachable(site.fd(), media::Receiver::kBatch,
                               &unreachable);
        for (const media::Endpoint& to : unreachable) {
          if (site.OnUnreachable(to)) next_tick = absl::Now();
        }
      }
      for (int batch = 0; batch < kMaxBatchesPerSocket; ++batch) {
        const size_t read = receiver_.Receive(site.fd(), &datagrams);
        // The kernel's arrival times: a probe that ran late measures the
        // network's gaps and latency, not its own.
        for (const auto& datagram : datagrams) {
          if (site.OnDatagram(datagram.from, datagram.data, datagram.arrival)) {
            last_media = std::max(last_media.value_or(datagram.arrival),
                                  datagram.arrival);
          }
        }
        // A short batch emptied the socket: asking again would only cost a
        // system call that finds nothing (most wake-ups bring one packet).
        if (read < media::Receiver::kBatch) break;
      }
      if (site.Repairing()) {
        next_tick = std::min(next_tick, absl::Now() + kRepairTick);
      }
    }
    // Timers after reading, so a parent is never judged silent while its
    // packets wait unread in the socket.
    now = absl::Now();
    if (now >= next_tick) {
      // Time the probe itself did not run is not its parents' silence.
      const absl::Duration late = now - next_tick;
      bool repairing = false;
      for (auto& site : sites_) {
        site->Excuse(late, now);
        site->OnTick(now);
        repairing = repairing || site->Repairing();
      }
      next_tick = now + (repairing ? kRepairTick : kIdleTick);
    }
    if (now >= next_report) {
      if (on_interval) {
        Totals totals = Sum(interval_latency_);
        totals.interval_gap = interval_gap_;
        on_interval(now - start, totals);
      }
      interval_latency_ = media::LatencyStats(1 << 20);
      interval_gap_ = absl::ZeroDuration();
      next_report += interval;
    }
  }
  // Frames still waiting for a repair get their last chance to count.
  const absl::Time now = absl::Now();
  for (auto& site : sites_) {
    site->OnTick(now);
    site->Leave(now);
  }
}

Totals Probe::Sum(const media::LatencyStats& latency) const {
  Totals totals;
  totals.sites = static_cast<int>(sites_.size());
  SiteReport& sum = totals.counters;
  for (const auto& site : sites_) {
    const SiteReport r = site->Report();
    sum.packets += r.packets;
    sum.bytes += r.bytes;
    sum.lost += r.lost;
    sum.duplicates += r.duplicates;
    sum.out_of_order += r.out_of_order;
    sum.bad_packets += r.bad_packets;
    sum.stale_parent_packets += r.stale_parent_packets;
    sum.parent_switches += r.parent_switches;
    sum.parent_moves += r.parent_moves;
    sum.rtcp_received += r.rtcp_received;
    sum.streams += r.streams;
    sum.frames_decoded += r.frames_decoded;
    sum.decode_errors += r.decode_errors;
    sum.frames_dropped += r.frames_dropped;
    sum.frames_skipped += r.frames_skipped;
    sum.nacks_sent += r.nacks_sent;
    sum.nacks_given_up += r.nacks_given_up;
    sum.plis_sent += r.plis_sent;
    sum.activations_sent += r.activations_sent;
    sum.upstream_sent += r.upstream_sent;
    sum.freezes.insert(sum.freezes.end(), r.freezes.begin(), r.freezes.end());
    sum.longest_gap = std::max(sum.longest_gap, r.longest_gap);
    if (site->active_parent_index() > 0) ++totals.sites_on_standby;
    if (site->decodes()) {
      ++totals.decoding_sites;
      if (r.first_frame.has_value()) {
        ++totals.sites_with_pictures;
        sum.first_frame = std::max(
            sum.first_frame.value_or(absl::ZeroDuration()), *r.first_frame);
      }
      if (r.last_pattern_frame.has_value()) {
        sum.last_pattern_frame = r.last_pattern_frame;
      }
    }
  }
  totals.latency_p50 = latency.Percentile(0.5);
  totals.latency_p99 = latency.Percentile(0.99);
  totals.latency_max = latency.Max();
  totals.latency_samples = latency.count();
  return totals;
}

Totals Probe::Final() const { return Sum(total_latency_); }

}  // namespace probe
}  // namespace cascade
