#include "tools/probe/report.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "google/protobuf/util/json_util.h"

namespace cascade {
namespace probe {
namespace {

using google::protobuf::ListValue;
using google::protobuf::Struct;
using google::protobuf::Value;

double Ms(absl::Duration d) { return absl::ToDoubleMilliseconds(d); }

// `x` to `digits` decimals: the lines stay readable.
double Round(double x, int digits) {
  const double scale = std::pow(10.0, digits);
  return std::round(x * scale) / scale;
}

absl::Duration Longest(const std::vector<absl::Duration>& freezes) {
  absl::Duration longest;
  for (absl::Duration d : freezes) longest = std::max(longest, d);
  return longest;
}

class Fields {
 public:
  explicit Fields(Struct* s) : s_(s) {}
  Fields& Number(const std::string& key, double value) {
    (*s_->mutable_fields())[key].set_number_value(value);
    return *this;
  }
  Fields& Count(const std::string& key, int64_t value) {
    return Number(key, static_cast<double>(value));
  }
  Fields& String(const std::string& key, const std::string& value) {
    (*s_->mutable_fields())[key].set_string_value(value);
    return *this;
  }
  Fields& Bool(const std::string& key, bool value) {
    (*s_->mutable_fields())[key].set_bool_value(value);
    return *this;
  }
  Fields& Null(const std::string& key) {
    (*s_->mutable_fields())[key].set_null_value(google::protobuf::NULL_VALUE);
    return *this;
  }

 private:
  Struct* s_;
};

// Compact JSON by protobuf's printer.
template <typename Message>
std::string ToJson(const Message& message) {
  std::string out;
  if (!google::protobuf::util::MessageToJsonString(message, &out).ok()) {
    return "null";  // only for numbers JSON cannot carry (NaN)
  }
  return out;
}

Struct TotalsFields(absl::Duration elapsed, const Totals& t) {
  const SiteReport& c = t.counters;
  Struct s;
  Fields f(&s);
  f.Number("elapsed_s", Round(absl::ToDoubleSeconds(elapsed), 3))
      .Count("sites", t.sites)
      .Count("decoding_sites", t.decoding_sites)
      .Count("sites_with_pictures", t.sites_with_pictures)
      .Count("streams", c.streams)
      .Count("packets", c.packets)
      .Count("bytes", c.bytes)
      .Count("lost", c.lost)
      .Count("duplicates", c.duplicates)
      .Count("out_of_order", c.out_of_order)
      .Count("bad_packets", c.bad_packets)
      .Count("stale_parent_packets", c.stale_parent_packets)
      .Count("parent_switches", c.parent_switches)
      .Count("parent_moves", c.parent_moves)
      .Count("sites_on_standby", t.sites_on_standby)
      .Number("longest_gap_ms", Round(Ms(c.longest_gap), 1))
      .Number("interval_gap_ms", Round(Ms(t.interval_gap), 1))
      .Count("rtcp_received", c.rtcp_received)
      .Count("frames_decoded", c.frames_decoded)
      .Count("decode_errors", c.decode_errors)
      .Count("frames_dropped", c.frames_dropped)
      .Count("frames_skipped", c.frames_skipped)
      .Count("nacks_sent", c.nacks_sent)
      .Count("nacks_given_up", c.nacks_given_up)
      .Count("plis_sent", c.plis_sent)
      .Count("activations_sent", c.activations_sent)
      .Count("upstream_sent", c.upstream_sent)
      .Count("freezes", static_cast<int64_t>(c.freezes.size()))
      .Number("longest_freeze_ms", Round(Ms(Longest(c.freezes)), 1))
      .Count("latency_samples", static_cast<int64_t>(t.latency_samples))
      .Number("latency_p50_ms", Round(Ms(t.latency_p50), 3))
      .Number("latency_p99_ms", Round(Ms(t.latency_p99), 3))
      .Number("latency_max_ms", Round(Ms(t.latency_max), 3));
  ListValue* freeze_ms =
      (*s.mutable_fields())["freeze_ms"].mutable_list_value();
  for (absl::Duration d : c.freezes) {
    freeze_ms->add_values()->set_number_value(Round(Ms(d), 1));
  }
  if (c.first_frame.has_value()) {
    f.Number("first_frame_ms", Round(Ms(*c.first_frame), 1));
  } else {
    f.Null("first_frame_ms");
  }
  if (c.last_pattern_frame.has_value()) {
    f.Count("last_pattern_frame", *c.last_pattern_frame);
  } else {
    f.Null("last_pattern_frame");
  }
  return s;
}

// `fields` as a JSON object with "type" first.
std::string Line(absl::string_view type, const Struct& fields) {
  const std::string body = ToJson(fields);  // "{...}"
  std::string line = absl::StrCat("{\"type\":\"", type, "\"");
  if (body.size() > 2) {
    absl::StrAppend(&line, ",", absl::string_view(body).substr(1));
  } else {
    line.push_back('}');
  }
  return line;
}

void SetActiveParent(const Site& site, Value* value) {
  if (const ParentLink* parent = site.active_parent()) {
    value->set_string_value(parent->address.ToString());
  } else {
    value->set_null_value(google::protobuf::NULL_VALUE);
  }
}

}  // namespace

std::vector<std::string> Broken(const Probe& probe, const Totals& t,
                                const BrokenCriteria& criteria) {
  std::vector<std::string> reasons;
  const SiteReport& c = t.counters;
  if (criteria.max_lost >= 0 && c.lost > criteria.max_lost) {
    reasons.push_back(absl::StrCat(c.lost, " packets lost"));
  }
  if (c.decode_errors > criteria.max_decode_errors) {
    reasons.push_back(absl::StrCat(c.decode_errors, " decode errors"));
  }
  if (criteria.max_freezes >= 0 &&
      static_cast<int64_t>(c.freezes.size()) > criteria.max_freezes) {
    reasons.push_back(absl::StrCat(c.freezes.size(), " freezes"));
  }
  if (criteria.max_freeze_ms > 0 &&
      Ms(Longest(c.freezes)) > criteria.max_freeze_ms) {
    reasons.push_back(
        absl::StrFormat("a %.0f ms freeze", Ms(Longest(c.freezes))));
  }
  for (const auto& site : probe.sites()) {
    if (!site->decodes()) continue;
    const SiteReport r = site->Report();
    if (r.frames_decoded < criteria.min_frames) {
      reasons.push_back(absl::StrCat("site ", site->local().ToString(),
                                     " decoded ", r.frames_decoded, " frames"));
    }
    if (criteria.max_first_frame_ms > 0 && r.first_frame.has_value() &&
        Ms(*r.first_frame) > criteria.max_first_frame_ms) {
      reasons.push_back(absl::StrFormat("site %s: first picture after %.0f ms",
                                        site->local().ToString(),
                                        Ms(*r.first_frame)));
    }
  }
  // One reason for the worst site: with thousands of sites a reason each
  // would drown the rest.
  if (criteria.max_gap_ms > 0 && Ms(c.longest_gap) > criteria.max_gap_ms) {
    for (const auto& site : probe.sites()) {
      if (site->Report().longest_gap != c.longest_gap) continue;
      reasons.push_back(absl::StrFormat("site %s: a %.0f ms gap",
                                        site->local().ToString(),
                                        Ms(c.longest_gap)));
      break;
    }
  }
  if (criteria.max_latency_ms > 0 &&
      Ms(t.latency_p99) > criteria.max_latency_ms) {
    reasons.push_back(
        absl::StrFormat("p99 latency %.1f ms", Ms(t.latency_p99)));
  }
  return reasons;
}

std::string JsonLine(absl::string_view type, absl::Duration elapsed,
                     const Totals& totals) {
  return Line(type, TotalsFields(elapsed, totals));
}

std::string FinalJsonLine(const Probe& probe, absl::Duration elapsed,
                          const Totals& totals,
                          const std::vector<std::string>& reasons,
                          const Struct& extra) {
  Struct s = TotalsFields(elapsed, totals);
  auto& fields = *s.mutable_fields();
  fields["broken"].set_bool_value(!reasons.empty());
  ListValue* list = fields["reasons"].mutable_list_value();
  for (const std::string& reason : reasons) {
    list->add_values()->set_string_value(reason);
  }
  if (totals.sites > 1) {
    ListValue* per_site = fields["per_site"].mutable_list_value();
    for (const auto& site : probe.sites()) {
      const SiteReport r = site->Report();
      Struct* item = per_site->add_values()->mutable_struct_value();
      Fields(item)
          .String("listen", site->local().ToString())
          .Bool("decodes", site->decodes())
          .Count("packets", r.packets)
          .Count("lost", r.lost)
          .Count("frames_decoded", r.frames_decoded)
          .Count("decode_errors", r.decode_errors)
          .Count("freezes", static_cast<int64_t>(r.freezes.size()))
          .Number("latency_p99_ms",
                  Round(Ms(site->latency().Percentile(0.99)), 3))
          .Count("parent_switches", r.parent_switches)
          .Count("parent_moves", r.parent_moves)
          .Number("longest_gap_ms", Round(Ms(r.longest_gap), 1))
          .Count("upstream_sent", r.upstream_sent);
      SetActiveParent(*site, &(*item->mutable_fields())["active_parent"]);
    }
  } else if (!probe.sites().empty()) {
    SetActiveParent(*probe.sites()[0], &fields["active_parent"]);
  }
  for (const auto& [key, value] : extra.fields()) fields[key] = value;
  return Line("final", s);
}

std::string TextLine(absl::string_view what, absl::Duration elapsed,
                     const Totals& t) {
  const SiteReport& c = t.counters;
  return absl::StrFormat(
      "%s t=%.1fs sites=%d packets=%d lost=%d dup=%d ooo=%d frames=%d "
      "decode_errors=%d dropped=%d freezes=%d (longest %.0f ms) latency "
      "p50=%.1f p99=%.1f max=%.1f ms first_frame=%s nacks=%d plis=%d "
      "longest_gap=%.0fms parent_switches=%d parent_moves=%d on_standby=%d",
      what, absl::ToDoubleSeconds(elapsed), t.sites, c.packets, c.lost,
      c.duplicates, c.out_of_order, c.frames_decoded, c.decode_errors,
      c.frames_dropped, c.freezes.size(), Ms(Longest(c.freezes)),
      Ms(t.latency_p50), Ms(t.latency_p99), Ms(t.latency_max),
      c.first_frame ? absl::StrFormat("%.0fms", Ms(*c.first_frame)) : "none",
      c.nacks_sent, c.plis_sent, Ms(c.longest_gap), c.parent_switches,
      c.parent_moves, t.sites_on_standby);
}

}  // namespace probe
}  // namespace cascade
