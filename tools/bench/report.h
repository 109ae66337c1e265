// relay-bench's report: the state every benchmark section shares, its target
// lines, and the --json file (tools/bench/bench_report.proto).
#ifndef CASCADE_TOOLS_BENCH_REPORT_H_
#define CASCADE_TOOLS_BENCH_REPORT_H_

#include <map>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "google/protobuf/repeated_ptr_field.h"
#include "tools/bench/bench_report.pb.h"
#include "tools/bench/machine.h"

namespace cascade::bench {

// What the sections of one relay-bench run share: where the binaries and
// scratch files are, and what they measured.
struct Context {
  std::string argv0;
  std::string work_dir;
  std::map<std::string, std::string> versions;  // forwarder -> version
  cascade::v1::BenchReport report;              // each section adds its own
  int cases_run = 0;
};

// Prints one target line ("met", "MISSED" or "NOT MEASURED" when `met` is
// unset) and adds it to `targets`.
void ReportTarget(
    const std::string& target, std::optional<bool> met,
    const std::string& detail,
    google::protobuf::RepeatedPtrField<cascade::v1::BenchTarget>* targets);

cascade::v1::BenchMachine MachineProto(const MachineRecord& machine);

// The report as JSON: proto field names as keys, every scalar printed, unset
// optional figures left out.
absl::StatusOr<std::string> ReportJson(const cascade::v1::BenchReport& report);

absl::Status WriteReport(const cascade::v1::BenchReport& report,
                         const std::string& path);

}  // namespace cascade::bench

#endif  // CASCADE_TOOLS_BENCH_REPORT_H_
