#include "relay/assignment.h"

#include <gtest/gtest.h>

#include <string>

#include "google/protobuf/text_format.h"

namespace cascade::relay {
namespace {

using cascade::v1::Assignment;
using cascade::v1::RelayConfig;

template <typename Message>
Message Parse(const std::string& text) {
  Message m;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &m)) << text;
  return m;
}

// 16-byte keys as the proto's raw bytes.
constexpr char kAssignment[] = R"pb(
  node_id: "d1"
  version: 7
  parents { id: "p1" media_address: "127.0.0.1:4000" key: "0123456789abcdef" }
  parents {
    id: "p1-sb"
    media_address: "127.0.0.1:4001"
    key: "fedcba9876543210"
  }
  active_children {
    id: "s1"
    media_address: "127.0.0.1:5001"
    key: "s1s1s1s1s1s1s1s1"
  }
  active_children {
    id: "tv"
    media_address: "127.0.0.1:5002"
    plain_endpoint: true
    audio_address: "127.0.0.1:5004"
  }
  standby_children { id: "s9" key: "s9s9s9s9s9s9s9s9" }
  standby_children {
    id: "tv2"
    media_address: "127.0.0.1:5003"
    plain_endpoint: true
  }
  standby_children { id: "s1" key: "s1s1s1s1s1s1s1s1" }
  streams {
    id: "command"
    direction: DIRECTION_DOWNSTREAM
    tracks { ssrc: 1 media: "video" encoding: "H264/90000" }
    tracks { ssrc: 2 media: "audio" encoding: "opus/48000/2" }
  }
  streams {
    id: "s1-up"
    direction: DIRECTION_UPSTREAM
    source_node: "s1"
    tracks { ssrc: 11 payload_type: 96 encoding: "h264/90000" }
  }
  streams {
    id: "s9-up"
    direction: DIRECTION_UPSTREAM
    source_node: "s9"
    tracks { ssrc: 19 encoding: "H264/90000" }
  }
  upstream { site: "s1" ssrcs: 11 from_child: "s1" }
)pb";

constexpr char kLocal[] = R"pb(
  node_id: "d1"
  listen: "127.0.0.1:0"
  parents { id: "source" address: "127.0.0.1:3000" }
  timings { child_timeout_ms: 900 }
)pb";

TEST(AssignmentTest, TranslatesEveryPart) {
  absl::StatusOr<RelayOptions> o = AssignmentToOptions(
      Parse<Assignment>(kAssignment), Parse<RelayConfig>(kLocal));
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->node_id, "d1");
  EXPECT_EQ(o->listen.ToString(), "127.0.0.1:0");
  EXPECT_EQ(o->child_timeout, absl::Milliseconds(900));

  // Parents in order with their link keys; the local source is not kept.
  ASSERT_EQ(o->parents.size(), 2u);
  EXPECT_EQ(o->parents[0].id, "p1");
  EXPECT_EQ(o->parents[0].address.ToString(), "127.0.0.1:4000");
  EXPECT_EQ(o->parents[0].key, "0123456789abcdef");
  EXPECT_EQ(o->parents[1].id, "p1-sb");
  EXPECT_EQ(o->parents[1].key, "fedcba9876543210");

  // s1 once (active, unpinned), tv pushed, s9 may activate on failover, the
  // standby plain endpoint tv2 is not pushed to.
  ASSERT_EQ(o->children.size(), 3u);
  EXPECT_EQ(o->children[0].id, "s1");
  EXPECT_EQ(o->children[0].key, "s1s1s1s1s1s1s1s1");
  EXPECT_FALSE(o->children[0].static_push);
  EXPECT_FALSE(o->children[0].address.has_value());
  EXPECT_FALSE(o->children[0].standby) << "listed twice: served as active";
  EXPECT_EQ(o->children[1].id, "tv");
  EXPECT_TRUE(o->children[1].static_push);
  ASSERT_TRUE(o->children[1].address.has_value());
  EXPECT_EQ(o->children[1].address->ToString(), "127.0.0.1:5002");
  ASSERT_TRUE(o->children[1].audio_address.has_value());
  EXPECT_EQ(o->children[1].audio_address->ToString(), "127.0.0.1:5004");
  EXPECT_EQ(o->children[2].id, "s9");
  EXPECT_FALSE(o->children[2].static_push);
  EXPECT_TRUE(o->children[2].standby);

  ASSERT_EQ(o->streams.size(), 4u);
  EXPECT_EQ(o->streams[0].ssrc, 1u);
  EXPECT_EQ(o->streams[0].direction, Direction::kDown);
  EXPECT_TRUE(o->streams[0].h264);
  EXPECT_FALSE(o->streams[0].audio);
  EXPECT_EQ(o->streams[1].ssrc, 2u);
  EXPECT_FALSE(o->streams[1].h264);
  EXPECT_TRUE(o->streams[1].audio);
  EXPECT_EQ(o->streams[2].ssrc, 11u);
  EXPECT_EQ(o->streams[2].direction, Direction::kUp);
  EXPECT_TRUE(o->streams[2].selected);
  EXPECT_TRUE(o->streams[2].h264);
  EXPECT_EQ(o->streams[3].ssrc, 19u);
  EXPECT_FALSE(o->streams[3].selected);

  // The browser edge: every track names its stream; a district takes WHIP
  // for its own active site's camera only, and serves down streams.
  EXPECT_EQ(o->streams[0].stream_id, "command");
  EXPECT_EQ(o->streams[2].stream_id, "s1-up");
  EXPECT_EQ(o->streams[2].payload_type, 96);
  EXPECT_FALSE(o->streams[0].publishable) << "d1 has a parent";
  EXPECT_TRUE(o->streams[0].watchable);
  EXPECT_TRUE(o->streams[2].publishable);
  EXPECT_FALSE(o->streams[2].watchable) << "it goes on up";
  EXPECT_FALSE(o->streams[3].publishable) << "s9 is only a standby child";
}

TEST(AssignmentTest, RootTakesTheProgramFeedAndServesTheSitesUpStreams) {
  Assignment root = Parse<Assignment>(kAssignment);
  root.clear_parents();
  root.add_edge_token_keys("key-der");
  absl::StatusOr<RelayOptions> o =
      AssignmentToOptions(root, Parse<RelayConfig>(kLocal));
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_TRUE(o->streams[0].publishable);
  EXPECT_TRUE(o->streams[2].watchable);
  EXPECT_EQ(o->edge_token_keys, std::vector<std::string>{"key-der"});
}

TEST(AssignmentTest, AnEdgeRelaysStreamKeysGoToTheDownStreamsTracks) {
  Assignment edge = Parse<Assignment>(kAssignment);
  const std::string newest(28, '\x02'), older(28, '\x01');
  for (const auto& [id, material] :
       {std::pair<uint32_t, std::string>{2, newest}, {1, older}}) {
    cascade::v1::StreamKey* key = edge.add_stream_keys();
    key->set_stream("command");
    key->set_id(id);
    key->set_material(material);
  }
  cascade::v1::StreamKey* other = edge.add_stream_keys();
  other->set_stream("s1-up");
  other->set_id(7);
  other->set_material(newest);
  absl::StatusOr<RelayOptions> o =
      AssignmentToOptions(edge, Parse<RelayConfig>(kLocal));
  ASSERT_TRUE(o.ok()) << o.status();
  for (int track : {0, 1}) {
    ASSERT_EQ(o->streams[track].keys.size(), 2u) << track;
    EXPECT_EQ(o->streams[track].keys[0].id, 2u);
    EXPECT_EQ(o->streams[track].keys[0].material, newest);
    EXPECT_EQ(o->streams[track].keys[1].id, 1u);
    EXPECT_EQ(o->streams[track].keys[1].material, older);
  }
  EXPECT_TRUE(o->streams[2].keys.empty()) << "up streams are not decrypted";

  // A key topologyd never makes is refused like a --config's.
  edge.mutable_stream_keys(0)->set_material("short");
  o = AssignmentToOptions(edge, Parse<RelayConfig>(kLocal));
  ASSERT_FALSE(o.ok());
  EXPECT_EQ(o.status().message(),
            "assignment version 7: streams[0].keys[0].material_hex: key "
            "shorter than 16 bytes");
}

TEST(AssignmentTest, RootKeepsItsLocalSource) {
  Assignment root = Parse<Assignment>(kAssignment);
  root.clear_parents();
  absl::StatusOr<RelayOptions> o =
      AssignmentToOptions(root, Parse<RelayConfig>(kLocal));
  ASSERT_TRUE(o.ok()) << o.status();
  ASSERT_EQ(o->parents.size(), 1u);
  EXPECT_EQ(o->parents[0].id, "source");
  EXPECT_TRUE(o->parents[0].key.empty());
}

TEST(AssignmentTest, ErrorsNameTheField) {
  const RelayConfig local = Parse<RelayConfig>(kLocal);
  auto error = [&](const std::string& text) {
    absl::StatusOr<RelayOptions> o =
        AssignmentToOptions(Parse<Assignment>(text), local);
    return o.ok() ? std::string("ok") : std::string(o.status().message());
  };
  EXPECT_EQ(error(R"pb(node_id: "d2")pb"),
            "assignment node_id: \"d2\" is not this node (\"d1\")");
  EXPECT_EQ(error(R"pb(node_id: "d1"
                       parents { id: "p" })pb"),
            "assignment parents[0].media_address: empty");
  EXPECT_EQ(
      error(R"pb(node_id: "d1"
                 active_children { id: "s" media_address: "127.0.0.1:1" })pb"),
      "assignment active_children[0].key: required unless "
      "plain_endpoint");
  EXPECT_EQ(error(R"pb(node_id: "d1"
                       active_children { id: "tv" plain_endpoint: true })pb"),
            "assignment active_children[0].media_address: required for a "
            "plain endpoint");
  EXPECT_EQ(error(R"pb(node_id: "d1"
                       streams { tracks { ssrc: 1 } })pb"),
            "assignment streams[0].direction: must be DOWNSTREAM or UPSTREAM");
  // What the config rules refuse is named with the version.
  EXPECT_EQ(
      error(R"pb(node_id: "d1"
                 version: 3
                 parents { id: "p" media_address: "nowhere" key: "k" })pb")
          .rfind("assignment version 3: parents[0].", 0),
      0u);
  EXPECT_EQ(error(R"pb(node_id: "d1"
                       version: 4
                       streams {
                         direction: DIRECTION_DOWNSTREAM
                         tracks { ssrc: 0 }
                       })pb"),
            "assignment version 4: streams[0].ssrc: must not be 0");
}

}  // namespace
}  // namespace cascade::relay
