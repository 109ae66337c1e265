#include "relay/metrics_text.h"

#include <gtest/gtest.h>

#include <string>

namespace cascade::relay {
namespace {

TEST(DurationHistogramTest, CumulativeBucketsSumAndCount) {
  DurationHistogram<3> lag({0.001, 0.01, 0.1});
  lag.Add(0.0005);
  lag.Add(0.005);
  lag.Add(0.005);
  lag.Add(2);
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
  DurationHistogram<2> lag({0.01, 1});
  lag.Add(0.5);
  std::string first, second;
  lag.Append(&first, "lag_seconds", "Lateness.");
  lag.Append(&second, "lag_seconds", "Lateness.");
  EXPECT_EQ(first, second) << "two scrapers see the same figures";
}

}  // namespace
}  // namespace cascade::relay
