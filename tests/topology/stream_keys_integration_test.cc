// Stream keys from a real topologyd with mutual TLS: the sites and the
// stream's source get them, a relay that forwards the stream never does
// (its refusal is an event), `relayctl stream-key rotate` hands out the next
// key ahead of its use and is refused while one is pending, and the keys,
// being journaled, are the same after a kill -9 and a restart.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "proto/controller.grpc.pb.h"
#include "tests/common/wait.h"
#include "tests/media/process.h"
#include "tests/topology/harness.h"
#include "tests/topology/tls_controller.h"

namespace cascade::topology {
namespace {

using cascade::testing::CommandResult;
using cascade::testing::WaitUntil;
using cascade::v1::GetStreamKeysResponse;
using security::Role;

constexpr absl::Duration kCallDeadline = absl::Seconds(10);

// "cc" sends the program into nat; s1 and s2 are sites; up is s1's
// upstream stream, keyed for s1 (its source) and cc (the top, where it
// arrives) only.
constexpr char kTopology[] = R"txt(
nodes { id: "cc" tier: TIER_NATIONAL media_address: "127.0.0.9:5000"
  plain_endpoint: true }
nodes { id: "nat" tier: TIER_NATIONAL media_address: "127.1.0.1:5004"
  capacity { max_children: 8 } }
nodes { id: "d1" tier: TIER_DISTRICT parent: "nat" media_address: "127.3.0.1:5004"
  capacity { max_children: 8 } }
nodes { id: "s1" tier: TIER_SITE parent: "d1" media_address: "127.10.0.1:5004" }
nodes { id: "s2" tier: TIER_SITE parent: "d1" media_address: "127.10.0.2:5004" }
streams { id: "program" direction: DIRECTION_DOWNSTREAM source_node: "cc"
  tracks { ssrc: 1111 media: "video" payload_type: 96 encoding: "H264/90000" } }
streams { id: "up" direction: DIRECTION_UPSTREAM source_node: "s1"
  tracks { ssrc: 2222 media: "video" payload_type: 96 encoding: "H264/90000" } }
)txt";

// topologyd's --stream-key-overlap here (its smallest).
constexpr absl::Duration kOverlap = absl::Seconds(4);

class StreamKeysTest : public testing::TlsControllerTest {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(
        StartTls({.topology = kTopology,
                  .nodes = {"cc", "nat", "s1", "s2"},
                  .operators = {{"vera", Role::kViewer}, {"ada", Role::kAdmin}},
                  .flags = {"--lease-timeout=60s", "--restart-learning=1s",
                            "--stream-key-overlap=4s"}}));
  }

  // The ids of the keys of `stream` `holder` gets for itself, in the order
  // given (newest first); empty on a refusal.
  std::vector<uint32_t> KeyIds(const std::string& holder,
                               const std::string& stream = "program") {
    GetStreamKeysResponse response;
    if (!Keys(holder, {holder}, &response).ok()) return {};
    std::vector<uint32_t> ids;
    for (const auto& key : response.keys()) {
      if (key.stream() == stream) ids.push_back(key.id());
    }
    return ids;
  }
  // The streams `holder`'s keys are of, as the response names them.
  std::vector<std::string> Streams(const std::string& holder) {
    GetStreamKeysResponse response;
    if (!Keys(holder, {holder}, &response).ok()) return {};
    std::vector<std::string> streams;
    for (const auto& stream : response.streams()) {
      streams.push_back(stream.id());
    }
    return streams;
  }
};

TEST_F(StreamKeysTest, SitesAndTheSourceGetTheKeyAndRelaysNever) {
  // The first key comes within a tick of the start, in use at once.
  ASSERT_TRUE(WaitUntil("s2 has the first key", cascade::testing::kWaitTimeout,
                        [&] { return !KeyIds("s2").empty(); }));
  GetStreamKeysResponse site;
  ASSERT_TRUE(Keys("s2", {"s2"}, &site).ok());
  ASSERT_EQ(site.keys_size(), 1);
  const cascade::v1::StreamKey& key = site.keys(0);
  EXPECT_EQ(key.stream(), "program");
  EXPECT_EQ(key.id(), 1u);
  EXPECT_EQ(key.material().size(), 28u);
  EXPECT_LE(key.send_from_unix_ms(), site.unix_ms());
  EXPECT_GT(site.poll_interval_ms(), 0);

  ASSERT_EQ(site.streams_size(), 1);
  EXPECT_EQ(site.streams(0).direction(), cascade::v1::DIRECTION_DOWNSTREAM);

  // The upstream stream up has a key of its own, which s1 (its source) and
  // cc (where it arrives) get, with what tells it from the program; s2
  // does not.
  ASSERT_TRUE(WaitUntil("up has its first key", cascade::testing::kWaitTimeout,
                        [&] { return !KeyIds("s1", "up").empty(); }));
  EXPECT_EQ(Streams("s1"), (std::vector<std::string>{"program", "up"}));
  EXPECT_EQ(Streams("cc"), (std::vector<std::string>{"program", "up"}));
  EXPECT_EQ(Streams("s2"), (std::vector<std::string>{"program"}));
  GetStreamKeysResponse source;
  ASSERT_TRUE(Keys("cc", {"cc"}, &source).ok());
  ASSERT_EQ(source.keys_size(), 2);
  ASSERT_EQ(source.streams_size(), 2);
  const cascade::v1::Stream& up = source.streams(1);
  EXPECT_EQ(up.direction(), cascade::v1::DIRECTION_UPSTREAM);
  EXPECT_EQ(up.source_node(), "s1");
  ASSERT_EQ(up.tracks_size(), 1);
  EXPECT_EQ(up.tracks(0).ssrc(), 2222u);
  std::string up_material;
  for (const auto& k : source.keys()) {
    if (k.stream() == "program") {
      EXPECT_EQ(k.material(), key.material());
    } else {
      up_material = k.material();
    }
  }
  EXPECT_NE(up_material, key.material());
  GetStreamKeysResponse s1;
  ASSERT_TRUE(Keys("s1", {"s1"}, &s1).ok());
  ASSERT_EQ(s1.keys_size(), 2);

  // A relay that forwards the stream: refused, for itself and for a site
  // its certificate does not name; so is an operator. The relay's refusal
  // is an event naming the node it asked for.
  auto admin = cascade::v1::Admin::NewStub(
      grpc::CreateChannel(controller_->address(), pki_->Credentials("ada")));
  grpc::ClientContext feed;
  feed.set_deadline(absl::ToChronoTime(absl::Now() + kCallDeadline));
  auto events = admin->Events(&feed, cascade::v1::EventsRequest());
  GetStreamKeysResponse refused;
  grpc::Status relay = Keys("nat", {"nat"}, &refused);
  EXPECT_EQ(relay.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_TRUE(
      absl::StrContains(relay.error_message(), "may hold no stream key"))
      << relay.error_message();
  EXPECT_EQ(refused.keys_size(), 0);
  EXPECT_EQ(Keys("nat", {"s1"}, &refused).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(Keys("s2", {"s1"}, &refused).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(Keys("ada", {"s1"}, &refused).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(Keys("s1", {}, &refused).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(refused.keys_size(), 0);

  bool denied_event = false;
  cascade::v1::Event event;
  while (!denied_event && events->Read(&event)) {
    denied_event = event.kind() == cascade::v1::Event::KIND_DENIED &&
                   event.node_id() == "nat" &&
                   absl::StrContains(event.detail(), "GetStreamKeys");
  }
  EXPECT_TRUE(denied_event);
  feed.TryCancel();
  events->Finish();
}

TEST_F(StreamKeysTest, RotationIsHandedOutAheadRefusedWhilePendingAndDurable) {
  ASSERT_TRUE(WaitUntil("s1 has the first key", cascade::testing::kWaitTimeout,
                        [&] { return KeyIds("s1").size() == 1; }));
  // Only an admin rotates; no such stream is exit 3. An upstream stream
  // rotates by name, on its own.
  EXPECT_EQ(As("vera", {"stream-key", "rotate"}).code, 6);
  EXPECT_EQ(As("ada", {"stream-key", "rotate", "nosuch"}).code, 3);
  ASSERT_TRUE(WaitUntil("up has its first key", cascade::testing::kWaitTimeout,
                        [&] { return !KeyIds("s1", "up").empty(); }));
  EXPECT_EQ(As("ada", {"stream-key", "rotate", "up"}).code, 0);
  EXPECT_EQ(KeyIds("s1", "up"), (std::vector<uint32_t>{2, 1}));
  EXPECT_EQ(KeyIds("cc", "up"), (std::vector<uint32_t>{2, 1}));
  EXPECT_EQ(KeyIds("s1"), (std::vector<uint32_t>{1}));

  const absl::Time rotated = absl::Now();
  CommandResult rotate = As("ada", {"stream-key", "rotate", "program"});
  ASSERT_EQ(rotate.code, 0) << rotate.err;
  GetStreamKeysResponse site;
  ASSERT_TRUE(Keys("s2", {"s2"}, &site).ok());
  ASSERT_EQ(site.keys_size(), 2);
  EXPECT_EQ(site.keys(0).id(), 2u);
  EXPECT_EQ(site.keys(1).id(), 1u);
  // Handed out now, used from the end of the overlap on.
  EXPECT_GE(absl::FromUnixMillis(site.keys(0).send_from_unix_ms()),
            rotated + kOverlap - absl::Seconds(1));
  EXPECT_GT(site.keys(0).send_from_unix_ms(), site.unix_ms());

  // A second rotation before anyone used the first: refused, exit 4.
  CommandResult again = As("ada", {"stream-key", "rotate"});
  EXPECT_EQ(again.code, 4) << again.err;
  EXPECT_TRUE(absl::StrContains(again.err, "rotate again after")) << again.err;

  // kill -9 and a restart: the same keys, byte for byte.
  const int port = controller_->port();
  ASSERT_NO_FATAL_FAILURE(StartController("topologyd-2", port));
  GetStreamKeysResponse after;
  ASSERT_TRUE(WaitUntil("the restarted topologyd answers",
                        cascade::testing::kWaitTimeout,
                        [&] { return Keys("s2", {"s2"}, &after).ok(); }));
  ASSERT_EQ(after.keys_size(), 2);
  EXPECT_EQ(after.keys(0).material(), site.keys(0).material());
  EXPECT_EQ(after.keys(1).material(), site.keys(1).material());

  // Once the overlap is over the next rotation goes through, and the one
  // after it prunes the first key: in use are only the newest and the one
  // before it.
  ASSERT_TRUE(WaitUntil("a rotation after the overlap",
                        kOverlap + absl::Seconds(20), [&] {
                          return As("ada", {"stream-key", "rotate"}).code == 0;
                        }));
  EXPECT_EQ(KeyIds("s1"), (std::vector<uint32_t>{3, 2, 1}));
  ASSERT_TRUE(WaitUntil("a rotation after the overlap",
                        kOverlap + absl::Seconds(20), [&] {
                          return As("ada", {"stream-key", "rotate"}).code == 0;
                        }));
  EXPECT_EQ(KeyIds("s1"), (std::vector<uint32_t>{4, 3, 2}));
  EXPECT_EQ(KeyIds("cc"), (std::vector<uint32_t>{4, 3, 2}));

  // Who rotated, and who was refused, is in the audit trail; no key is
  // ever printed.
  CommandResult history = As("ada", {"events", "--history=6", "--count=6"});
  EXPECT_TRUE(absl::StrContains(
      history.out, "stream-key rotate program by operator ada (admin)"))
      << history.out;
  EXPECT_TRUE(absl::StrContains(history.out,
                                "stream-key rotate every downstream stream by "
                                "operator vera"))
      << history.out;
  for (const auto& key : site.keys()) {
    EXPECT_FALSE(
        absl::StrContains(history.out, absl::Base64Escape(key.material())));
    EXPECT_FALSE(
        absl::StrContains(history.out, absl::BytesToHexString(key.material())));
  }
}

}  // namespace
}  // namespace cascade::topology
