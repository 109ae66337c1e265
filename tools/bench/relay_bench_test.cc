// Runs relay-bench as a user would, on a tiny load: the table, the JSON
// fields issue 8 asks for, and the exit codes.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "base/subprocess.h"
#include "google/protobuf/util/json_util.h"
#include "tools/bench/bench_report.pb.h"
#include "tools/bench/process.h"

namespace cascade::bench {
namespace {

std::string BenchPath() {
  return absl::StrCat(std::getenv("TEST_SRCDIR"), "/",
                      std::getenv("TEST_WORKSPACE"),
                      "/tools/bench/relay-bench");
}

// Runs relay-bench to completion (bounded) and returns its exit status text;
// *output gets what it printed.
std::string RunBench(const std::vector<std::string>& args,
                     std::string* output) {
  std::vector<std::string> argv = {BenchPath()};
  argv.insert(argv.end(), args.begin(), args.end());
  const std::string log = absl::StrCat(testing::TempDir(), "/bench.log");
  absl::StatusOr<std::unique_ptr<Subprocess>> bench =
      Subprocess::Start(argv, {log, log});
  if (!bench.ok()) return std::string(bench.status().message());
  (*bench)->Wait(absl::Seconds(40)).IgnoreError();
  const std::string status = ExitText((*bench)->Stop(absl::Seconds(2)));
  *output = FileTail(log, 100000);
  return status;
}

// The --json file: its text (for the keys) and the report it parses to (for
// the figures).
struct Figures {
  std::string text;
  cascade::v1::BenchReport report;
};

Figures ReadFigures(const std::string& path) {
  std::stringstream text;
  text << std::ifstream(path).rdbuf();
  Figures figures{text.str(), {}};
  EXPECT_TRUE(
      google::protobuf::util::JsonStringToMessage(figures.text, &figures.report)
          .ok())
      << figures.text;
  return figures;
}

TEST(RelayBenchTest, MeasuresTheBareLoopsAndWritesJson) {
  const std::string json = absl::StrCat(testing::TempDir(), "/bench.json");
  std::string output;
  EXPECT_EQ(RunBench({"--only=forwarding", "--seconds=0.5", "--fanouts=3",
                      "--out_pps=3000", "--repeat=2",
                      "--forwarders=sendmmsg,gso,relayd,relayd-uring",
                      "--relayd_threads=1,2", "--json=" + json},
                     &output),
            "exit code 0")
      << output;
  EXPECT_NE(output.find("machine: "), std::string::npos) << output;
  EXPECT_NE(output.find("\n3       gso "), std::string::npos) << output;
  EXPECT_NE(output.find("sendmmsg/gso"), std::string::npos) << output;
  // "relayd" ran at both thread counts, each share on a thread of its own.
  EXPECT_NE(output.find("\n3       relayd-t2 "), std::string::npos) << output;
  EXPECT_NE(output.find("relayd-t2/relayd"), std::string::npos) << output;
  // So did "relayd-uring", each compared with relayd on sendmmsg.
  EXPECT_NE(output.find("relayd-uring/relayd "), std::string::npos) << output;
  EXPECT_NE(output.find("relayd-uring-t2/relayd-t2 "), std::string::npos)
      << output;
  EXPECT_NE(output.find("within 1.5x of the best bare loop"),
            std::string::npos);

  const Figures figures = ReadFigures(json);
  for (const char* field :
       {"\"cpu_model\"", "\"kernel\"", "\"cores\"", "\"versions\"",
        "\"fanout\": 3", "\"delivered_pps\"", "\"loss_ratio\"",
        "\"ns_per_packet\"", "\"sendmmsg_ns_per_packet\": ",
        "\"gso_ns_per_packet\": ", "\"runs_per_case\": 2", "\"runs\": 2"}) {
    EXPECT_NE(figures.text.find(field), std::string::npos) << field << "\n"
                                                           << figures.text;
  }
  ASSERT_EQ(figures.report.forwarding().results_size(), 1) << figures.text;
  const cascade::v1::BenchForwardingRow& row =
      figures.report.forwarding().results(0);
  // Both bare loops delivered, so their figures are there; GStreamer was not
  // asked for, so its figure is not.
  EXPECT_TRUE(row.has_gso_ns_per_packet());
  EXPECT_TRUE(row.has_sendmmsg_ns_per_packet());
  EXPECT_FALSE(row.has_gstreamer_ns_per_packet());
  EXPECT_EQ(row.forwarders().at("gso").runs(), 2);
  EXPECT_GT(row.forwarders().at("relayd-t2").delivered(), 0u);
  EXPECT_GT(row.forwarders().at("relayd-uring").delivered(), 0u);
  EXPECT_EQ(figures.report.versions().count("relayd-uring"), 1u);
}

TEST(RelayBenchTest, MeasuresLatencyOfRelaydAndTheGsoLoop) {
  const std::string json = absl::StrCat(testing::TempDir(), "/latency.json");
  std::string output;
  EXPECT_EQ(RunBench({"--only=latency", "--latency_seconds=0.5",
                      "--latency_fanouts=3", "--latency_input_pps=500",
                      "--relayd_threads=1,2", "--json=" + json},
                     &output),
            "exit code 0")
      << output;
  EXPECT_NE(output.find("\n3       relayd "), std::string::npos) << output;
  EXPECT_NE(output.find("\n3       gso "), std::string::npos) << output;
  EXPECT_NE(output.find("relayd added p99 under 1 ms"), std::string::npos)
      << output;
  EXPECT_EQ(output.find("NOT MEASURED"), std::string::npos) << output;

  const Figures figures = ReadFigures(json);
  for (const char* field : {"\"latency\": {", "\"fanout\": 3", "\"p50_ns\": ",
                            "\"p99_ns\": ", "\"max_ns\": ", "\"gso_p99_ns\": ",
                            "\"added_p99_ns\": ", "\"latency_samples\": "}) {
    EXPECT_NE(figures.text.find(field), std::string::npos) << field << "\n"
                                                           << figures.text;
  }
  // Both forwarders delivered timed packets, so every figure is there.
  ASSERT_EQ(figures.report.latency().results_size(), 1) << figures.text;
  const cascade::v1::BenchLatencyRow& row = figures.report.latency().results(0);
  EXPECT_TRUE(row.has_p50_ns() && row.has_p99_ns() && row.has_max_ns());
  EXPECT_TRUE(row.has_gso_p50_ns() && row.has_gso_p99_ns() &&
              row.has_gso_max_ns());
  EXPECT_TRUE(row.has_added_p50_ns() && row.has_added_p99_ns() &&
              row.has_added_max_ns());
  ASSERT_EQ(row.forwarders_size(), 3);  // relayd, relayd-t2, gso
  for (const auto& [name, run] : row.forwarders()) {
    EXPECT_GT(run.latency_samples(), 0u) << name;
  }
}

TEST(RelayBenchTest, FailoverRunsTheTreeAndReadsTheSitesReport) {
  const std::string json = absl::StrCat(testing::TempDir(), "/failover.json");
  std::string output;
  EXPECT_EQ(RunBench({"--only=failover", "--failover_runs=1",
                      "--failover_sites=3", "--json=" + json},
                     &output),
            "exit code 0")
      << output;
  EXPECT_EQ(output.find("not measured"), std::string::npos) << output;
  EXPECT_EQ(output.find("NOT MEASURED"), std::string::npos) << output;
  const Figures figures = ReadFigures(json);
  // Correctness, not speed: the run completed and the sites lost nothing.
  for (const char* field : {"\"failover\": {", "\"runs\": 1", "\"sites\": 3",
                            "\"lost\": 0", "\"longest_gap_ms\": "}) {
    EXPECT_NE(figures.text.find(field), std::string::npos) << field << "\n"
                                                           << figures.text;
  }
  const cascade::v1::BenchFailover& failover = figures.report.failover();
  EXPECT_EQ(failover.lost(), 0) << figures.text;
  ASSERT_EQ(failover.results_size(), 1) << figures.text;
  EXPECT_TRUE(failover.has_max_gap_ms()) << figures.text;
  // The sites' and the source's reports were read: a run that read neither
  // would count nothing sent and nothing lost.
  EXPECT_GT(failover.results(0).packets_per_site(), 0) << figures.text;
  EXPECT_GE(failover.results(0).longest_gap_ms(), 0) << figures.text;
}

TEST(RelayBenchTest, JoinMeasuresBothCasesToAPicture) {
  const std::string json = absl::StrCat(testing::TempDir(), "/join.json");
  std::string output;
  EXPECT_EQ(RunBench({"--only=join", "--joins=1", "--json=" + json}, &output),
            "exit code 0")
      << output;
  EXPECT_EQ(output.find("not measured"), std::string::npos) << output;
  const Figures figures = ReadFigures(json);
  // Both cases ran and the site decoded a picture in each.
  for (const char* field :
       {"\"join\": {", "\"keyframe_cache\": true", "\"keyframe_cache\": false",
        "\"no_picture\": 0", "\"median_ms\": "}) {
    EXPECT_NE(figures.text.find(field), std::string::npos) << field << "\n"
                                                           << figures.text;
  }
  ASSERT_EQ(figures.report.join().results_size(), 2) << figures.text;
  for (const cascade::v1::BenchJoinCase& result :
       figures.report.join().results()) {
    EXPECT_EQ(result.no_picture(), 0) << figures.text;
    EXPECT_TRUE(result.has_median_ms()) << figures.text;
  }
}

TEST(RelayBenchTest, ControllerDeliversEveryChangedAssignment) {
  const std::string json = absl::StrCat(testing::TempDir(), "/controller.json");
  std::string output;
  EXPECT_EQ(RunBench({"--only=controller", "--controller_south19=false",
                      "--controller_nodes=200", "--controller_lease=1s",
                      "--controller_runs=2", "--json=" + json},
                     &output),
            "exit code 0")
      << output;
  EXPECT_EQ(output.find("not measured"), std::string::npos) << output;
  // Both runs' push times summarised on the target line.
  EXPECT_NE(output.find("over 2 runs"), std::string::npos) << output;
  const Figures figures = ReadFigures(json);
  for (const char* field :
       {"\"controller\": {", "\"case\": \"synthetic\"", "\"nodes\": 200",
        "\"watchers\": 200", "\"victim\": \"p01\"", "\"apply_error\": \"\"",
        "\"failover_error\": \"\"", "\"run\": 1", "\"run\": 2"}) {
    EXPECT_NE(figures.text.find(field), std::string::npos) << field << "\n"
                                                           << figures.text;
  }
  const auto& runs = figures.report.controller().results();
  ASSERT_EQ(runs.size(), 2) << figures.text;
  for (int i = 0; i < runs.size(); ++i) {
    const cascade::v1::BenchControllerRun& run = runs[i];
    EXPECT_EQ(run.run(), i + 1);
    // Correctness, not speed: the expiry changed the province's districts,
    // its standby and its sites (197 nodes below nat-1 in all), and every
    // changed assignment reached its watcher, none more.
    EXPECT_GE(run.assignments_changed(), 27 + 1) << figures.text;
    EXPECT_LE(run.assignments_changed(), 200);
    EXPECT_EQ(run.assignments_received(), run.assignments_changed());
    EXPECT_GT(run.apply_ms(), 0) << figures.text;
    EXPECT_GT(run.push_ms(), 0) << figures.text;
    EXPECT_GT(run.rss_kb(), 0);
    EXPECT_GT(run.peak_rss_kb(), 0);
  }
}

TEST(RelayBenchTest, UnknownAndMissingBenchmarksAreRefused) {
  std::string output;
  EXPECT_EQ(RunBench({"--only=nonsense"}, &output), "exit code 2");
  EXPECT_NE(output.find("no benchmark named 'nonsense'"), std::string::npos);
  EXPECT_EQ(RunBench({"--only=controller", "--controller_nodes=5"}, &output),
            "exit code 2");
  EXPECT_NE(output.find("--controller_nodes"), std::string::npos);
  EXPECT_EQ(RunBench({"--only=controller", "--controller_runs=0"}, &output),
            "exit code 2");
  EXPECT_NE(output.find("--controller_runs"), std::string::npos);
  EXPECT_EQ(RunBench({"--fanouts=0"}, &output), "exit code 2");
  EXPECT_NE(output.find("--fanouts"), std::string::npos);
  EXPECT_EQ(RunBench({"--list"}, &output), "exit code 0");
  EXPECT_NE(output.find("forwarding"), std::string::npos);
}

}  // namespace
}  // namespace cascade::bench
