#include "tools/bench/report.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/message_differencer.h"

namespace cascade::bench {
namespace {

// One forwarding case as relay-bench records it: gso ran, gstreamer did not.
cascade::v1::BenchReport SyntheticReport() {
  cascade::v1::BenchReport report;
  MachineRecord machine;
  machine.cpu_model = "Test CPU";
  machine.cores = 2;
  machine.kernel = "Linux 6.1";
  *report.mutable_machine() = MachineProto(machine);
  (*report.mutable_versions())["gso"] = "fanout-baseline";
  report.add_not_measured("soak");
  cascade::v1::BenchForwarding& forwarding = *report.mutable_forwarding();
  forwarding.set_seconds_per_case(0.5);
  forwarding.set_runs_per_case(2);
  cascade::v1::BenchForwardingRow& row = *forwarding.add_results();
  row.set_fanout(3);
  row.set_gso_ns_per_packet(1229.5);
  cascade::v1::BenchForwarderRun& gso = (*row.mutable_forwarders())["gso"];
  gso.set_sent(1000);
  gso.set_input_drops(0);
  gso.set_runs(2);
  gso.set_latency_p99_ns(25000);
  (*row.mutable_forwarders())["gstreamer"].set_error("gst-launch-1.0 missing");
  ReportTarget("fanout 3: a target", false, "why",
               forwarding.mutable_targets());
  return report;
}

TEST(ReportTest, JsonHasTheReportKeysAndRoundTrips) {
  const cascade::v1::BenchReport report = SyntheticReport();
  absl::StatusOr<std::string> json = ReportJson(report);
  ASSERT_TRUE(json.ok()) << json.status();
  for (const char* key :
       {"\"cpu_model\": \"Test CPU\"", "\"cores\": 2", "\"versions\": {",
        "\"not_measured\": [", "\"forwarding\": {", "\"seconds_per_case\": 0.5",
        "\"runs_per_case\": 2", "\"fanout\": 3",
        "\"gso_ns_per_packet\": 1229.5", "\"forwarders\": {", "\"sent\": 1000",
        "\"input_drops\": 0", "\"runs\": 2", "\"latency_p99_ns\": 25000",
        "\"error\": \"gst-launch-1.0 missing\"", "\"status\": \"missed\"",
        // Never-set scalars are printed too: a zero is a figure.
        "\"out_pps\": 0", "\"load_average\": \"\""}) {
    EXPECT_NE(json->find(key), std::string::npos) << key << "\n" << *json;
  }
  // Sections that did not run, and figures not measured, are left out.
  EXPECT_EQ(json->find("\"controller\""), std::string::npos) << *json;
  EXPECT_EQ(json->find("gstreamer_ns_per_packet"), std::string::npos) << *json;
  EXPECT_EQ(json->find("\"delivered\""), std::string::npos) << *json;
  // Numbers stay JSON numbers (proto3 would quote 64-bit integers).
  EXPECT_EQ(json->find("\"sent\": \""), std::string::npos) << *json;

  cascade::v1::BenchReport parsed;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(*json, &parsed).ok());
  EXPECT_TRUE(
      google::protobuf::util::MessageDifferencer::Equals(parsed, report))
      << parsed.DebugString();
  EXPECT_FALSE(
      parsed.forwarding().results(0).forwarders().at("gstreamer").has_sent());
}

TEST(ReportTest, WritesTheJsonFile) {
  const std::string path = testing::TempDir() + "/report.json";
  ASSERT_TRUE(WriteReport(SyntheticReport(), path).ok());
  std::stringstream text;
  text << std::ifstream(path).rdbuf();
  cascade::v1::BenchReport parsed;
  ASSERT_TRUE(
      google::protobuf::util::JsonStringToMessage(text.str(), &parsed).ok());
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(
      parsed, SyntheticReport()));
  EXPECT_FALSE(WriteReport(SyntheticReport(), "/nonexistent/dir/r.json").ok());
}

}  // namespace
}  // namespace cascade::bench
