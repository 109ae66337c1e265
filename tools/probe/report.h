// relay-probe's reports: the progress and final lines (JSON or text) and
// the criteria a run is judged broken by.
#ifndef CASCADE_TOOLS_PROBE_REPORT_H_
#define CASCADE_TOOLS_PROBE_REPORT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "google/protobuf/struct.pb.h"
#include "tools/probe/probe.h"

namespace cascade {
namespace probe {

// Limits on a run; a negative or zero limit, as each says, is none.
struct BrokenCriteria {
  int64_t max_lost = -1;  // -1: none
  int64_t max_decode_errors = 0;
  int64_t max_freezes = -1;       // -1: none
  double max_freeze_ms = 0;       // 0: none
  int64_t min_frames = 1;         // per decoding site
  double max_latency_ms = 0;      // p99; 0: none
  double max_gap_ms = 0;          // 0: none
  double max_first_frame_ms = 0;  // per decoding site; 0: none
};

// Reasons the picture counts as broken under `criteria`.
std::vector<std::string> Broken(const Probe& probe, const Totals& totals,
                                const BrokenCriteria& criteria);

// A JSON line of the totals, "{"type":TYPE,...}": "type" comes first, since
// readers find the lines by that prefix.
std::string JsonLine(absl::string_view type, absl::Duration elapsed,
                     const Totals& totals);
// The final JSON line: the totals, "broken" and "reasons", the sites
// ("per_site" for several, "active_parent" for one), then `extra`'s fields.
std::string FinalJsonLine(const Probe& probe, absl::Duration elapsed,
                          const Totals& totals,
                          const std::vector<std::string>& reasons,
                          const google::protobuf::Struct& extra);
// One line of text for stderr, starting with `what`.
std::string TextLine(absl::string_view what, absl::Duration elapsed,
                     const Totals& totals);

}  // namespace probe
}  // namespace cascade

#endif  // CASCADE_TOOLS_PROBE_REPORT_H_
