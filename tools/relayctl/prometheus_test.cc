// relayctl prometheus: the scrape configuration and file_sd targets, read
// back with protobuf's JSON parser.
#include "tools/relayctl/prometheus.h"

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/text_format.h>
#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>

namespace cascade::relayctl {
namespace {

using google::protobuf::ListValue;
using google::protobuf::Struct;

cascade::v1::GetTopologyResponse Topology(const std::string& text) {
  cascade::v1::GetTopologyResponse topology;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &topology));
  return topology;
}

template <typename M>
M Parse(const std::string& json) {
  M message;
  EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(json, &message).ok())
      << json;
  return message;
}

TEST(PrometheusTest, EveryRelayWithAnAddressIsATargetWithItsLabels) {
  std::vector<std::string> unscraped;
  absl::StatusOr<PrometheusFiles> files = MakePrometheusFiles(
      Topology(R"pb(
        nodes { id: "nat" tier: TIER_NATIONAL metrics_address: "10.0.0.1:9100" }
        nodes {
          id: "p1-sb"
          tier: TIER_PROVINCIAL
          role: ROLE_STANDBY
          labels { key: "region" value: "r1" }
          labels { key: "node" value: "not this" }
          metrics_address: "10.0.0.2:9100/metrics/p1-sb"
        }
        nodes { id: "s1" tier: TIER_SITE plain_endpoint: true }
      )pb"),
      {"10.0.0.9:9200", "10.0.0.10:9200"}, absl::Seconds(1), {"rules.yml"},
      &unscraped);
  ASSERT_TRUE(files.ok()) << files.status();
  EXPECT_EQ(unscraped, std::vector<std::string>{"s1"});

  const ListValue relays = Parse<ListValue>(files->at("relays.json"));
  ASSERT_EQ(relays.values_size(), 2);
  const auto& nat = relays.values(0).struct_value().fields();
  EXPECT_EQ(nat.at("targets").list_value().values(0).string_value(),
            "10.0.0.1:9100");
  const auto& nat_labels = nat.at("labels").struct_value().fields();
  EXPECT_EQ(nat_labels.at("node").string_value(), "nat");
  EXPECT_EQ(nat_labels.at("tier").string_value(), "national");
  EXPECT_EQ(nat_labels.at("role").string_value(), "active");
  EXPECT_EQ(nat_labels.count("__metrics_path__"), 0u);
  const auto& sb = relays.values(1).struct_value().fields();
  EXPECT_EQ(sb.at("targets").list_value().values(0).string_value(),
            "10.0.0.2:9100");
  const auto& sb_labels = sb.at("labels").struct_value().fields();
  EXPECT_EQ(sb_labels.at("node").string_value(), "p1-sb");
  EXPECT_EQ(sb_labels.at("region").string_value(), "r1");
  EXPECT_EQ(sb_labels.at("role").string_value(), "standby");
  EXPECT_EQ(sb_labels.at("__metrics_path__").string_value(), "/metrics/p1-sb");

  const ListValue controllers = Parse<ListValue>(files->at("controllers.json"));
  ASSERT_EQ(controllers.values_size(), 2);
  EXPECT_EQ(controllers.values(1)
                .struct_value()
                .fields()
                .at("targets")
                .list_value()
                .values(0)
                .string_value(),
            "10.0.0.10:9200");

  const Struct config = Parse<Struct>(files->at("prometheus.yml"));
  const auto& global = config.fields().at("global").struct_value().fields();
  EXPECT_EQ(global.at("scrape_interval").string_value(), "1s");
  EXPECT_EQ(global.at("evaluation_interval").string_value(), "1s");
  EXPECT_EQ(
      config.fields().at("rule_files").list_value().values(0).string_value(),
      "rules.yml");
  const ListValue& jobs = config.fields().at("scrape_configs").list_value();
  ASSERT_EQ(jobs.values_size(), 2);
  const auto& relay_job = jobs.values(0).struct_value().fields();
  EXPECT_EQ(relay_job.at("job_name").string_value(), "cascade-relays");
  EXPECT_EQ(relay_job.at("file_sd_configs")
                .list_value()
                .values(0)
                .struct_value()
                .fields()
                .at("files")
                .list_value()
                .values(0)
                .string_value(),
            "relays.json");
}

TEST(PrometheusTest, RefusesWhatPrometheusWouldNotTake) {
  std::vector<std::string> unscraped;
  EXPECT_FALSE(MakePrometheusFiles(Topology(R"pb(nodes {
                                                   id: "a"
                                                   metrics_address: "nohost"
                                                 })pb"),
                                   {}, absl::Seconds(15), {}, &unscraped)
                   .ok());
  EXPECT_FALSE(
      MakePrometheusFiles(Topology(R"pb(nodes {
                                          id: "a"
                                          metrics_address: "h:1"
                                          labels { key: "bad-name" value: "x" }
                                        })pb"),
                          {}, absl::Seconds(15), {}, &unscraped)
          .ok());
  EXPECT_FALSE(MakePrometheusFiles(Topology(""), {"h:0"}, absl::Seconds(15), {},
                                   &unscraped)
                   .ok());
  EXPECT_FALSE(MakePrometheusFiles(Topology(""), {}, absl::Microseconds(1500),
                                   {}, &unscraped)
                   .ok());
}

}  // namespace
}  // namespace cascade::relayctl
