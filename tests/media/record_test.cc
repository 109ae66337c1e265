// relay-record as a site (issue 22): relay-source feeds two relayd, the
// recorder is a child of the first with the second as its standby; the
// first is killed (SIGKILL) mid-stream and the recorder stopped with
// SIGTERM. Every segment must be finished (no .part left), H.264, decode
// without an error, carry its wall-clock start, and together last about
// as long as the stream; the log names the failover's gap.

#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/substitute.h"
#include "base/subprocess.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "tests/common/runfile.h"
#include "tests/common/wait.h"
#include "tests/media/process.h"

namespace cascade {
namespace testing {
namespace {

constexpr uint32_t kVideoSsrc = 0x1111;
constexpr uint32_t kAudioSsrc = 0x2222;
const char kKeyRecorder[] = "ffeeddccbbaa99887766554433221100";
constexpr double kFps = 25;
constexpr char kNoFfmpeg[] =
    "ffmpeg/ffprobe are not installed (./dev installs them)";

std::string TempPath(const std::string& name) {
  const char* dir = std::getenv("TEST_TMPDIR");
  return absl::StrCat(
      dir != nullptr ? dir : "/tmp", "/",
      ::testing::UnitTest::GetInstance()->current_test_info()->name(), ".",
      name);
}

struct Relay {
  std::unique_ptr<Subprocess> process;
  int udp_port = 0;
  int metrics_port = 0;
};

// relayd fed by the source at `source_port`, with the recorder "rec" as its
// one child, on `port` (0: the kernel picks).
Relay StartRelay(const std::string& name, int source_port, int port = 0) {
  Relay relay;
  const std::string config_path = TempPath(name + ".textproto");
  std::ofstream(config_path) << absl::Substitute(
      "node_id: \"$0\" listen: \"127.0.0.1:$5\"\n"
      "parents { id: \"source\" address: \"127.0.0.1:$1\" }\n"
      "children { id: \"rec\" key_hex: \"$2\" }\n"
      "streams { ssrc: $3 direction: DOWN h264: true }\n"
      "streams { ssrc: $4 direction: DOWN }\n",
      name, source_port, kKeyRecorder, kVideoSsrc, kAudioSsrc, port);
  std::remove(TempPath(name + ".ports").c_str());  // a restart's
  auto process = Subprocess::Start(
      {Runfile("relay/relayd"), "--config=" + config_path,
       "--metrics=127.0.0.1:0", "--port-file=" + TempPath(name + ".ports")},
      {TempPath(name + ".out"), TempPath(name + ".err")});
  EXPECT_TRUE(process.ok());
  if (!process.ok()) return relay;
  relay.process = std::move(*process);
  const std::string ports =
      WaitForFile(TempPath(name + ".ports"), absl::Seconds(10));
  for (absl::string_view line : absl::StrSplit(ports, '\n')) {
    if (absl::ConsumePrefix(&line, "udp=")) {
      EXPECT_TRUE(absl::SimpleAtoi(line, &relay.udp_port));
    }
    if (absl::ConsumePrefix(&line, "metrics=")) {
      EXPECT_TRUE(absl::SimpleAtoi(line, &relay.metrics_port));
    }
  }
  EXPECT_GT(relay.udp_port, 0) << ReadFile(TempPath(name + ".err"));
  return relay;
}

// relay-record into `out` (made here), a child of `parents` in order, its
// stderr in `log`; returned once `first` (the first parent) serves it.
std::unique_ptr<Subprocess> StartRecorder(const std::vector<int>& parents,
                                          const Relay& first,
                                          const std::string& out,
                                          const std::string& log,
                                          std::vector<std::string> flags = {}) {
  std::filesystem::create_directories(out);
  std::vector<std::string> addresses;
  for (int port : parents)
    addresses.push_back(absl::StrCat("127.0.0.1:", port));
  std::vector<std::string> argv = {
      Runfile("tools/record/relay-record"), "--out=" + out,
      "--parent=" + absl::StrJoin(addresses, ","), "--node-id=rec",
      absl::StrCat("--key=", kKeyRecorder)};
  argv.insert(argv.end(), flags.begin(), flags.end());
  auto recorder = Subprocess::Start(argv, {TempPath("record.out"), log});
  EXPECT_TRUE(recorder.ok()) << recorder.status();
  if (!recorder.ok()) return nullptr;
  EXPECT_TRUE(
      WaitUntil("the recorder is its first parent's child", kWaitTimeout,
                [&] {
                  return MetricValue(HttpGet(first.metrics_port, "/metrics"),
                                     "relay_children") >= 1;
                }))
      << ReadFile(log);
  return *std::move(recorder);
}

// relay-source from `source_port` into `dest` (and `flags`: a standby, the
// audio, the duration), at 320x180 and kFps with a keyframe a second.
std::unique_ptr<Subprocess> StartSource(int source_port, int dest,
                                        std::vector<std::string> flags) {
  std::vector<std::string> argv = {
      Runfile("tools/source/relay-source"),
      "--json",
      "--width=320",
      "--height=180",
      "--bitrate=400",
      absl::StrCat("--fps=", kFps),
      "--gop=25",
      absl::StrCat("--bind=127.0.0.1:", source_port),
      absl::StrCat("--dest=127.0.0.1:", dest),
      absl::StrCat("--ssrc=", kVideoSsrc)};
  argv.insert(argv.end(), flags.begin(), flags.end());
  auto source =
      Subprocess::Start(argv, {TempPath("source.out"), TempPath("source.err")});
  EXPECT_TRUE(source.ok()) << source.status();
  return source.ok() ? *std::move(source) : nullptr;
}

// ffprobe's JSON for `path` (streams and format), parsed.
google::protobuf::Struct Probe(const std::string& ffprobe,
                               const std::string& path) {
  const CommandResult result =
      RunToCompletion({ffprobe, "-v", "error", "-show_streams", "-show_format",
                       "-of", "json", path},
                      path + ".ffprobe");
  EXPECT_EQ(result.code, 0) << result.err;
  EXPECT_EQ(result.err, "");
  std::printf("ffprobe %s:\n%s\n", path.c_str(), result.out.c_str());
  google::protobuf::Struct json;
  EXPECT_TRUE(
      google::protobuf::util::JsonStringToMessage(result.out, &json).ok())
      << result.out;
  return json;
}

const google::protobuf::Value& Field(const google::protobuf::Struct& s,
                                     const std::string& name) {
  static const google::protobuf::Value* const kNull =
      new google::protobuf::Value();
  auto it = s.fields().find(name);
  return it == s.fields().end() ? *kNull : it->second;
}

// Every segment in `dir` finished (no .part), H.264 320x180 for ffprobe
// with its wall-clock start, decoded by ffmpeg without a complaint; `count`
// of them. Their total duration.
double CheckSegments(const std::string& dir, const std::string& ffprobe,
                     const std::string& ffmpeg, size_t count) {
  std::vector<std::string> segments;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    const std::string path = entry.path().string();
    EXPECT_FALSE(absl::EndsWith(path, ".part")) << "unfinished " << path;
    if (absl::EndsWith(path, ".mkv")) segments.push_back(path);
  }
  std::sort(segments.begin(), segments.end());
  EXPECT_EQ(segments.size(), count);
  double total = 0;
  for (const std::string& segment : segments) {
    const google::protobuf::Struct json = Probe(ffprobe, segment);
    const auto& streams = Field(json, "streams").list_value().values();
    EXPECT_EQ(streams.size(), 1) << segment;
    if (streams.empty()) continue;
    EXPECT_EQ(Field(streams[0].struct_value(), "codec_name").string_value(),
              "h264");
    EXPECT_EQ(Field(streams[0].struct_value(), "width").number_value(), 320);
    const auto& format = Field(json, "format").struct_value();
    double duration = 0;
    EXPECT_TRUE(
        absl::SimpleAtod(Field(format, "duration").string_value(), &duration));
    total += duration;
    const auto& tags = Field(format, "tags").struct_value();
    EXPECT_FALSE(Field(tags, "creation_time").string_value().empty());
    EXPECT_FALSE(Field(tags, "WALLCLOCK_START").string_value().empty());
    // Decodes on its own, without a complaint.
    const CommandResult decoded = RunToCompletion(
        {ffmpeg, "-v", "error", "-i", segment, "-f", "null", "-"},
        segment + ".decode");
    EXPECT_EQ(decoded.code, 0) << segment;
    EXPECT_EQ(decoded.err, "") << segment;
  }
  return total;
}

TEST(RecordTest, RecordsAcrossAParentFailoverIntoSegmentsThatDecode) {
  const std::string ffprobe = FindOnPath("ffprobe").value_or("");
  const std::string ffmpeg = FindOnPath("ffmpeg").value_or("");
  if (ffprobe.empty() || ffmpeg.empty()) GTEST_SKIP() << kNoFfmpeg;
  auto source_port = FreeLoopbackPortQuad();
  ASSERT_TRUE(source_port.ok());
  Relay n1 = StartRelay("n1", *source_port);
  Relay n2 = StartRelay("n2", *source_port);
  ASSERT_TRUE(n1.process != nullptr && n2.process != nullptr);

  const std::string out = TempPath("segments");
  const std::string log = TempPath("record.err");
  std::unique_ptr<Subprocess> recorder =
      StartRecorder({n1.udp_port, n2.udp_port}, n1, out, log, {"--segment=3s"});
  ASSERT_TRUE(recorder != nullptr && !::testing::Test::HasFailure());

  std::unique_ptr<Subprocess> source =
      StartSource(*source_port, n1.udp_port,
                  {absl::StrCat("--standby-dest=127.0.0.1:", n2.udp_port),
                   absl::StrCat("--audio-ssrc=", kAudioSsrc), "--duration=5"});
  ASSERT_TRUE(source != nullptr);
  const absl::Time started = absl::Now();
  RunFor(started + absl::Milliseconds(2500) - absl::Now());
  ASSERT_TRUE(n1.process->Signal(SIGKILL).ok());
  ASSERT_EQ(source->Wait(absl::Seconds(30)).value_or(-1), 0)
      << ReadFile(TempPath("source.err"));
  ASSERT_TRUE(WaitUntil(
      "the recorder logs its parent switch", kWaitTimeout,
      [&] { return absl::StrContains(ReadFile(log), "parent switch to"); }))
      << ReadFile(log);
  // The last frames through the repair wait (600 ms) before stopping.
  RunFor(absl::Seconds(1));
  ASSERT_TRUE(recorder->Signal(SIGTERM).ok());
  ASSERT_EQ(recorder->Wait(absl::Seconds(20)).value_or(-1), 0) << ReadFile(log);

  const std::string recorded = ReadFile(log);
  std::printf("relay-record's log:\n%s\n", recorded.c_str());
  // The failover's gap, named with its length and cause.
  EXPECT_TRUE(absl::StrContains(
      recorded, absl::StrCat("parent switch to 127.0.0.1:", n2.udp_port)))
      << recorded;
  EXPECT_TRUE(absl::StrContains(recorded, "relay-record: gap: "));

  // 5 s in segments of 3 s, each from a keyframe (one a second).
  const double total = CheckSegments(out, ffprobe, ffmpeg, 2);
  const int64_t frames =
      JsonInt(ReadFile(TempPath("source.out")), "frames").value_or(-1);
  ASSERT_GT(frames, 100);
  // Everything the source sent, the failover repaired by NACK.
  EXPECT_NEAR(total, frames / kFps, 0.25) << frames << " frames sent";
  n2.process->Signal(SIGTERM).IgnoreError();
}

TEST(RecordTest, BadFlagsExitTwoNamingTheFlag) {
  const std::string record = Runfile("tools/record/relay-record");
  struct Case {
    std::vector<std::string> args;
    std::string says;
  };
  const std::string dir = TempPath("dir");
  std::filesystem::create_directories(dir);
  const std::vector<Case> cases = {
      {{}, "--out: required"},
      {{"--out=/nonexistent/recordings"}, "--out: /nonexistent/recordings"},
      {{"--out=" + dir, "--format=avi"}, "--format: must be mkv or mp4"},
      {{"--out=" + dir, "--segment=0s"}, "--segment: must be at least 1s"},
      {{"--out=" + dir, "--parent=127.0.0.1:9"}, "--key"},
      {{"--out=" + dir, "--parent=nowhere", "--key=00"}, "--parent"},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    std::vector<std::string> argv = {record};
    argv.insert(argv.end(), cases[i].args.begin(), cases[i].args.end());
    const CommandResult result =
        RunToCompletion(argv, TempPath(absl::StrCat("case", i)));
    EXPECT_EQ(result.code, 2) << cases[i].says;
    EXPECT_TRUE(absl::StrContains(result.err, cases[i].says)) << result.err;
  }
}

// The recorder's only parent is killed and started again on its port 2 s
// later: one file with a hole, the gap logged with its length.
TEST(RecordTest, ARelayRestartLeavesAGapInOneFile) {
  const std::string ffprobe = FindOnPath("ffprobe").value_or("");
  const std::string ffmpeg = FindOnPath("ffmpeg").value_or("");
  if (ffprobe.empty() || ffmpeg.empty()) GTEST_SKIP() << kNoFfmpeg;
  auto source_port = FreeLoopbackPortQuad();
  ASSERT_TRUE(source_port.ok());
  Relay relay = StartRelay("r", *source_port);
  ASSERT_TRUE(relay.process != nullptr);
  const int port = relay.udp_port;

  const std::string out = TempPath("segments");
  const std::string log = TempPath("record.err");
  std::unique_ptr<Subprocess> recorder = StartRecorder({port}, relay, out, log);
  ASSERT_TRUE(recorder != nullptr && !::testing::Test::HasFailure());

  std::unique_ptr<Subprocess> source =
      StartSource(*source_port, port, {"--audio=false", "--duration=6"});
  ASSERT_TRUE(source != nullptr);
  const absl::Time started = absl::Now();
  RunFor(started + absl::Milliseconds(1500) - absl::Now());
  // Reaped before its port is bound again.
  EXPECT_TRUE(absl::IsAborted(relay.process->Kill().status()));
  RunFor(absl::Seconds(2));  // the outage
  relay = StartRelay("r", *source_port, port);
  ASSERT_TRUE(relay.process != nullptr);
  ASSERT_EQ(source->Wait(absl::Seconds(30)).value_or(-1), 0)
      << ReadFile(TempPath("source.err"));
  ASSERT_TRUE(WaitUntil("the recorder logs the gap", kWaitTimeout, [&] {
    return absl::StrContains(ReadFile(log), "relay-record: gap: ");
  })) << ReadFile(log);
  RunFor(absl::Seconds(1));
  ASSERT_TRUE(recorder->Signal(SIGTERM).ok());
  ASSERT_EQ(recorder->Wait(absl::Seconds(20)).value_or(-1), 0) << ReadFile(log);
  const std::string recorded = ReadFile(log);
  std::printf("relay-record's log:\n%s\n", recorded.c_str());

  const double total = CheckSegments(out, ffprobe, ffmpeg, 1);
  // The outage (2 s and the relay's start) is a hole in the timeline: the
  // file spans the whole stream but misses at least the outage.
  EXPECT_NEAR(total, 6, 1);
  const size_t at = recorded.find("relay-record: gap: ");
  ASSERT_NE(at, std::string::npos);
  int64_t gap_ms = 0;
  ASSERT_TRUE(absl::SimpleAtoi(
      recorded.substr(at + 19, recorded.find(' ', at + 19) - at - 19),
      &gap_ms));
  EXPECT_GE(gap_ms, 2000) << recorded;
  relay.process->Signal(SIGTERM).IgnoreError();
}

}  // namespace
}  // namespace testing
}  // namespace cascade
