#include "tools/bench/report.h"

#include <cstdio>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "google/protobuf/util/json_util.h"

namespace cascade::bench {

void ReportTarget(
    const std::string& target, std::optional<bool> met,
    const std::string& detail,
    google::protobuf::RepeatedPtrField<cascade::v1::BenchTarget>* targets) {
  const char* verdict = !met ? "NOT MEASURED" : *met ? "met" : "MISSED";
  std::printf("  %-12s %s (%s)\n", verdict, target.c_str(), detail.c_str());
  cascade::v1::BenchTarget* line = targets->Add();
  line->set_target(target);
  line->set_status(!met ? "not_measured" : *met ? "met" : "missed");
  line->set_detail(detail);
}

cascade::v1::BenchMachine MachineProto(const MachineRecord& machine) {
  cascade::v1::BenchMachine proto;
  proto.set_cpu_model(machine.cpu_model);
  proto.set_cores(machine.cores);
  proto.set_kernel(machine.kernel);
  proto.set_load_average(machine.load_average);
  proto.set_compiler(machine.compiler);
  proto.set_started_utc(machine.started_utc);
  return proto;
}

absl::StatusOr<std::string> ReportJson(const cascade::v1::BenchReport& report) {
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  // Zero counts and empty errors are figures too ("lost": 0).
  options.always_print_primitive_fields = true;
  options.preserve_proto_field_names = true;
  std::string json;
  const auto status =
      google::protobuf::util::MessageToJsonString(report, &json, options);
  if (!status.ok()) {
    return absl::InternalError(
        absl::StrCat("report to JSON: ", status.ToString()));
  }
  return json;
}

absl::Status WriteReport(const cascade::v1::BenchReport& report,
                         const std::string& path) {
  absl::StatusOr<std::string> json = ReportJson(report);
  if (!json.ok()) return json.status();
  std::ofstream out(path);
  out << *json;
  out.close();
  if (!out.good()) {
    return absl::UnavailableError(absl::StrCat("cannot write ", path));
  }
  return absl::OkStatus();
}

}  // namespace cascade::bench
