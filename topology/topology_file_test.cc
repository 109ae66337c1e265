#include "topology/topology_file.h"

#include <gtest/gtest.h>

#include <string>

namespace cascade::topology {
namespace {

// The national node starts on line 1, the province on line 8, the district
// on line 22; text appended after it starts on line 28.
constexpr char kValid[] = R"pb(nodes {
                                 id: "nat"
                                 tier: TIER_NATIONAL
                                 media_address: "127.1.0.1:5004"
                                 capacity { max_children: 2 }
                               }

                               nodes {
                                 id: "p1"
                                 tier: TIER_PROVINCIAL
                                 parent: "nat"
                                 media_address: "127.2.1.1:5004"
                                 capacity { max_children: 2 }
                               }
                               streams {
                                 id: "cmd"
                                 direction: DIRECTION_DOWNSTREAM
                                 bitrate_kbps: 2000
                                 tracks { ssrc: 1 media: "video" }
                                 tracks { ssrc: 2 media: "audio" }
                               }
                               nodes {
                                 id: "d1"
                                 tier: TIER_DISTRICT
                                 parent: "p1"
                                 media_address: "127.3.0.1:5004"
                               }
)pb";

absl::Status Check(const std::string& text) {
  absl::StatusOr<TopologyText> parsed = ParseTopologyText(text, "t.textproto");
  if (!parsed.ok()) return parsed.status();
  return ValidateTopology(parsed->topology, "t.textproto", parsed->node_lines);
}

void ExpectRejected(const std::string& text, const std::string& expected) {
  absl::Status status = Check(text);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  EXPECT_NE(status.message().find(expected), std::string::npos)
      << "got: " << status.message() << "\nwanted: " << expected;
}

TEST(TopologyFileTest, ValidTopologyPassesWithLines) {
  absl::StatusOr<TopologyText> parsed = ParseTopologyText(kValid, "t");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->node_lines, (std::vector<int>{1, 8, 22}));
  EXPECT_TRUE(ValidateTopology(parsed->topology, "t", parsed->node_lines).ok());
}

TEST(TopologyFileTest, MalformedFileNamesLineAndColumn) {
  ExpectRejected(std::string(kValid) + "nodes { id: \"x\" tier: NOPE }\n",
                 "t.textproto:28:");
  ExpectRejected("nodes { id: \"x\"\n", "t.textproto:");
}

TEST(TopologyFileTest, DuplicateIdNamesNodeAndLine) {
  ExpectRejected(std::string(kValid) +
                     "nodes { id: \"d1\" tier: TIER_DISTRICT parent: \"p1\" "
                     "media_address: \"127.3.0.2:5004\" }\n",
                 "t.textproto:28: node \"d1\": duplicate id");
}

// relayd refuses peer ids over 64 bytes (the signed activation carries at
// most that): such a node must not pass here and then make its parent and
// children NACK every assignment.
TEST(TopologyFileTest, NodeIdsFollowTheOneRuleRelaydFollows) {
  std::string text = kValid;
  const std::string long_id(65, 'd');
  text.replace(text.find("\"d1\""), 4, "\"" + long_id + "\"");
  ExpectRejected(text, "t.textproto:22: node \"" + long_id +
                           "\": node id \"dddddddddddddddd...\" is 65 bytes");
  text = kValid;
  text.replace(text.find("\"d1\""), 4, "\"d 1\"");
  ExpectRejected(text, "has a space");
}

TEST(TopologyFileTest, UnknownParent) {
  ExpectRejected(std::string(kValid) +
                     "nodes { id: \"d2\" tier: TIER_DISTRICT parent: \"p9\" "
                     "media_address: \"127.3.0.2:5004\" }\n",
                 "t.textproto:28: node \"d2\": unknown parent \"p9\"");
}

TEST(TopologyFileTest, UnknownStandbyParent) {
  ExpectRejected(std::string(kValid) +
                     "nodes { id: \"d2\" tier: TIER_DISTRICT parent: \"p1\" "
                     "standby_parents: \"nope\" "
                     "media_address: \"127.3.0.2:5004\" }\n",
                 "node \"d2\": unknown parent \"nope\"");
}

TEST(TopologyFileTest, Cycle) {
  ExpectRejected(std::string(kValid) +
                     "nodes { id: \"a\" tier: TIER_DISTRICT parent: \"b\" "
                     "media_address: \"127.3.0.2:5004\" }\n"
                     "nodes { id: \"b\" tier: TIER_DISTRICT parent: \"a\" "
                     "media_address: \"127.3.0.3:5004\" }\n",
                 "parent cycle a -> b -> a");
}

TEST(TopologyFileTest, TierOutOfOrder) {
  ExpectRejected(std::string(kValid) +
                     "nodes { id: \"p2\" tier: TIER_PROVINCIAL parent: \"d1\" "
                     "media_address: \"127.2.2.1:5004\" }\n",
                 "t.textproto:28: node \"p2\": tier out of order");
}

TEST(TopologyFileTest, ImpossibleChildCount) {
  ExpectRejected(
      std::string(kValid) +
          "nodes { id: \"p2\" tier: TIER_PROVINCIAL parent: \"nat\" "
          "media_address: \"127.2.2.1:5004\" }\n"
          "nodes { id: \"p3\" tier: TIER_PROVINCIAL parent: \"nat\" "
          "media_address: \"127.2.3.1:5004\" }\n",
      "t.textproto:1: node \"nat\": impossible capacity: 3 children");
}

TEST(TopologyFileTest, ImpossibleUplinkBandwidth) {
  std::string text = kValid;
  // 2 children at 2000 kbps each need 4000 kbps.
  text.replace(text.find("max_children: 2 }"), 17,
               "max_children: 2 uplink_kbps: 3000 }");
  text +=
      "nodes { id: \"p2\" tier: TIER_PROVINCIAL parent: \"nat\" "
      "media_address: \"127.2.2.1:5004\" }\n";
  ExpectRejected(text,
                 "node \"nat\": impossible capacity: 2 children name it "
                 "as parent but it can serve 1");
}

TEST(TopologyFileTest, MissingTierAndAddress) {
  ExpectRejected("nodes { id: \"x\" media_address: \"127.0.0.1:1\" }",
                 "node \"x\": tier is not set");
  ExpectRejected("nodes { id: \"x\" tier: TIER_NATIONAL media_address: \"a\" }",
                 "node \"x\": media_address \"a\" is not HOST:PORT");
  ExpectRejected("nodes { id: \"s\" tier: TIER_SITE media_address: \"a:1\" }",
                 "only national nodes may have no parent");
}

TEST(TopologyFileTest, AudioAddressOfAPlainEndpoint) {
  const std::string site =
      "nodes { id: \"s1\" tier: TIER_SITE parent: \"p1\" "
      "media_address: \"127.10.0.1:5004\" ";
  EXPECT_TRUE(
      Check(std::string(kValid) + site +
            "plain_endpoint: true audio_address: \"127.10.0.1:5006\" }\n")
          .ok());
  // Another host may use any port.
  EXPECT_TRUE(
      Check(std::string(kValid) + site +
            "plain_endpoint: true audio_address: \"127.10.0.2:5005\" }\n")
          .ok());
  ExpectRejected(
      std::string(kValid) + site + "audio_address: \"127.10.0.1:5006\" }\n",
      "t.textproto:28: node \"s1\": audio_address is only for a "
      "plain endpoint");
  ExpectRejected(std::string(kValid) + site +
                     "plain_endpoint: true audio_address: \"5006\" }\n",
                 "node \"s1\": audio_address \"5006\" is not HOST:PORT");
  for (const char* port : {"5004", "5005", "5003"}) {
    ExpectRejected(std::string(kValid) + site +
                       "plain_endpoint: true audio_address: \"127.10.0.1:" +
                       port + "\" }\n",
                   "must be at least 2 ports from media_address "
                   "\"127.10.0.1:5004\" (players take PORT+1 for RTCP)");
  }
}

TEST(TopologyFileTest, EdgeAddressOnlyOnRelays) {
  const std::string relay =
      "nodes { id: \"d9\" tier: TIER_DISTRICT parent: \"p1\" "
      "media_address: \"127.3.0.9:5004\" ";
  EXPECT_TRUE(Check(std::string(kValid) + relay +
                    "edge_address: \"edge.d9.example:443\" }\n")
                  .ok());
  ExpectRejected(std::string(kValid) + relay + "edge_address: \"443\" }\n",
                 "t.textproto:28: node \"d9\": edge_address \"443\" is not "
                 "HOST:PORT");
  ExpectRejected(
      std::string(kValid) + relay + "edge_address: \"edge.example:0\" }\n",
      "node \"d9\": edge_address \"edge.example:0\" is not "
      "HOST:PORT");
  const std::string site =
      "nodes { id: \"s1\" tier: TIER_SITE parent: \"p1\" "
      "media_address: \"127.10.0.1:5004\" ";
  for (const char* kind : {"", "plain_endpoint: true "}) {
    ExpectRejected(std::string(kValid) + site + kind +
                       "edge_address: \"127.10.0.1:443\" }\n",
                   "t.textproto:28: node \"s1\": edge_address is only for a "
                   "relay");
  }
}

TEST(TopologyFileTest, BadStreams) {
  ExpectRejected(std::string(kValid) +
                     "streams { id: \"up\" direction: DIRECTION_UPSTREAM "
                     "source_node: \"zz\" }\n",
                 "stream \"up\": unknown source node \"zz\"");
  ExpectRejected(std::string(kValid) +
                     "streams { id: \"x\" direction: DIRECTION_UPSTREAM "
                     "tracks { ssrc: 1 } }\n",
                 "SSRC 1 used twice");
}

}  // namespace
}  // namespace cascade::topology
