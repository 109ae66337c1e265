#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>

#include "tools/bench/forwarding_bench.h"
#include "tools/bench/latency.h"
#include "tools/bench/process.h"
#include "tools/bench/relay_tree.h"
#include "tools/bench/rtp_load.h"
#include "tools/bench/udp_drops.h"
#include "tools/bench/whep_bench.h"

namespace cascade::bench {
namespace {

TEST(VideoShapeTest, FramesAreFullPacketsAndAShorterLastOne) {
  const VideoShape video = VideoShape::ForRate(200);
  EXPECT_EQ(video.packets_per_frame, 7);
  EXPECT_NEAR(video.packets_per_second(), 200, 1e-9);
  const VideoShape fast = VideoShape::ForRate(100000);
  EXPECT_EQ(fast.packets_per_frame, 32);
  EXPECT_NEAR(fast.frames_per_second, 3125, 1e-9);
  for (uint64_t frame = 0; frame < 100; ++frame) {
    for (int i = 0; i + 1 < video.packets_per_frame; ++i) {
      ASSERT_EQ(video.PacketSize(frame, i), 1200u);
    }
    const size_t last = video.PacketSize(frame, video.packets_per_frame - 1);
    ASSERT_LT(last, 1200u);
    ASSERT_GE(last, 300u);
  }
}

TEST(LoadTest, ReceiversCountWhatTheBlasterSends) {
  absl::StatusOr<std::unique_ptr<ReceiverSet>> receivers = ReceiverSet::Open(3);
  ASSERT_TRUE(receivers.ok()) << receivers.status();
  absl::StatusOr<std::unique_ptr<Blaster>> blaster =
      Blaster::Open((*receivers)->addresses()[1]);
  ASSERT_TRUE(blaster.ok()) << blaster.status();
  VideoShape shape;
  shape.packets_per_frame = 5;
  shape.frames_per_second = 500;
  EXPECT_EQ((*blaster)->Send(shape, 20), 100u);
  (*receivers)->WaitQuiet(absl::Milliseconds(100), absl::Seconds(3));
  EXPECT_EQ((*receivers)->received(), 100u);
  EXPECT_EQ((*receivers)->children_reached(), 1);

  // A datagram without the benchmark's SSRC is not counted as received.
  const int fd = socket(AF_INET, SOCK_DGRAM, 0);
  const SocketAddress to = (*receivers)->addresses()[0];
  ASSERT_EQ(sendto(fd, "not rtp", 7, 0, to.get(), to.size()), 7);
  close(fd);
  (*receivers)->WaitQuiet(absl::Milliseconds(100), absl::Seconds(1));
  const absl::Time deadline = absl::Now() + absl::Seconds(2);
  while ((*receivers)->foreign() == 0 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  EXPECT_EQ((*receivers)->foreign(), 1u);
  EXPECT_EQ((*receivers)->received(), 100u);
}

TEST(LatencyTest, SendTimeRoundTripsThroughThePacket) {
  char packet[kTimedHeaderBytes + 4] = {static_cast<char>(0x80)};
  for (int64_t nanos : {int64_t{0}, int64_t{1}, int64_t{0x0102030405060708},
                        int64_t{1764293000123456789}}) {
    EncodeSendTime(nanos, absl::Span<char>(packet, sizeof(packet)));
    EXPECT_EQ(DecodeSendTime(absl::Span<const char>(packet, sizeof(packet))),
              nanos);
  }
  // Big-endian, right after the 12-byte header.
  EncodeSendTime(0x0102030405060708, absl::Span<char>(packet, sizeof(packet)));
  EXPECT_EQ(packet[kSendTimeOffset], 0x01);
  EXPECT_EQ(packet[kSendTimeOffset + 7], 0x08);
}

TEST(LatencyTest, PacketsWithoutASendTimeAreRefused) {
  char packet[kTimedHeaderBytes] = {static_cast<char>(0x80)};
  EncodeSendTime(42, absl::Span<char>(packet, sizeof(packet)));
  EXPECT_EQ(DecodeSendTime(absl::Span<const char>(packet, sizeof(packet) - 1)),
            std::nullopt);
  EXPECT_EQ(DecodeSendTime(absl::Span<const char>()), std::nullopt);
  packet[0] = static_cast<char>(0x90);  // extension bit: payload moved
  EXPECT_EQ(DecodeSendTime(absl::Span<const char>(packet, sizeof(packet))),
            std::nullopt);
  packet[0] = static_cast<char>(0x81);  // one CSRC
  EXPECT_EQ(DecodeSendTime(absl::Span<const char>(packet, sizeof(packet))),
            std::nullopt);
}

TEST(LatencyTest, NearestRankPercentiles) {
  std::vector<int64_t> none;
  const LatencySummary empty = Summarize(none);
  EXPECT_EQ(empty.samples, 0u);
  EXPECT_EQ(empty.p99_ns, 0);

  // 1..1000 shuffled: p50 is 500, p99 is 990, max 1000.
  std::vector<int64_t> delays;
  for (int64_t i = 1; i <= 1000; ++i) delays.push_back((i * 367) % 1000 + 1);
  const LatencySummary summary = Summarize(delays);
  EXPECT_EQ(summary.samples, 1000u);
  EXPECT_EQ(summary.p50_ns, 500);
  EXPECT_EQ(summary.p99_ns, 990);
  EXPECT_EQ(summary.max_ns, 1000);

  // One sample is every percentile; a single outlier in 100 is not the p99.
  std::vector<int64_t> one = {7};
  EXPECT_EQ(Summarize(one).p99_ns, 7);
  std::vector<int64_t> outlier(99, 10);
  outlier.push_back(5000);
  const LatencySummary with_outlier = Summarize(outlier);
  EXPECT_EQ(with_outlier.p99_ns, 10);
  EXPECT_EQ(with_outlier.max_ns, 5000);
}

TEST(LoadTest, ReceiversTimeEveryPacketWhileRecording) {
  absl::StatusOr<std::unique_ptr<ReceiverSet>> receivers = ReceiverSet::Open(2);
  ASSERT_TRUE(receivers.ok()) << receivers.status();
  absl::StatusOr<std::unique_ptr<Blaster>> blaster =
      Blaster::Open((*receivers)->addresses()[0]);
  ASSERT_TRUE(blaster.ok()) << blaster.status();
  VideoShape shape;
  shape.packets_per_frame = 4;
  shape.frames_per_second = 500;
  // Not recording: counted, not timed.
  EXPECT_EQ((*blaster)->Send(shape, 5), 20u);
  (*receivers)->WaitQuiet(absl::Milliseconds(100), absl::Seconds(3));
  ASSERT_EQ((*receivers)->received(), 20u);

  const int64_t before = RealtimeNanos();
  (*receivers)->StartLatency();
  EXPECT_EQ((*blaster)->Send(shape, 10), 40u);
  (*receivers)->WaitQuiet(absl::Milliseconds(100), absl::Seconds(3));
  const int64_t elapsed = RealtimeNanos() - before;
  const LatencySummary latency = (*receivers)->TakeLatency();
  EXPECT_EQ((*receivers)->received(), 60u);
  EXPECT_EQ(latency.samples, 40u);
  // Delays are real: positive and no longer than the whole exchange.
  EXPECT_GT(latency.p50_ns, 0);
  EXPECT_LE(latency.p50_ns, latency.p99_ns);
  EXPECT_LE(latency.p99_ns, latency.max_ns);
  EXPECT_LT(latency.max_ns, elapsed);
}

uint64_t RusageCpuNanos() {
  rusage usage;
  getrusage(RUSAGE_SELF, &usage);
  auto nanos = [](const timeval& t) {
    return static_cast<uint64_t>(t.tv_sec) * 1000000000 + t.tv_usec * 1000ULL;
  };
  return nanos(usage.ru_utime) + nanos(usage.ru_stime);
}

TEST(ProcessTest, CpuTimeAgreesWithGetrusage) {
  absl::StatusOr<uint64_t> before = ProcessCpuNanos(getpid());
  ASSERT_TRUE(before.ok()) << before.status();
  const uint64_t rusage_before = RusageCpuNanos();
  // Spin until getrusage has seen 50 ms of CPU (bounded: the machine is
  // shared, so wall time says little).
  volatile uint64_t sink = 0;
  const absl::Time deadline = absl::Now() + absl::Seconds(5);
  while (RusageCpuNanos() - rusage_before < 50'000'000 &&
         absl::Now() < deadline) {
    for (int i = 0; i < 10000; ++i) sink = sink + 1;
  }
  const uint64_t rusage_spent = RusageCpuNanos() - rusage_before;
  absl::StatusOr<uint64_t> after = ProcessCpuNanos(getpid());
  ASSERT_TRUE(after.ok());
  ASSERT_GE(rusage_spent, 50'000'000u);
  // getrusage ticks coarsely; the two agree within 20 ms.
  EXPECT_NEAR(static_cast<double>(*after - *before),
              static_cast<double>(rusage_spent), 20e6);
  EXPECT_FALSE(ProcessCpuNanos(-1).ok());
}

TEST(ProcessTest, FileTailAndFirstOutputLine) {
  const std::string log = absl::StrCat(testing::TempDir(), "/tail.log");
  std::ofstream(log) << "first line\nstarted\n";
  EXPECT_EQ(FileTail(log), "first line\nstarted\n");
  EXPECT_EQ(FileTail(log, 8), "started\n");
  EXPECT_EQ(FileTail(log + ".missing"), "");
  EXPECT_EQ(FirstOutputLine("echo one; echo two"), "one");
  EXPECT_EQ(FirstOutputLine("exit 1"), "");
}

TEST(UdpDropsTest, ParsesTheKernelTable) {
  const std::string path = absl::StrCat(testing::TempDir(), "/udp");
  std::ofstream(path)
      << "   sl  local_address rem_address   st tx_queue rx_queue tr tm->when "
         "retrnsmt   uid  timeout inode ref pointer drops\n"
         "  1: 0100007F:1F90 00000000:0000 07 00000000:00000000 00:00000000 "
         "00000000     0        0 123 2 0000000000000000 17\n"
         "  2: 0100007F:0035 00000000:0000 07 00000000:00000000 00:00000000 "
         "00000000     0        0 124 2 0000000000000000 0\n"
         "garbage line\n";
  const absl::flat_hash_map<int, uint64_t> drops = UdpDropsByPort(path);
  EXPECT_EQ(drops.size(), 2u);
  EXPECT_EQ(drops.at(8080), 17u);
  EXPECT_EQ(drops.at(53), 0u);
}

TEST(UdpDropsTest, SeesARealSocketOverflow) {
  const int receiver = socket(AF_INET, SOCK_DGRAM, 0);
  const SocketAddress any = *SocketAddress::Parse("127.0.0.1:0");
  ASSERT_EQ(bind(receiver, any.get(), any.size()), 0);
  const int tiny = 2048;  // the kernel's minimum: a few datagrams
  setsockopt(receiver, SOL_SOCKET, SO_RCVBUF, &tiny, sizeof(tiny));
  SocketAddress bound;
  socklen_t length = sizeof(bound.storage);
  getsockname(receiver, bound.get(), &length);
  const int sender = socket(AF_INET, SOCK_DGRAM, 0);
  char payload[1000] = {};
  for (int i = 0; i < 50; ++i) {
    sendto(sender, payload, sizeof(payload), 0, bound.get(), bound.size());
  }
  EXPECT_GT(UdpDropsByPort()[bound.port()], 0u);
  close(sender);
  close(receiver);
}

}  // namespace
}  // namespace cascade::bench

namespace cascade::bench {
namespace {

ForwardingResult WithNs(double ns, std::string error = "") {
  ForwardingResult r;
  r.ns_per_packet = r.ns_min = r.ns_max = ns;
  r.error = std::move(error);
  return r;
}

TEST(MedianOfTest, PicksTheMedianRunAndKeepsTheRange) {
  const ForwardingResult median =
      MedianOf({WithNs(300), WithNs(0, "died"), WithNs(100), WithNs(200)});
  EXPECT_TRUE(median.error.empty());
  EXPECT_EQ(median.ns_per_packet, 200);
  EXPECT_EQ(median.runs, 3);
  EXPECT_EQ(median.ns_min, 100);
  EXPECT_EQ(median.ns_max, 300);
}

TEST(MedianOfTest, ReportsAnErrorWhenNoRunWorked) {
  EXPECT_EQ(MedianOf({WithNs(0, "first"), WithNs(0, "second")}).error,
            "second");
}

TEST(JsonFieldTest, ReadsTopLevelNumbersOnly) {
  // Shaped like relay-probe's final line: totals, then the same keys per site.
  const std::string line =
      R"({"type":"final","lost":3,"longest_gap_ms":312.5,)"
      R"("first_frame_ms":null,"per_site":[{"lost":1,"packets":9}]})";
  EXPECT_EQ(JsonField(line, "lost"), 3);
  EXPECT_EQ(JsonField(line, "longest_gap_ms"), 312.5);
  EXPECT_EQ(JsonField(line, "first_frame_ms"), std::nullopt);
  EXPECT_EQ(JsonField(line, "type"), std::nullopt);
  EXPECT_EQ(JsonField(line, "packets"), std::nullopt);
  EXPECT_EQ(JsonField(line, "missing"), std::nullopt);
  EXPECT_EQ(JsonField("relay-probe: final lost 3", "lost"), std::nullopt);
  EXPECT_EQ(JsonField("", "lost"), std::nullopt);
}

TEST(WhepProbeFinalTest, SumsTheViewersSessions) {
  // Trimmed from a relay-probe --whep --json run: one viewer connected and
  // receiving, one connected with nothing received, one never connected.
  const std::string line =
      R"({"type":"final","elapsed_s":4.5,"packets":900,"bytes":1080000,)"
      R"("lost":2,"broken":true,"reasons":["viewer 2 never connected",)"
      R"("viewer 2: DELETE refused"],"whep":{"viewers":3,"connected":2,)"
      R"("sessions":[)"
      R"({"post_ms":3.5,"connected_ms":120,"packets":900},)"
      R"({"post_ms":2.5,"connected_ms":310.5,"packets":0},)"
      R"({"post_ms":4,"connected_ms":null,"packets":0}]}})";
  absl::StatusOr<WhepProbeFinal> final = ParseWhepProbeFinal(line);
  ASSERT_TRUE(final.ok()) << final.status();
  EXPECT_EQ(final->viewers, 3);
  EXPECT_EQ(final->connected, 2);
  EXPECT_EQ(final->receiving, 1);
  EXPECT_EQ(final->lost, 2);
  EXPECT_EQ(final->packets, 900);
  EXPECT_EQ(final->bytes, 1080000);
  EXPECT_DOUBLE_EQ(final->elapsed_s, 4.5);
  EXPECT_DOUBLE_EQ(final->posts_ms, 10);
  ASSERT_TRUE(final->max_connected_ms.has_value());
  EXPECT_DOUBLE_EQ(*final->max_connected_ms, 310.5);
  EXPECT_EQ(final->complaints, 2);
  EXPECT_EQ(final->first_complaint, "viewer 2 never connected");
}

TEST(WhepProbeFinalTest, RefusesLinesWithoutViewers) {
  EXPECT_FALSE(ParseWhepProbeFinal("").ok());
  EXPECT_FALSE(ParseWhepProbeFinal("{\"type\":\"final\"").ok());
  EXPECT_FALSE(
      ParseWhepProbeFinal(R"({"type":"final","lost":0,"packets":9})").ok());
}

// Runs the search against a relay that serves up to `capacity` viewers.
std::vector<int> Tried(int first, int limit, int capacity, int* best) {
  ViewerSearch search(first, limit);
  std::vector<int> tried;
  while (std::optional<int> n = search.Next()) {
    tried.push_back(*n);
    search.Record(*n, *n <= capacity);
    if (tried.size() > 50) break;
  }
  *best = search.best();
  return tried;
}

TEST(ViewerSearchTest, DoublesThenNarrowsToWithinTenPercent) {
  int best = 0;
  EXPECT_EQ(Tried(50, 1600, 700, &best),
            (std::vector<int>{50, 100, 200, 400, 800, 600, 700, 750}));
  EXPECT_EQ(best, 700);
}

TEST(ViewerSearchTest, StopsAtTheLimitWhenEveryStepPasses) {
  int best = 0;
  EXPECT_EQ(Tried(50, 400, 100000, &best),
            (std::vector<int>{50, 100, 200, 400}));
  EXPECT_EQ(best, 400);
}

TEST(ViewerSearchTest, GoesBelowTheFirstCountWhenItFails) {
  int best = 0;
  const std::vector<int> tried = Tried(50, 1600, 10, &best);
  EXPECT_EQ(tried.front(), 50);
  EXPECT_EQ(best, 10);
  EXPECT_LE(tried.size(), 8u);
}

}  // namespace
}  // namespace cascade::bench
