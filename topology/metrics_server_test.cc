// topologyd's /metrics text: what the controller counts (lease expiries,
// failovers it decides, pushes, acks and NACKs with their latency, changes
// applied) rendered as Prometheus text, and the --metrics parser.
#include "topology/metrics_server.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "topology/controller_fixture.h"

namespace cascade::topology {
namespace {

bool Has(const std::string& text, const std::string& line) {
  return text.find(absl::StrCat("\n", line, "\n")) != std::string::npos;
}

TEST_F(ControllerTest, MetricsCountWhatTheControllerDecides) {
  Start();
  ApplyReference();
  RegisterAll(kRelays);
  const std::shared_ptr<const cascade::v1::Assignment> d1 =
      recorder_.latest["d1"];
  ASSERT_NE(d1, nullptr);
  clock_.Advance(absl::Milliseconds(30));
  cascade::v1::AckRequest ack;
  ack.set_node_id("d1");
  ack.set_version(d1->version());
  ASSERT_TRUE(controller_->Ack(ack).ok());
  // A second ack of the same version is not a second latency sample.
  ASSERT_TRUE(controller_->Ack(ack).ok());
  ack.set_node_id("d2");
  ack.set_error("no such interface");
  ASSERT_TRUE(controller_->Ack(ack).ok());

  // p1 falls silent: its lease lapses and the controller moves its three
  // districts to their standbys.
  RunFor(&clock_, controller_.get(), absl::Seconds(4), absl::Seconds(1),
         [] { return std::vector<std::string>{"p1"}; });

  MetricsInputs inputs;
  controller_->CountNodeRefusal();
  controller_->CountNodeRefusal();
  inputs.controller = controller_->Metrics();
  inputs.leading = true;
  inputs.watchers = 3;
  inputs.admin_calls[{"DrainNode", "PERMISSION_DENIED"}] = 2;
  const std::string text = RenderMetrics(inputs);
  EXPECT_TRUE(Has(text, "topology_leader 1")) << text;
  EXPECT_TRUE(Has(text, "topology_watch_streams 3"));
  EXPECT_TRUE(Has(text,
                  "topology_admin_requests_total{method=\"DrainNode\","
                  "code=\"PERMISSION_DENIED\"} 2"));
  EXPECT_TRUE(Has(text, "topology_lease_expiries_total 1")) << text;
  EXPECT_TRUE(Has(text, "topology_node_calls_refused_total 2")) << text;
  EXPECT_TRUE(Has(text, "topology_failovers_total{reason=\"down\"} 3"));
  EXPECT_TRUE(Has(text, "topology_failovers_total{reason=\"drained\"} 0"));
  EXPECT_TRUE(Has(text, "topology_assignment_acks_total 2"));
  EXPECT_TRUE(Has(text, "topology_assignment_nacks_total 1"));
  // The one ack of an offered version took 30 ms.
  EXPECT_TRUE(Has(
      text, "topology_assignment_ack_latency_seconds_bucket{le=\"0.025\"} 0"));
  EXPECT_TRUE(Has(
      text, "topology_assignment_ack_latency_seconds_bucket{le=\"0.05\"} 1"));
  EXPECT_TRUE(Has(text, "topology_assignment_ack_latency_seconds_count 1"));
  EXPECT_TRUE(Has(text, "topology_changes_applied_total{kind=\"apply\"} 1"));
  EXPECT_TRUE(Has(text, "topology_node_up{node=\"p1\",tier=\"provincial\"} 0"));
  EXPECT_TRUE(Has(text, "topology_node_up{node=\"p2\",tier=\"provincial\"} 1"));
  EXPECT_TRUE(
      Has(text,
          "topology_node_max_children{node=\"p1-sb\",tier=\"provincial\"} 2"));
  EXPECT_TRUE(Has(
      text, "topology_node_children{node=\"p1-sb\",tier=\"provincial\"} 2"));
  EXPECT_TRUE(
      Has(text, "topology_nodes{tier=\"provincial\",status=\"down\"} 1"));
  // The apply and the reintegration-free run: every store write timed.
  EXPECT_TRUE(Has(text, "topology_store_write_seconds_count 1")) << text;
  // Every family has its TYPE line once.
  EXPECT_NE(text.find("# TYPE topology_assignment_ack_latency_seconds "
                      "histogram\n"),
            std::string::npos);
}

// The sample's value on the line starting with `prefix`; -1 if none.
double Sample(const std::string& text, const std::string& prefix) {
  const size_t at = text.find(absl::StrCat("\n", prefix, " "));
  if (at == std::string::npos) return -1;
  return std::stod(text.substr(at + prefix.size() + 2));
}

TEST_F(ControllerTest, MetricsSayWhereTheControllersTimeGoes) {
  Start();
  ApplyReference();
  RegisterAll(kRelays);
  RunFor(&clock_, controller_.get(), absl::Seconds(4), absl::Seconds(1),
         [] { return std::vector<std::string>{"p1"}; });
  controller_->timing()->RecordTick(absl::Seconds(2), absl::Milliseconds(20));

  MetricsInputs inputs;
  inputs.controller = controller_->Metrics();
  inputs.timing = controller_->timing()->Take();
  const std::string text = RenderMetrics(inputs);
  // Every Tick waited for the lock and held it; the apply rebuilt every
  // assignment and handed them over; registrations and reports held it.
  const double ticks =
      Sample(text, "topology_lock_held_seconds_count{op=\"tick\"}");
  EXPECT_GE(ticks, 4) << text;
  EXPECT_EQ(Sample(text, "topology_lock_wait_seconds_count{op=\"tick\"}"),
            ticks);
  EXPECT_GE(Sample(text, "topology_lock_held_seconds_count{op=\"register\"}"),
            1);
  EXPECT_GE(Sample(text, "topology_lock_held_seconds_count{op=\"report\"}"), 1);
  EXPECT_GE(
      Sample(text, "topology_lock_held_seconds_count{op=\"recompute_all\"}"),
      1);
  EXPECT_GE(Sample(text, "topology_lock_held_seconds_count{op=\"offer\"}"), 1);
  EXPECT_GE(Sample(text, "topology_lock_held_seconds_count{op=\"apply\"}"), 1);
  // Nested uses are never waited for: no wait family for them.
  EXPECT_EQ(text.find("topology_lock_wait_seconds_count{op=\"recompute\"}"),
            std::string::npos);
  EXPECT_TRUE(
      Has(text, "topology_lock_held_seconds_bucket{op=\"tick\",le=\"+Inf\"} " +
                    absl::StrCat(ticks)));
  EXPECT_TRUE(Has(text, "topology_tick_late_seconds_bucket{le=\"1\"} 0"));
  EXPECT_TRUE(Has(text, "topology_tick_late_seconds_bucket{le=\"2.5\"} 1"));
  EXPECT_TRUE(
      Has(text, "topology_tick_run_queue_wait_seconds_bucket{le=\"0.01\"} 0"));
  EXPECT_TRUE(
      Has(text, "topology_tick_run_queue_wait_seconds_bucket{le=\"0.05\"} 1"));
  EXPECT_EQ(text.find("# TYPE topology_lock_held_seconds histogram\n"),
            text.rfind("# TYPE topology_lock_held_seconds histogram\n"));
}

TEST(ControllerTimingTest, RecentHoldsAreTheLongestSinceTheLastLook) {
  ControllerTiming timing;
  timing.RecordHold(LockUse::kReport, absl::Milliseconds(1),
                    absl::Milliseconds(3));
  timing.RecordHold(LockUse::kReport, absl::ZeroDuration(),
                    absl::Milliseconds(2));
  timing.RecordHold(LockUse::kTick, absl::Seconds(4), absl::Milliseconds(1));
  ControllerTiming::Recent recent = timing.TakeRecent();
  EXPECT_EQ(recent.longest_hold[static_cast<size_t>(LockUse::kReport)],
            absl::Milliseconds(3));
  EXPECT_EQ(recent.tick_waited, absl::Seconds(4));
  recent = timing.TakeRecent();
  EXPECT_EQ(recent.longest_hold[static_cast<size_t>(LockUse::kReport)],
            absl::ZeroDuration());
  // The totals stay.
  EXPECT_EQ(timing.Take().held[static_cast<size_t>(LockUse::kReport)].count(),
            2u);
}

TEST(ControllerTimingTest, ReadsTheThreadsRunQueueWait) {
  const std::optional<absl::Duration> before = ThreadRunQueueWait();
  ASSERT_TRUE(before.has_value());
  const std::optional<absl::Duration> after = ThreadRunQueueWait();
  ASSERT_TRUE(after.has_value());
  EXPECT_GE(*after, *before);
}

TEST(MetricsListenTest, ParsesAddressesAndRefusesTheRest) {
  absl::StatusOr<MetricsListen> v4 = ParseMetricsListen("127.0.0.1:9100");
  ASSERT_TRUE(v4.ok());
  EXPECT_EQ(v4->host, "127.0.0.1");
  EXPECT_EQ(v4->port, 9100);
  absl::StatusOr<MetricsListen> v6 = ParseMetricsListen("[::1]:0");
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->port, 0);
  for (const char* bad : {"", "9100", "localhost:9100", "127.0.0.1:x",
                          "127.0.0.1:70000", "[::1:9100"}) {
    EXPECT_FALSE(ParseMetricsListen(bad).ok()) << bad;
  }
}

}  // namespace
}  // namespace cascade::topology
