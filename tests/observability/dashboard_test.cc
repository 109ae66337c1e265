// observability/dashboard.json, parsed with protobuf's JSON support: every
// panel has an id, a position and targets, and every metric its expressions
// name is one relayd's core or topologyd renders (their "# TYPE" lines) or
// one observability/rules.yml records. Grafana itself is not on Debian 12.
#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>

#include <regex>
#include <set>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "base/clock.h"
#include "base/files.h"
#include "relay/packet_pool.h"
#include "relay/relay_core.h"
#include "tests/common/runfile.h"
#include "topology/controller_fixture.h"
#include "topology/metrics_server.h"

namespace cascade::topology {
namespace {

using google::protobuf::Struct;
using google::protobuf::Value;

// Families named on "# TYPE NAME KIND" lines, with a histogram's series.
void AddFamilies(const std::string& text, std::set<std::string>* names) {
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (!absl::ConsumePrefix(&line, "# TYPE ")) continue;
    std::vector<std::string> words = absl::StrSplit(line, ' ');
    if (words.size() != 2) continue;
    names->insert(words[0]);
    if (words[1] == "histogram") {
      for (const char* suffix : {"_bucket", "_sum", "_count"}) {
        names->insert(words[0] + suffix);
      }
    }
  }
}

class NullTransport : public relay::Transport {
 public:
  void Send(const media::Endpoint&, const relay::PacketRef&) override {}
};

TEST_F(ControllerTest, DashboardNamesOnlyExportedOrRecordedMetrics) {
  std::set<std::string> known;
  Start();
  ApplyReference();
  MetricsInputs inputs;
  inputs.controller = controller_->Metrics();
  AddFamilies(RenderMetrics(inputs), &known);
  SystemClock clock;
  relay::PacketPool pool(64);
  NullTransport transport;
  relay::RelayCore core(relay::RelayOptions(), &clock, &pool, &transport);
  std::string relay_text;
  core.RenderMetrics(&relay_text);
  AddFamilies(relay_text, &known);
  ASSERT_GT(known.count("relay_stream_bytes_out_total"), 0u);
  ASSERT_GT(known.count("topology_failovers_total"), 0u);
  // Recorded series: "- record: NAME" in rules.yml.
  absl::StatusOr<std::string> rules =
      ReadFile(cascade::testing::Runfile("observability/rules.yml"));
  ASSERT_TRUE(rules.ok()) << rules.status();
  const std::regex record(R"(- record: ([a-z0-9_:]+))");
  for (std::sregex_iterator it(rules->begin(), rules->end(), record), end;
       it != end; ++it) {
    known.insert((*it)[1]);
  }

  absl::StatusOr<std::string> json =
      ReadFile(cascade::testing::Runfile("observability/dashboard.json"));
  ASSERT_TRUE(json.ok()) << json.status();
  Struct dashboard;
  ASSERT_TRUE(
      google::protobuf::util::JsonStringToMessage(*json, &dashboard).ok());
  const auto& fields = dashboard.fields();
  ASSERT_EQ(fields.at("title").string_value(), "Cascade");
  const auto& panels = fields.at("panels").list_value().values();
  ASSERT_GE(panels.size(), 6);
  // Our metric names in PromQL, whole: relay_*, topology_*, cascade:*.
  const std::regex metric(
      R"((?:^|[^a-z0-9_:])((?:relay|topology)_[a-z0-9_]+|cascade:[a-z0-9_:]+)(?![a-z0-9_:]))");
  std::set<double> ids;
  std::set<std::string> titles;
  for (const Value& panel : panels) {
    const auto& p = panel.struct_value().fields();
    const std::string title = p.at("title").string_value();
    EXPECT_TRUE(ids.insert(p.at("id").number_value()).second) << title;
    titles.insert(title);
    const auto& grid = p.at("gridPos").struct_value().fields();
    for (const char* key : {"x", "y", "w", "h"}) {
      EXPECT_TRUE(grid.count(key)) << title << " has no gridPos." << key;
    }
    const auto& targets = p.at("targets").list_value().values();
    ASSERT_FALSE(targets.empty()) << title;
    for (const Value& target : targets) {
      const std::string expr =
          target.struct_value().fields().at("expr").string_value();
      int named = 0;
      for (std::sregex_iterator it(expr.begin(), expr.end(), metric), end;
           it != end; ++it, ++named) {
        EXPECT_TRUE(known.count((*it)[1])) << title << ": " << (*it)[1]
                                           << " is neither exported nor "
                                              "recorded";
      }
      EXPECT_GT(named, 0) << title << ": " << expr;
    }
  }
  // What issue 22 asks the dashboard to show.
  for (const char* wanted :
       {"Throughput per tier (sent)", "NACKs and retransmissions", "Failovers",
        "Assignment push latency (offer to ack)", "Controller health"}) {
    EXPECT_TRUE(titles.count(wanted)) << wanted;
  }
}

}  // namespace
}  // namespace cascade::topology
