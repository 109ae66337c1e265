// RelayCore's counters: the accessors tests read and the Prometheus text.
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/prometheus_text.h"
#include "relay/relay_core.h"
#include "relay/relay_core_state.h"

namespace cascade::relay {
namespace {

absl::string_view DirectionName(Direction d) {
  return d == Direction::kDown ? "down" : "up";
}

}  // namespace

uint64_t RelayCore::drops(absl::string_view kind,
                          absl::string_view reason) const {
  auto it = drops_.find(std::make_pair(kind, reason));
  return it == drops_.end() ? 0 : it->second;
}

uint64_t RelayCore::total_drops() const {
  uint64_t total = 0;
  for (const auto& [key, n] : drops_) total += n;
  return total;
}

const StreamCounters* RelayCore::stream_counters(uint32_t ssrc) const {
  auto it = streams_.find(ssrc);
  return it == streams_.end() ? nullptr : &it->second->counters;
}

void RelayCore::RenderMetrics(std::string* out) const {
  // Sorted output reads better and diffs cleanly.
  std::map<uint32_t, const Stream*> sorted;
  for (const auto& [ssrc, s] : streams_) sorted[ssrc] = s.get();
  auto per_stream = [&](absl::string_view name, absl::string_view help,
                        uint64_t StreamCounters::*field) {
    absl::StrAppend(out, "# HELP ", name, " ", help, "\n# TYPE ", name,
                    " counter\n");
    for (const auto& [ssrc, s] : sorted) {
      absl::StrAppend(out, name, "{ssrc=\"", ssrc, "\",direction=\"",
                      DirectionName(s->options.direction), "\"} ",
                      s->counters.*field, "\n");
    }
  };
  per_stream("relay_stream_packets_in_total", "RTP packets accepted.",
             &StreamCounters::packets_in);
  per_stream("relay_stream_bytes_in_total", "RTP bytes accepted.",
             &StreamCounters::bytes_in);
  per_stream("relay_stream_packets_out_total",
             "RTP packets sent (every copy, retransmissions included).",
             &StreamCounters::packets_out);
  per_stream("relay_stream_bytes_out_total", "RTP bytes sent.",
             &StreamCounters::bytes_out);
  per_stream("relay_nacks_received_total",
             "Sequence numbers asked for in NACKs.",
             &StreamCounters::nacks_received);
  per_stream("relay_nacks_answered_total",
             "Asked-for packets resent from the ring (retransmissions).",
             &StreamCounters::nacks_answered);
  per_stream("relay_nacks_sent_total",
             "Sequence numbers this relay asked of its parent.",
             &StreamCounters::nacks_sent);
  per_stream("relay_nack_repaired_total",
             "Gaps filled by a packet arriving after it was missed.",
             &StreamCounters::repaired);
  per_stream("relay_nack_gave_up_total",
             "Gaps abandoned after the last NACK retry.",
             &StreamCounters::nack_gave_up);
  per_stream("relay_keyframe_requests_received_total",
             "PLI/FIR entries received.",
             &StreamCounters::keyframe_requests_received);
  per_stream("relay_keyframe_requests_sent_total", "PLI/FIR sent onward.",
             &StreamCounters::keyframe_requests_sent);
  per_stream("relay_keyframe_requests_coalesced_total",
             "PLI/FIR absorbed by the per-stream interval.",
             &StreamCounters::keyframe_requests_coalesced);
  per_stream("relay_keyframe_cache_packets_sent_total",
             "Cached keyframe packets sent to newly active children.",
             &StreamCounters::keyframe_cache_packets_sent);
  per_stream("relay_stream_renumbered_total",
             "Times the stream's numbering started afresh: a run of packets "
             "the ring refused that were not copies of what it holds (a new "
             "WHIP session at a root after a failover).",
             &StreamCounters::renumbered);

  std::map<std::pair<absl::string_view, absl::string_view>, uint64_t> drops(
      drops_.begin(), drops_.end());
  AppendFamily(out, "relay_drops_total", "counter",
               "Datagrams dropped, by kind and reason.");
  for (const auto& [key, n] : drops) {
    AppendSample(out, "relay_drops_total",
                 {{"kind", key.first}, {"reason", key.second}}, n);
  }
  AppendCounter(out, "relay_activations_total", "Children activated.",
                counters_.activations_accepted);
  AppendCounter(out, "relay_deactivations_total",
                "Children that left with a signed "
                "deactivation.",
                counters_.deactivations);
  AppendCounter(out, "relay_child_timeouts_total",
                "Children dropped for silence.", counters_.child_timeouts);
  AppendCounter(out, "relay_rtcp_in_total", "Valid RTCP compounds received.",
                counters_.rtcp_in);
  AppendCounter(out, "relay_rtcp_out_total", "RTCP packets sent.",
                counters_.rtcp_out);
  AppendCounter(
      out, "relay_h264_malformed_total",
      "Packets the keyframe detector rejected (still forwarded): a malformed "
      "frame marking, or an unmarked malformed H.264 payload.",
      counters_.h264_malformed);
  AppendCounter(out, "relay_parent_failovers_total",
                "Moves away from a parent silent past the parent timeout, "
                "or whose host reported its port closed.",
                counters_.parent_failovers);
  AppendCounter(out, "relay_parent_unreachable_failovers_total",
                "Failovers because the parent's host answered ICMP "
                "unreachable (its process is gone) before the timeout.",
                counters_.parent_unreachable_failovers);
  AppendCounter(
      out, "relay_parent_switches_total",
      "Make-before-break moves to a new first parent from new settings.",
      counters_.parent_switches);
  AppendGauge(out, "relay_parent_index",
              "Position of the active parent in the parent list.",
              absl::StrCat(parents_.active_index()));
  AppendGauge(out, "relay_children", "Active children.",
              absl::StrCat(active_.size()));
  AppendGauge(out, "relay_parent_silence_seconds",
              "Time since the active parent was heard.",
              absl::StrFormat(
                  "%.3f", absl::ToDoubleSeconds(now_ - parents_.last_heard())));
  AppendGauge(
      out, "relay_parent_timeout_seconds",
      "Silence after which the active parent would be left now "
      "(learnt per link).",
      absl::StrFormat("%.3f", absl::ToDoubleSeconds(parents_.Timeout(now_))));
  parent_gaps_.Append(out, "relay_parent_gap_seconds",
                      "Silences of the active parent that ended with a "
                      "packet from it.");
}

}  // namespace cascade::relay
