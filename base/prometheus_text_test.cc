#include "base/prometheus_text.h"

#include <gtest/gtest.h>

#include <limits>
#include <string>

namespace cascade {
namespace {

TEST(PrometheusTextTest, FamilyLines) {
  std::string out;
  AppendFamily(&out, "m_total", "counter", "Things.");
  EXPECT_EQ(out, "# HELP m_total Things.\n# TYPE m_total counter\n");
}

TEST(PrometheusTextTest, CounterAndGauges) {
  std::string out;
  AppendCounter(&out, "c_total", "Count.", 18446744073709551615u);
  AppendGauge(&out, "g_seconds", "Formatted.", "0.125");
  AppendGauge(&out, "g_ratio", "A double.", 0.5);
  AppendGauge(&out, "g_count", "An int.", -3);
  EXPECT_EQ(out,
            "# HELP c_total Count.\n# TYPE c_total counter\n"
            "c_total 18446744073709551615\n"
            "# HELP g_seconds Formatted.\n# TYPE g_seconds gauge\n"
            "g_seconds 0.125\n"
            "# HELP g_ratio A double.\n# TYPE g_ratio gauge\n"
            "g_ratio 0.5\n"
            "# HELP g_count An int.\n# TYPE g_count gauge\n"
            "g_count -3\n");
}

TEST(PrometheusTextTest, IntegersAreExactDoublesHaveSixDigits) {
  std::string out;
  AppendSample(&out, "a", {}, uint64_t{1234567});
  AppendSample(&out, "b", {}, 1234567u);
  AppendSample(&out, "c", {}, 1234567.0);
  AppendSample(&out, "d", {}, std::numeric_limits<double>::infinity());
  AppendSample(&out, "e", {}, -std::numeric_limits<double>::infinity());
  EXPECT_EQ(out, "a 1234567\nb 1234567\nc 1.23457e+06\nd +Inf\ne -Inf\n");
}

TEST(PrometheusTextTest, LabelsInOrderWithValuesEscaped) {
  std::string out;
  AppendSample(&out, "m", {{"node", "a\"b\\c\nd"}}, 1);
  AppendSample(&out, "m", {{"kind", "rtp"}, {"reason", std::string("late")}},
               2);
  EXPECT_EQ(out,
            "m{node=\"a\\\"b\\\\c\\nd\"} 1\n"
            "m{kind=\"rtp\",reason=\"late\"} 2\n");
}

TEST(DurationHistogramTest, CumulativeBucketsSumAndCount) {
  DurationHistogram lag({0.001, 0.01, 0.1});
  lag.Observe(0.0005);
  lag.Observe(0.005);
  lag.Observe(0.005);
  lag.Observe(2);
  EXPECT_EQ(lag.count(), 4u);
  EXPECT_EQ(lag.bucket(0), 1u);
  EXPECT_EQ(lag.bucket(1), 3u);
  std::string out;
  lag.Append(&out, "lag_seconds", "Lateness.");
  EXPECT_EQ(out,
            "# HELP lag_seconds Lateness.\n"
            "# TYPE lag_seconds histogram\n"
            "lag_seconds_bucket{le=\"0.001\"} 1\n"
            "lag_seconds_bucket{le=\"0.01\"} 3\n"
            "lag_seconds_bucket{le=\"0.1\"} 3\n"
            "lag_seconds_bucket{le=\"+Inf\"} 4\n"
            "lag_seconds_sum 2.0105\n"
            "lag_seconds_count 4\n");
}

TEST(DurationHistogramTest, ReadingChangesNothing) {
  DurationHistogram lag({0.01, 1});
  lag.Observe(0.5);
  std::string first, second;
  lag.Append(&first, "lag_seconds", "Lateness.");
  lag.Append(&second, "lag_seconds", "Lateness.");
  EXPECT_EQ(first, second) << "two scrapers see the same figures";
}

TEST(DurationHistogramTest, ACopyIsASnapshot) {
  DurationHistogram live(ControlLatencyBounds());
  live.Observe(0.003);
  const DurationHistogram snapshot = live;
  live.Observe(20);
  EXPECT_EQ(snapshot.count(), 1u);
  EXPECT_EQ(live.count(), 2u);
  std::string out;
  snapshot.Append(&out, "h", "H.");
  EXPECT_NE(out.find("h_bucket{le=\"0.001\"} 0\nh_bucket{le=\"0.0025\"} 0\n"
                     "h_bucket{le=\"0.005\"} 1\n"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("h_bucket{le=\"10\"} 1\nh_bucket{le=\"+Inf\"} 1\n"),
            std::string::npos)
      << out;
}

}  // namespace
}  // namespace cascade
