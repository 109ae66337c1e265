// A site's upstream stream encrypted under a key of its own (issue 19),
// with real processes on loopback and mutual TLS throughout: topologyd
// keys the upstream stream up-s1 for s1 (its source) and cc (the command
// center, where it arrives) only; relay-probe's site s1 (--controller,
// upstream=SSRC) sends it as SRTP, the relay nat forwards it without a key,
// and relay-source (--controller --node=cc) decrypts and counts it. A tap
// between nat and the center sees what every relay and link sees: only
// ciphertext. An admin's rotation of up-s1 mid-stream loses no packet. A
// relay's certificate, and another site's, get no key of up-s1.
//
//   s1 (relay-probe) ─► nat (relayd, selected: true) ─► tap ─► relay-source
//                                                   (this test)      (cc)
#include <gtest/gtest.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "base/files.h"
#include "base/subprocess.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "media/rtp/rtp.h"
#include "media/rtp/seq.h"
#include "media/srtp/srtp.h"
#include "proto/controller.grpc.pb.h"
#include "security/identity.h"
#include "tests/common/runfile.h"
#include "tests/common/wait.h"
#include "tests/media/process.h"
#include "tests/relay/relay_harness.h"
#include "tests/relay/rtp_capture.h"
#include "tests/topology/harness.h"
#include "tests/topology/test_pki.h"

namespace cascade::relay::testing {
namespace {

using ::cascade::testing::FindLine;
using ::cascade::testing::JsonInt;
using ::cascade::testing::kWaitTimeout;
using ::cascade::testing::ReadFile;
using ::cascade::testing::Runfile;
using ::cascade::testing::WaitUntil;
using ::cascade::topology::testing::TestPki;
using ::cascade::topology::testing::Topologyd;

constexpr uint32_t kVideo = 0x6161;
constexpr uint32_t kAudio = 0x6162;
constexpr uint32_t kUpstream = 0x7171;
constexpr absl::Duration kCallDeadline = absl::Seconds(10);
// topologyd's --stream-key-overlap here (its smallest).
constexpr absl::Duration kOverlap = absl::Seconds(4);

// "cc" sends the program into nat, whose children are the sites s1 and s2;
// s1 has an upstream stream.
constexpr char kTopology[] = R"txt(
nodes { id: "cc" tier: TIER_NATIONAL media_address: "127.0.0.9:5000"
  plain_endpoint: true }
nodes { id: "nat" tier: TIER_NATIONAL media_address: "127.1.0.1:5004"
  capacity { max_children: 8 } }
nodes { id: "s1" tier: TIER_SITE parent: "nat" media_address: "127.10.0.1:5004" }
nodes { id: "s2" tier: TIER_SITE parent: "nat" media_address: "127.10.0.2:5004" }
streams { id: "program" direction: DIRECTION_DOWNSTREAM source_node: "cc"
  tracks { ssrc: 24929 media: "video" payload_type: 96 encoding: "H264/90000" }
  tracks { ssrc: 24930 media: "audio" payload_type: 111 encoding: "opus/48000/2" } }
streams { id: "up-s1" direction: DIRECTION_UPSTREAM source_node: "s1"
  tracks { ssrc: 29041 media: "video" payload_type: 96 encoding: "H264/90000" } }
)txt";

// Between nat and the center: forwards each datagram to the other side and
// keeps the upstream stream's packets, by sequence number (what any relay or
// link on the way sees).
class Tap {
 public:
  Tap() : thread_([this] { Loop(); }) {}
  ~Tap() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  const media::Endpoint& address() const { return peer_.address(); }
  // Set before either side sends.
  void Connect(const media::Endpoint& relay, const media::Endpoint& center) {
    relay_ = relay;
    center_ = center;
    connected_ = true;
  }
  int64_t count() const { return count_.load(); }
  // Stops; the upstream packets in sequence order.
  std::vector<Bytes> Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    std::vector<Bytes> packets;
    for (auto& [seq, packet] : by_seq_) packets.push_back(std::move(packet));
    return packets;
  }

 private:
  void Loop() {
    // Bounded: each wait is short, and stop_ ends the loop.
    while (!stop_) {
      media::Endpoint from;
      std::optional<Bytes> datagram =
          peer_.Receive(absl::Milliseconds(50), &from);
      if (!datagram.has_value() || !connected_) continue;
      const bool up = from == relay_;
      peer_.SendTo(up ? center_ : relay_, *datagram);
      rtp::RtpView view;
      if (up && rtp::ParseRtp(*datagram, &view) == rtp::RtpError::kOk &&
          view.ssrc == kUpstream) {
        if (by_seq_.emplace(unwrapper_.Unwrap(view.sequence_number), *datagram)
                .second) {
          ++count_;
        }
      }
    }
  }

  UdpPeer peer_;
  media::Endpoint relay_;
  media::Endpoint center_;
  std::atomic<bool> connected_{false};
  std::atomic<bool> stop_{false};
  std::atomic<int64_t> count_{0};
  // Only the thread touches these until Stop has joined it.
  rtp::SeqUnwrapper unwrapper_;
  std::map<int64_t, Bytes> by_seq_;
  std::thread thread_;
};

// Bytes waiting in the receive queue of the loopback UDP socket bound to
// `address` (/proc/net/udp); -1 when there is no such socket.
int64_t ReceiveQueue(const media::Endpoint& address) {
  const std::string local = absl::StrFormat(":%04X ", address.port);
  for (absl::string_view line :
       absl::StrSplit(ReadFile("/proc/net/udp"), '\n')) {
    std::vector<absl::string_view> fields =
        absl::StrSplit(line, ' ', absl::SkipEmpty());
    // sl local_address rem_address st tx_queue:rx_queue ...
    if (fields.size() < 5 ||
        !absl::StrContains(absl::StrCat(fields[1], " "), local)) {
      continue;
    }
    std::vector<absl::string_view> queues = absl::StrSplit(fields[4], ':');
    int64_t rx = -1;
    if (queues.size() == 2 && absl::SimpleHexAtoi(queues[1], &rx)) {
      return rx;
    }
  }
  return -1;
}

// relay-source's count of upstream SSRC `ssrc` in its final JSON line; -1
// when it has none.
int64_t UpstreamPackets(const std::string& json, uint32_t ssrc) {
  google::protobuf::Struct object;
  if (!google::protobuf::util::JsonStringToMessage(json, &object).ok()) {
    return -1;
  }
  const auto it = object.fields().find("upstream");
  if (it == object.fields().end()) return -1;
  for (const google::protobuf::Value& stream :
       it->second.list_value().values()) {
    const auto& fields = stream.struct_value().fields();
    const auto id = fields.find("ssrc");
    const auto packets = fields.find("packets");
    if (id != fields.end() && packets != fields.end() &&
        id->second.number_value() == ssrc) {
      return static_cast<int64_t>(packets->second.number_value());
    }
  }
  return -1;
}

class UpstreamKeysTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = TempDir("upstream-keys");
    auto pki = TestPki::Make(dir_ + "/pki");
    ASSERT_TRUE(pki.ok()) << pki.status();
    pki_ = std::make_unique<TestPki>(*std::move(pki));
    for (const char* id : {"topologyd", "cc", "nat", "s1", "s2"}) {
      ASSERT_TRUE(pki_->IssueNode(id).ok());
    }
    ASSERT_TRUE(pki_->IssueOperator("ada", security::Role::kAdmin).ok());
    const std::string topology = dir_ + "/topology.textproto";
    std::ofstream(topology) << kTopology;
    std::vector<std::string> flags = pki_->ServerFlags("topologyd");
    flags.insert(flags.end(),
                 {"--state-dir=" + dir_ + "/state", "--topology=" + topology,
                  "--lease-timeout=60s", "--restart-learning=1s",
                  "--stream-key-overlap=4s"});
    auto controller = Topologyd::Start(dir_, "topologyd", flags);
    ASSERT_TRUE(controller.ok()) << controller.status();
    controller_ = *std::move(controller);
  }

  // GetStreamKeys for `nodes` with the certificate `holder`.
  grpc::Status Keys(const std::string& holder,
                    const std::vector<std::string>& nodes,
                    cascade::v1::GetStreamKeysResponse* response) {
    return topology::testing::GetStreamKeysAs(*pki_, controller_->address(),
                                              holder, nodes, response);
  }

  // The keys of `stream` that `holder` gets for itself, as SRTP keys.
  std::vector<srtp::StreamKey> KeysOf(const std::string& holder,
                                      const std::string& stream) {
    cascade::v1::GetStreamKeysResponse response;
    std::vector<srtp::StreamKey> keys;
    if (!Keys(holder, {holder}, &response).ok()) return keys;
    for (const auto& key : response.keys()) {
      if (key.stream() != stream) continue;
      srtp::StreamKey k;
      k.id = {static_cast<uint8_t>(key.id() >> 24),
              static_cast<uint8_t>(key.id() >> 16),
              static_cast<uint8_t>(key.id() >> 8),
              static_cast<uint8_t>(key.id())};
      std::copy(key.material().begin(), key.material().end(),
                k.material.begin());
      keys.push_back(k);
    }
    return keys;
  }

  std::vector<std::string> TlsFlags(const std::string& name) {
    return {"--controller=" + controller_->address(), "--tls-ca=" + pki_->ca(),
            "--tls-cert=" + pki_->cert(name), "--tls-key=" + pki_->key(name)};
  }

  std::string dir_;
  std::unique_ptr<TestPki> pki_;
  std::unique_ptr<Topologyd> controller_;
};

TEST_F(UpstreamKeysTest, TheCenterDecryptsARelaySeesCiphertextRotationLoses0) {
  ASSERT_TRUE(WaitUntil("topologyd keyed up-s1", kWaitTimeout, [&] {
    return KeysOf("cc", "up-s1").size() == 1 &&
           KeysOf("s1", "up-s1").size() == 1;
  }));
  // A relay's certificate is refused, for itself and for the site; another
  // site's certificate is refused for s1 and gets only the program's keys
  // for itself.
  cascade::v1::GetStreamKeysResponse refused;
  EXPECT_EQ(Keys("nat", {"nat"}, &refused).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(Keys("nat", {"s1"}, &refused).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(Keys("s2", {"s1"}, &refused).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(refused.keys_size(), 0);
  EXPECT_TRUE(KeysOf("s2", "up-s1").empty());
  EXPECT_EQ(KeysOf("s2", "program").size(), 1u);

  Tap tap;
  absl::StatusOr<int> port = cascade::testing::FreeLoopbackPortQuad();
  ASSERT_TRUE(port.ok()) << port.status();
  const media::Endpoint center =
      media::Endpoint::Parse(absl::StrCat("127.0.0.1:", *port)).value();
  // The relay is told nothing of the encryption: it has no key to be told.
  const std::string config = absl::StrCat(
      "node_id: \"nat\" listen: \"127.0.0.1:0\"\n",
      "parents { id: \"cc\" address: \"", tap.address().ToString(), "\" }\n",
      "children { id: \"s1\" key_hex: \"", TestLinkKey("s1"), "\" }\n",
      "streams { ssrc: ", kVideo, " direction: DOWN h264: true }\n",
      "streams { ssrc: ", kAudio, " direction: DOWN }\n",
      "streams { ssrc: ", kUpstream,
      " direction: UP selected: true h264: true }\n");
  auto relay = RelayProcess::Start("nat", config);
  ASSERT_TRUE(relay.ok()) << relay.status();
  RelayProcess& nat = **relay;
  tap.Connect(nat.address(), center);

  std::vector<std::string> source_args = {Runfile("tools/source/relay-source"),
                                          "--json",
                                          "--width=160",
                                          "--height=96",
                                          "--bitrate=100",
                                          "--fps=10",
                                          "--audio=false",
                                          "--bind=" + center.ToString(),
                                          "--dest=" + tap.address().ToString(),
                                          absl::StrCat("--ssrc=", kVideo),
                                          "--duration=0",
                                          "--node=cc"};
  for (std::string& flag : TlsFlags("cc")) source_args.push_back(flag);
  auto source = Subprocess::Start(source_args,
                                  {dir_ + "/source.out", dir_ + "/source.err"});
  ASSERT_TRUE(source.ok()) << source.status();

  const std::string sites = dir_ + "/sites";
  ASSERT_TRUE(
      WriteFileAtomically(
          sites, absl::StrCat("127.0.0.1:0 ", nat.address().ToString(), " s1 ",
                              TestLinkKey("s1"), " upstream=", kUpstream, "\n"))
          .ok());
  std::vector<std::string> probe_args = {Runfile("tools/probe/relay-probe"),
                                         "--json",
                                         "--duration=0",
                                         "--interval=0.5",
                                         "--upstream-rate=50",
                                         "--decode-sites=0",
                                         "--sites-file=" + sites};
  for (std::string& flag : TlsFlags("s1")) probe_args.push_back(flag);
  auto probe =
      Subprocess::Start(probe_args, {dir_ + "/probe.out", dir_ + "/probe.err"});
  ASSERT_TRUE(probe.ok()) << probe.status();

  ASSERT_TRUE(WaitUntil("the upstream stream flows", kWaitTimeout, [&] {
    return tap.count() >= 50;
  })) << ReadFile(dir_ + "/probe.err");

  // The rotation, by an admin: key 2, used from the end of the overlap.
  auto admin = cascade::v1::Admin::NewStub(
      grpc::CreateChannel(controller_->address(), pki_->Credentials("ada")));
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + kCallDeadline));
  cascade::v1::RotateStreamKeyRequest rotate;
  rotate.set_stream("up-s1");
  cascade::v1::ChangeResponse changed;
  const grpc::Status rotated =
      admin->RotateStreamKey(&context, rotate, &changed);
  ASSERT_TRUE(rotated.ok()) << rotated.error_message();
  const int64_t before = tap.count();
  // The overlap, then 50 packets a second: 100 more within 2 s of it.
  ASSERT_TRUE(
      WaitUntil("the site sends under key 2", kOverlap + kWaitTimeout, [&] {
        return tap.count() >=
               before + 50 * absl::ToInt64Seconds(kOverlap) + 100;
      }));

  // The site stops first; the center once nothing is left on the way.
  ASSERT_TRUE((*probe)->Signal(SIGINT).ok());
  ASSERT_EQ((*probe)->Wait(absl::Seconds(30)).value_or(-1), 0)
      << ReadFile(dir_ + "/probe.err");
  const std::string sent = FindLine(dir_ + "/probe.out", "{\"type\":\"final\"");
  ASSERT_FALSE(sent.empty()) << ReadFile(dir_ + "/probe.err");
  const int64_t upstream_sent = JsonInt(sent, "upstream_sent").value_or(-1);
  EXPECT_GT(upstream_sent, 0) << sent;
  // Nothing more on the way: the relay, the tap and the center have read
  // every datagram.
  EXPECT_TRUE(WaitUntil("the path is drained", kWaitTimeout, [&] {
    return ReceiveQueue(nat.address()) == 0 &&
           ReceiveQueue(tap.address()) == 0 && ReceiveQueue(center) == 0;
  }));
  ASSERT_TRUE((*source)->Signal(SIGINT).ok());
  ASSERT_EQ((*source)->Wait(absl::Seconds(30)).value_or(-1), 0)
      << ReadFile(dir_ + "/source.err");
  const std::vector<Bytes> packets = tap.Stop();

  // The center decrypted each: none refused.
  const std::string got = ReadFile(dir_ + "/source.out");
  EXPECT_EQ(UpstreamPackets(got, kUpstream),
            static_cast<int64_t>(packets.size()))
      << got;
  EXPECT_EQ(JsonInt(got, "upstream_bad_packets"), 0) << got;
  // The site's first packets may go before the relay takes it as a child
  // (more of them on a loaded machine: 5 idle, 22 beside a CI run), its
  // last after it left; none in between is missing (the gaps below).
  EXPECT_GE(upstream_sent, static_cast<int64_t>(packets.size()));

  // On the wire: key 1, then key 2 from one packet on, never back; the
  // payload never the plain filler, which only the keys topologyd gave
  // the center recover.
  ASSERT_FALSE(packets.empty());
  const std::vector<srtp::StreamKey> keys = KeysOf("cc", "up-s1");
  ASSERT_EQ(keys.size(), 2u);
  auto receiver = srtp::SrtpReceiver::Create(kUpstream, keys);
  ASSERT_TRUE(receiver.ok()) << receiver.status();
  std::vector<uint8_t> plain(2048);
  uint32_t previous = KeyIdOf(packets.front());
  EXPECT_EQ(previous, 1u);
  int64_t switches = 0;
  int64_t under_first = 0;
  std::optional<uint16_t> last_seq;
  int64_t gaps = 0;
  for (const Bytes& packet : packets) {
    const uint32_t id = KeyIdOf(packet);
    if (id != previous) ++switches;
    previous = id;
    under_first += id == 1 ? 1 : 0;
    rtp::RtpView view;
    ASSERT_EQ(rtp::ParseRtp(packet, &view), rtp::RtpError::kOk);
    if (last_seq.has_value() &&
        view.sequence_number != static_cast<uint16_t>(*last_seq + 1)) {
      ++gaps;
    }
    last_seq = view.sequence_number;
    int64_t filler = 0;
    for (uint8_t byte : view.payload) filler += byte == 0xff ? 1 : 0;
    EXPECT_LT(filler, static_cast<int64_t>(view.payload.size()) / 4)
        << "a relay sees the plain payload";
    size_t size = 0;
    ASSERT_EQ((*receiver)->Unprotect(packet, absl::MakeSpan(plain), &size),
              srtp::SrtpError::kOk);
    ASSERT_EQ(rtp::ParseRtp(absl::MakeConstSpan(plain.data(), size), &view),
              rtp::RtpError::kOk);
    ASSERT_GE(view.payload.size(), 2u);
    EXPECT_EQ(view.payload.front(), 12) << "an H.264 filler NAL unit";
    EXPECT_EQ(view.payload[1], 0xff);
  }
  EXPECT_EQ(previous, 2u);
  EXPECT_EQ(switches, 1);
  EXPECT_EQ(gaps, 0) << "packets lost between the site and the center";
  std::printf(
      "%lld upstream packets under key 1, %lld under key 2, all decrypted at "
      "the center; the site sent %lld\n",
      static_cast<long long>(under_first),
      static_cast<long long>(packets.size() - under_first),
      static_cast<long long>(upstream_sent));
}

}  // namespace
}  // namespace cascade::relay::testing
