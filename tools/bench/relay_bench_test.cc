// Runs relay-bench as a user would, on a tiny load: the table, the JSON
// fields issue 8 asks for, and the exit codes.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "tools/bench/process.h"
#include "tools/bench/relay_tree.h"

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
      Subprocess::Start(argv, log);
  if (!bench.ok()) return std::string(bench.status().message());
  const absl::Time deadline = absl::Now() + absl::Seconds(40);
  while ((*bench)->Running() && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  const std::string status = (*bench)->Stop();
  *output = FileTail(log, 100000);
  return status;
}

TEST(RelayBenchTest, MeasuresTheBareLoopsAndWritesJson) {
  const std::string json = absl::StrCat(testing::TempDir(), "/bench.json");
  std::string output;
  EXPECT_EQ(RunBench({"--only=forwarding", "--seconds=0.5", "--fanouts=3",
                      "--out_pps=3000", "--repeat=2",
                      "--forwarders=sendmmsg,gso,relayd", "--json=" + json},
                     &output),
            "exit code 0")
      << output;
  EXPECT_NE(output.find("machine: "), std::string::npos) << output;
  EXPECT_NE(output.find("\n3       gso "), std::string::npos) << output;
  EXPECT_NE(output.find("sendmmsg/gso"), std::string::npos) << output;
  EXPECT_NE(output.find("within 1.5x of the best bare loop"),
            std::string::npos);

  std::stringstream text;
  text << std::ifstream(json).rdbuf();
  for (const char* field :
       {"\"cpu_model\"", "\"kernel\"", "\"cores\"", "\"versions\"",
        "\"fanout\": 3", "\"delivered_pps\"", "\"loss_ratio\"",
        "\"ns_per_packet\"", "\"sendmmsg_ns_per_packet\": ",
        "\"gso_ns_per_packet\": ", "\"gstreamer_ns_per_packet\": null",
        "\"runs_per_case\": 2", "\"runs\": 2"}) {
    EXPECT_NE(text.str().find(field), std::string::npos) << field << "\n"
                                                         << text.str();
  }
  // Both bare loops delivered, so their figures are numbers, not null.
  EXPECT_EQ(text.str().find("\"gso_ns_per_packet\": null"), std::string::npos);
  EXPECT_EQ(text.str().find("\"sendmmsg_ns_per_packet\": null"),
            std::string::npos);
}

TEST(RelayBenchTest, MeasuresLatencyOfRelaydAndTheGsoLoop) {
  const std::string json = absl::StrCat(testing::TempDir(), "/latency.json");
  std::string output;
  EXPECT_EQ(RunBench({"--only=latency", "--latency_seconds=0.5",
                      "--latency_fanouts=3", "--latency_input_pps=500",
                      "--json=" + json},
                     &output),
            "exit code 0")
      << output;
  EXPECT_NE(output.find("\n3       relayd "), std::string::npos) << output;
  EXPECT_NE(output.find("\n3       gso "), std::string::npos) << output;
  EXPECT_NE(output.find("relayd added p99 under 1 ms"), std::string::npos)
      << output;
  EXPECT_EQ(output.find("NOT MEASURED"), std::string::npos) << output;

  std::stringstream text;
  text << std::ifstream(json).rdbuf();
  for (const char* field : {"\"latency\": {", "\"fanout\": 3", "\"p50_ns\": ",
                            "\"p99_ns\": ", "\"max_ns\": ", "\"gso_p99_ns\": ",
                            "\"added_p99_ns\": ", "\"latency_samples\": "}) {
    EXPECT_NE(text.str().find(field), std::string::npos) << field << "\n"
                                                         << text.str();
  }
  // Both forwarders delivered timed packets, so the figures are numbers.
  EXPECT_EQ(text.str().find("_ns\": null"), std::string::npos) << text.str();
  EXPECT_EQ(text.str().find("\"latency_samples\": 0,"), std::string::npos);
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
  std::stringstream text;
  text << std::ifstream(json).rdbuf();
  // Correctness, not speed: the run completed and the sites lost nothing.
  for (const char* field : {"\"failover\": {", "\"runs\": 1", "\"sites\": 3",
                            "\"lost\": 0,", "\"longest_gap_ms\": "}) {
    EXPECT_NE(text.str().find(field), std::string::npos) << field << "\n"
                                                         << text.str();
  }
  EXPECT_EQ(text.str().find("\"max_gap_ms\": null"), std::string::npos);
}

TEST(RelayBenchTest, JoinMeasuresBothCasesToAPicture) {
  const std::string json = absl::StrCat(testing::TempDir(), "/join.json");
  std::string output;
  EXPECT_EQ(RunBench({"--only=join", "--joins=1", "--json=" + json}, &output),
            "exit code 0")
      << output;
  EXPECT_EQ(output.find("not measured"), std::string::npos) << output;
  std::stringstream text;
  text << std::ifstream(json).rdbuf();
  // Both cases ran and the site decoded a picture in each.
  for (const char* field :
       {"\"join\": {", "\"keyframe_cache\": true", "\"keyframe_cache\": false",
        "\"no_picture\": 0, \"median_ms\": "}) {
    EXPECT_NE(text.str().find(field), std::string::npos) << field << "\n"
                                                         << text.str();
  }
  EXPECT_EQ(text.str().find("\"no_picture\": 1"), std::string::npos);
  EXPECT_EQ(text.str().find("\"median_ms\": null"), std::string::npos);
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
  std::stringstream text;
  text << std::ifstream(json).rdbuf();
  const std::string figures = text.str();
  for (const char* field :
       {"\"controller\": {", "\"case\": \"synthetic\"", "\"nodes\": 200,",
        "\"watchers\": 200,", "\"victim\": \"p01\"", "\"apply_error\": \"\"",
        "\"failover_error\": \"\"", "\"run\": 1}", "\"run\": 2}"}) {
    EXPECT_NE(figures.find(field), std::string::npos) << field << "\n"
                                                      << figures;
  }
  // Correctness, not speed: the expiry changed the province's districts,
  // its standby and its sites (197 nodes below nat-1 in all), and every
  // changed assignment reached its watcher, none more.
  const std::optional<double> changed =
      JsonField(figures, "assignments_changed");
  const std::optional<double> received =
      JsonField(figures, "assignments_received");
  ASSERT_TRUE(changed.has_value() && received.has_value()) << figures;
  EXPECT_GE(*changed, 27 + 1);
  EXPECT_LE(*changed, 200);
  EXPECT_EQ(*received, *changed);
  for (const char* field : {"apply_ms", "push_ms", "rss_kb", "peak_rss_kb"}) {
    const std::optional<double> value = JsonField(figures, field);
    ASSERT_TRUE(value.has_value()) << field << "\n" << figures;
    EXPECT_GT(*value, 0) << field;
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
