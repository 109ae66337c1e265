// The pure parts of the whep benchmark (tools/bench/whep_section.h): what a
// relay-probe --whep --json run's final line says about its viewers, and the
// search for the largest viewer count a relay serves without loss.
#ifndef CASCADE_TOOLS_BENCH_WHEP_BENCH_H_
#define CASCADE_TOOLS_BENCH_WHEP_BENCH_H_

#include <optional>
#include <string>

#include "absl/status/statusor.h"

namespace cascade::bench {

// One relay-probe --whep process's final JSON line, summed over its viewers.
struct WhepProbeFinal {
  int viewers = 0;
  int connected = 0;  // ICE, DTLS and SRTP up
  int receiving = 0;  // connected and counted RTP packets
  double lost = 0;    // packets lost after repair
  double packets = 0;
  double bytes = 0;
  double elapsed_s = 0;  // of the probe's run, after its POSTs
  double posts_ms = 0;   // the POSTs' round trips, one after another
  // The slowest viewer: from the run's start to connected.
  std::optional<double> max_connected_ms;
  // Why relay-probe called the run broken: how many reasons, the first.
  int complaints = 0;
  std::string first_complaint;
};

// Parses the final line ({"type":"final",...,"whep":{...}}); an error when
// it is not JSON or has no "whep" object.
absl::StatusOr<WhepProbeFinal> ParseWhepProbeFinal(const std::string& line);

// Doubles the viewer count from `first` while a step passes, up to `limit`;
// after the first failure halves the gap between the largest pass and the
// smallest failure until it is within 10% of the pass.
class ViewerSearch {
 public:
  ViewerSearch(int first, int limit) : next_(first), limit_(limit) {}
  // The next count to try, or nullopt when the search is done.
  std::optional<int> Next() const;
  void Record(int viewers, bool passed);
  int best() const { return best_; }      // 0: none passed
  int failed() const { return failed_; }  // 0: none failed

 private:
  int next_;
  int limit_;
  int best_ = 0;
  int failed_ = 0;
};

}  // namespace cascade::bench

#endif  // CASCADE_TOOLS_BENCH_WHEP_BENCH_H_
