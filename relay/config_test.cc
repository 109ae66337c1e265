#include "relay/config.h"

#include <gtest/gtest.h>

#include <string>

#include "absl/strings/str_replace.h"

namespace cascade::relay {
namespace {

constexpr char kValid[] = R"pb(
  node_id: "district-7"
  listen: "127.0.0.1:0"
  parents {
    id: "prov-1"
    address: "127.0.0.1:4000"
    key_hex: "00112233445566778899aabbccddeeff"
  }
  parents { id: "prov-1b" address: "127.0.0.1:4001" }
  children {
    id: "site-1"
    address: "127.0.0.1:5000"
    audio_address: "127.0.0.1:5002"
    static_push: true
  }
  children { id: "site-2" key_hex: "ffeeddccbbaa99887766554433221100" }
  streams { ssrc: 1111 direction: DOWN h264: true }
  streams { ssrc: 2222 direction: UP selected: true }
  timings { retransmit_window_ms: 3000 nack_max_retries: 7 }
)pb";

absl::StatusOr<RelayOptions> Load(const std::string& text) {
  absl::StatusOr<cascade::v1::RelayConfig> config = ParseConfigText(text);
  if (!config.ok()) return config.status();
  return ToOptions(*config);
}

TEST(ConfigTest, ValidConfigWithDefaults) {
  absl::StatusOr<RelayOptions> o = Load(kValid);
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->node_id, "district-7");
  ASSERT_EQ(o->parents.size(), 2u);
  EXPECT_EQ(o->parents[0].address.ToString(), "127.0.0.1:4000");
  EXPECT_EQ(o->parents[0].key.size(), 16u);
  EXPECT_TRUE(o->parents[1].key.empty());
  ASSERT_EQ(o->children.size(), 2u);
  EXPECT_TRUE(o->children[0].static_push);
  ASSERT_TRUE(o->children[0].audio_address.has_value());
  EXPECT_EQ(o->children[0].audio_address->ToString(), "127.0.0.1:5002");
  EXPECT_FALSE(o->children[1].address.has_value());
  EXPECT_FALSE(o->children[1].audio_address.has_value());
  ASSERT_EQ(o->streams.size(), 2u);
  EXPECT_EQ(o->streams[1].direction, Direction::kUp);
  EXPECT_TRUE(o->streams[0].h264);
  EXPECT_FALSE(o->streams[0].audio);
  EXPECT_EQ(o->ring.window, absl::Seconds(3));
  EXPECT_EQ(o->nack.max_requests, 7);
  EXPECT_EQ(o->child_report, absl::Milliseconds(100));  // default
  EXPECT_EQ(o->child_silence, absl::Milliseconds(750));
}

TEST(ConfigTest, AudioStreamIsMarked) {
  absl::StatusOr<RelayOptions> o =
      Load(std::string(kValid) + "streams { ssrc: 3333 direction: DOWN " +
           "audio: true }");
  ASSERT_TRUE(o.ok()) << o.status();
  ASSERT_EQ(o->streams.size(), 3u);
  EXPECT_TRUE(o->streams[2].audio);
}

TEST(ConfigTest, StreamKeysNewestFirst) {
  absl::StatusOr<RelayOptions> o =
      Load(std::string(kValid) +
           "streams { ssrc: 3333 direction: DOWN keys { id: 2 material_hex: "
           "\"000102030405060708090a0b0c0d0e0f101112131415161718191a1b\" } "
           "keys { id: 1 material_hex: "
           "\"1f1e1d1c1b1a191817161514131211100f0e0d0c0b0a090807060504\" } }");
  ASSERT_TRUE(o.ok()) << o.status();
  ASSERT_EQ(o->streams[2].keys.size(), 2u);
  EXPECT_EQ(o->streams[2].keys[0].id, 2u);
  EXPECT_EQ(o->streams[2].keys[0].material.size(), 28u);
  EXPECT_EQ(o->streams[2].keys[1].material[0], '\x1f');
  EXPECT_TRUE(o->streams[0].keys.empty());
}

TEST(ConfigTest, LivenessTimersFollowKeepaliveAndParentTimeout) {
  auto with_timings = [](absl::string_view timings) {
    return absl::StrReplaceAll(
        kValid, {{"timings { retransmit_window_ms: 3000 nack_max_retries: 7 }",
                  timings}});
  };
  absl::StatusOr<RelayOptions> o = Load(with_timings(
      "timings { parent_keepalive_ms: 1000 parent_timeout_ms: 900 }"));
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->child_silence, absl::Seconds(3));
  EXPECT_EQ(o->child_report, absl::Milliseconds(300));
  EXPECT_EQ(o->parent_timeout_max, absl::Milliseconds(3600)) << "4 x";
  o = Load(
      with_timings("timings { parent_timeout_ms: 900 child_report_ms: 50 }"));
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->child_report, absl::Milliseconds(50));
}

struct BadCase {
  std::string edit;  // appended to kValid; later fields override
  std::string field;
};

class ConfigErrorTest : public ::testing::TestWithParam<BadCase> {};

TEST_P(ConfigErrorTest, ErrorNamesTheField) {
  absl::StatusOr<RelayOptions> o = Load(std::string(kValid) + GetParam().edit);
  ASSERT_FALSE(o.ok());
  EXPECT_NE(std::string(o.status().message()).find(GetParam().field),
            std::string::npos)
      << o.status();
}

INSTANTIATE_TEST_SUITE_P(
    Fields, ConfigErrorTest,
    ::testing::Values(
        BadCase{"node_id: \"\"", "node_id"},
        BadCase{"listen: \"localhost:1\"", "listen"},
        BadCase{"listen: \"127.0.0.1:70000\"", "listen"},
        BadCase{"parents { id: \"x\" address: \"1.2.3.4\" }",
                "parents[2].address"},
        BadCase{"parents { id: \"x\" address: \"1.2.3.4:5\" key_hex: \"zz\" }",
                "parents[2].key_hex"},
        BadCase{
            "parents { id: \"x\" address: \"1.2.3.4:5\" key_hex: \"abcd\" }",
            "parents[2].key_hex"},
        BadCase{"children { id: \"site-1\" static_push: true address: "
                "\"1.2.3.4:5\" }",
                "children[2].id"},
        BadCase{"children { id: \"site 1\" static_push: true address: "
                "\"1.2.3.4:6\" }",
                "children[2].id: node id \"site 1\" has a space"},
        BadCase{"parents { id: \"" + std::string(65, 'p') +
                    "\" address: \"1.2.3.4:5\" }",
                "parents[2].id: node id \"pppppppppppppppp...\" is 65 bytes"},
        BadCase{"children { id: \"s\" static_push: true }",
                "children[2].address"},
        BadCase{"children { id: \"s\" address: \"1.2.3.4:5\" }",
                "children[2].key_hex"},
        BadCase{"children { id: \"s\" static_push: true address: "
                "\"1.2.3.4:5\" audio_address: \"1.2.3.4\" }",
                "children[2].audio_address"},
        BadCase{"children { id: \"s\" static_push: true address: "
                "\"1.2.3.4:5\" audio_address: \"1.2.3.4:0\" }",
                "children[2].audio_address: port 0"},
        BadCase{"children { id: \"s\" key_hex: "
                "\"ffeeddccbbaa99887766554433221100\" audio_address: "
                "\"1.2.3.4:7\" }",
                "children[2].audio_address: only for a static_push child"},
        BadCase{"streams { ssrc: 0 direction: DOWN }", "streams[2].ssrc"},
        BadCase{"streams { ssrc: 1111 direction: DOWN }", "streams[2].ssrc"},
        BadCase{"streams { ssrc: 3 }", "streams[2].direction"},
        BadCase{
            "streams { ssrc: 3 direction: DOWN keys { id: 0 "
            "material_hex: "
            "\"000102030405060708090a0b0c0d0e0f101112131415161718191a1b\" } }",
            "streams[2].keys[0].id: must not be 0"},
        BadCase{"streams { ssrc: 3 direction: DOWN keys { id: 1 "
                "material_hex: \"00112233445566778899aabbccddeeff\" } }",
                "streams[2].keys[0].material_hex: must be 28 bytes"},
        BadCase{
            "streams { ssrc: 3 direction: DOWN keys { id: 1 "
            "material_hex: "
            "\"000102030405060708090a0b0c0d0e0f101112131415161718191a1b\" } "
            "keys { id: 1 "
            "material_hex: "
            "\"000102030405060708090a0b0c0d0e0f101112131415161718191a1b\" } }",
            "streams[2].keys[1].id: 1 listed twice"},
        BadCase{
            "streams { ssrc: 3 direction: UP keys { id: 1 "
            "material_hex: "
            "\"000102030405060708090a0b0c0d0e0f101112131415161718191a1b\" } }",
            "streams[2].keys: only a DOWN stream is decrypted"},
        BadCase{"no_such_field: 1", "no_such_field"}));

TEST(ConfigTest, ParentTimeoutCeilingBelowItsFloorIsRefused) {
  std::string text = kValid;
  text.replace(text.find("nack_max_retries: 7"), 19,
               "parent_timeout_ms: 500 parent_timeout_max_ms: 400");
  absl::StatusOr<RelayOptions> o = Load(text);
  ASSERT_FALSE(o.ok());
  EXPECT_NE(
      std::string(o.status().message())
          .find("timings.parent_timeout_max_ms: below the parent timeout"),
      std::string::npos)
      << o.status();
}

TEST(ConfigTest, TimingOutOfRangeNamesTheField) {
  std::string text = kValid;
  text.replace(text.find("nack_max_retries: 7"), 19, "nack_max_retries: 1000");
  absl::StatusOr<RelayOptions> o = Load(text);
  ASSERT_FALSE(o.ok());
  EXPECT_NE(std::string(o.status().message()).find("timings.nack_max_retries"),
            std::string::npos)
      << o.status();
}

}  // namespace
}  // namespace cascade::relay
