// relay-probe --whep against a real relayd: relay-source feeds a relay
// (its plain source parent) whose --edge serves WHEP over HTTPS with a
// certificate from a CA made here; the relay's standalone config carries
// the stream ("program") and the public half of the key the test mints
// tokens with. Three viewers in one probe decode with no loss; a forged
// token, a token for another stream and an untrusted certificate are
// refused with a clear line and exit code 1.
#include <gtest/gtest.h>
#include <sys/resource.h>

#include <cstdio>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "base/files.h"
#include "base/subprocess.h"
#include "control/signature.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "security/pki.h"
#include "tools/media/udp.h"
#include "tools/probe/edge_relay.h"

namespace cascade {
namespace {

using google::protobuf::Struct;
using google::protobuf::Value;

constexpr char kProbe[] = "tools/probe/relay-probe";
constexpr char kSource[] = "tools/source/relay-source";
constexpr char kRelayd[] = "relay/relayd";
constexpr char kImpair[] = "tools/impair/udp-impair";
constexpr char kRelayId[] = "edge1";
constexpr uint32_t kVideoSsrc = 4369;
constexpr uint32_t kAudioSsrc = 8738;

std::string Dir() { return std::getenv("TEST_TMPDIR"); }
std::string Path(const std::string& name) { return Dir() + "/" + name; }
std::string Read(const std::string& path) {
  return ReadFile(path).value_or("");
}

// Polls `condition` until it holds or `timeout` passes.
::testing::AssertionResult WaitFor(const std::string& what,
                                   absl::Duration timeout,
                                   const std::function<bool()>& condition) {
  const absl::Time deadline = absl::Now() + timeout;
  while (!condition()) {
    if (absl::Now() >= deadline) {
      return ::testing::AssertionFailure()
             << "timed out after " << timeout << " waiting until " << what;
    }
    absl::SleepFor(absl::Milliseconds(20));
  }
  return ::testing::AssertionSuccess();
}

// The last line of `text` that starts with `prefix`, as a JSON object.
Struct LastJson(const std::string& text, absl::string_view prefix) {
  std::string found;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (absl::StartsWith(line, prefix)) found = std::string(line);
  }
  Struct json;
  EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(found, &json).ok())
      << "no JSON line starting with " << prefix << " in:\n"
      << text;
  return json;
}

double Number(const Struct& s, const std::string& key) {
  const auto it = s.fields().find(key);
  EXPECT_TRUE(it != s.fields().end()) << key;
  return it == s.fields().end() ? -1 : it->second.number_value();
}

class WhepIntegrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // The key tokens are minted with; the relay holds its public half.
    auto key = control::NewEcdsaKey();
    ASSERT_TRUE(key.ok()) << key.status();
    key_ = *std::move(key);
    auto public_der = control::PublicKeyDer(key_.get());
    ASSERT_TRUE(public_der.ok());

    // The edge's HTTPS certificate, for 127.0.0.1, from a CA of the test.
    auto ca = security::MakeCa({});
    ASSERT_TRUE(ca.ok()) << ca.status();
    security::IssueOptions issue;
    issue.identity = {security::IdentityKind::kNode, kRelayId,
                      security::Role::kNone};
    issue.ip_addresses = {"127.0.0.1"};
    auto edge = security::Issue(*ca, issue);
    ASSERT_TRUE(edge.ok()) << edge.status();
    ASSERT_TRUE(WriteFileAtomically(Path("ca.pem"), ca->certificate).ok());
    ASSERT_TRUE(WriteFileAtomically(Path("edge.pem"), edge->certificate).ok());
    ASSERT_TRUE(WriteFileAtomically(Path("edge.key"), edge->key).ok());

    // Where relay-source will send from: the relay takes its parent's
    // packets only.
    source_port_ = FreeUdpPort();

    probe::EdgeRelaySetup setup;
    setup.relay_id = kRelayId;
    setup.source_address = absl::StrCat("127.0.0.1:", source_port_);
    setup.video_ssrc = kVideoSsrc;
    setup.audio_ssrc = kAudioSsrc;
    setup.token_key_der = *public_der;
    ASSERT_TRUE(
        probe::WriteEdgeRelayConfig(setup, Path("relay.textproto")).ok());
  }

  // relayd with the config, its HTTPS edge and `extra` flags.
  void StartRelay(const std::vector<std::string>& extra = {}) {
    // Each test starts its relay afresh: no ports of the last one.
    std::remove(Path("relay.ports").c_str());
    std::vector<std::string> argv = {kRelayd,
                                     "--config=" + Path("relay.textproto"),
                                     "--edge=127.0.0.1:0",
                                     "--edge_tls_cert=" + Path("edge.pem"),
                                     "--edge_tls_key=" + Path("edge.key"),
                                     "--port_file=" + Path("relay.ports")};
    argv.insert(argv.end(), extra.begin(), extra.end());
    auto relay =
        Subprocess::Start(argv, {Path("relayd.out"), Path("relayd.err")});
    ASSERT_TRUE(relay.ok()) << relay.status();
    relay_ = *std::move(relay);
    ASSERT_TRUE(WaitFor("relayd writes its ports", absl::Seconds(20), [&] {
      for (absl::string_view line :
           absl::StrSplit(Read(Path("relay.ports")), '\n')) {
        if (absl::ConsumePrefix(&line, "udp=")) {
          (void)absl::SimpleAtoi(line, &udp_port_);
        } else if (absl::ConsumePrefix(&line, "edge=")) {
          (void)absl::SimpleAtoi(line, &edge_port_);
        }
      }
      return (udp_port_ > 0 && edge_port_ > 0) || !relay_->Running();
    })) << Read(Path("relayd.err"));
    ASSERT_TRUE(relay_->Running()) << Read(Path("relayd.err"));
  }

  // relay-source feeding the relay, picture and sound, for long enough.
  void StartSource() {
    auto source = Subprocess::Start(
        {kSource, "--width=320", "--height=180", "--bitrate=300", "--fps=25",
         "--gop=25", "--duration=30", absl::StrCat("--ssrc=", kVideoSsrc),
         absl::StrCat("--audio_ssrc=", kAudioSsrc),
         absl::StrCat("--bind=127.0.0.1:", source_port_),
         absl::StrCat("--dest=127.0.0.1:", udp_port_)},
        {Path("source.out"), Path("source.err")});
    ASSERT_TRUE(source.ok()) << source.status();
    source_ = *std::move(source);
  }

  // A UDP port on 127.0.0.1 the kernel just handed out and took back.
  static int FreeUdpPort() {
    auto socket = media::UdpFd::Open(*media::Endpoint::Parse("127.0.0.1:0"));
    EXPECT_TRUE(socket.ok());
    return socket.ok() ? socket->local().port : 0;
  }

  // A watch token for `stream` signed with `key`.
  std::string Token(EVP_PKEY* key, const std::string& stream = "program") {
    auto text = probe::MintWatchToken(key, kRelayId, stream, absl::Now());
    EXPECT_TRUE(text.ok()) << text.status();
    return text.value_or("");
  }

  std::string Url(const std::string& token) const {
    return absl::StrCat("https://127.0.0.1:", edge_port_,
                        "/watch#stream=program&token=", token);
  }

  struct Run {
    int code = -1;
    std::string out, err;
    rusage usage{};
  };
  // relay-probe with `args`, to its end.
  Run Probe(const std::string& name, std::vector<std::string> args) {
    args.insert(args.begin(), kProbe);
    Run run;
    auto probe =
        Subprocess::Start(args, {Path(name + ".out"), Path(name + ".err")});
    if (!probe.ok()) {
      ADD_FAILURE() << probe.status();
      return run;
    }
    absl::StatusOr<int> code = (*probe)->Wait(absl::Seconds(60));
    EXPECT_TRUE(code.ok()) << code.status();
    run.code = code.value_or(-1);
    run.out = Read(Path(name + ".out"));
    run.err = Read(Path(name + ".err"));
    run.usage = (*probe)->usage();
    return run;
  }

  control::KeyPtr key_;
  int source_port_ = 0;
  int udp_port_ = 0;
  int edge_port_ = 0;
  std::unique_ptr<Subprocess> relay_;
  std::unique_ptr<Subprocess> source_;
};

TEST_F(WhepIntegrationTest, ThreeViewersDecodeWithoutLoss) {
  ASSERT_NO_FATAL_FAILURE(StartRelay());
  ASSERT_NO_FATAL_FAILURE(StartSource());

  const Run run =
      Probe("probe", {"--whep=" + Url(Token(key_.get())), "--whep_viewers=3",
                      "--whep_ca=" + Path("ca.pem"), "--json", "--duration=4",
                      "--max_lost=0"});
  ASSERT_EQ(run.code, 0) << run.out << run.err << Read(Path("relayd.err"));
  const Struct final = LastJson(run.out, "{\"type\":\"final\"");
  EXPECT_FALSE(final.fields().at("broken").bool_value()) << run.out;
  EXPECT_EQ(Number(final, "lost"), 0) << run.out;
  EXPECT_EQ(Number(final, "decode_errors"), 0) << run.out;
  EXPECT_EQ(Number(final, "sites_with_pictures"), 3) << run.out;
  EXPECT_GT(Number(final, "latency_samples"), 0) << run.out;

  ASSERT_TRUE(final.fields().contains("whep")) << run.out;
  const Struct& whep = final.fields().at("whep").struct_value();
  EXPECT_EQ(Number(whep, "viewers"), 3);
  EXPECT_EQ(Number(whep, "connected"), 3);
  const auto& sessions = whep.fields().at("sessions").list_value().values();
  ASSERT_EQ(sessions.size(), 3);
  std::vector<std::string> locations;
  for (const Value& v : sessions) {
    const Struct& s = v.struct_value();
    locations.push_back(s.fields().at("session").string_value());
    EXPECT_TRUE(absl::StartsWith(locations.back(), "/whep/program/"));
    EXPECT_EQ(s.fields().at("state").string_value(), "closed");
    EXPECT_FALSE(s.fields().contains("error")) << run.out;
    EXPECT_TRUE(s.fields().at("deleted").bool_value());
    EXPECT_EQ(s.fields().at("relay").string_value(),
              absl::StrCat("127.0.0.1:", udp_port_));
    // 4 s at 25 fps, less the first picture's wait.
    EXPECT_GE(Number(s, "frames_decoded"), 60) << run.out;
    EXPECT_EQ(Number(s, "lost"), 0);
    EXPECT_EQ(Number(s, "decode_errors"), 0);
    EXPECT_EQ(Number(s, "srtp_dropped"), 0);
    EXPECT_GT(Number(s, "check_answers"), 0);
  }
  EXPECT_NE(locations[0], locations[1]);
  EXPECT_NE(locations[1], locations[2]);

  const double cpu_s =
      absl::ToDoubleSeconds(absl::DurationFromTimeval(run.usage.ru_utime) +
                            absl::DurationFromTimeval(run.usage.ru_stime));
  RecordProperty("probe_cpu_ms_per_viewer",
                 absl::StrCat(static_cast<int>(cpu_s * 1000 / 3)));
  std::string figures;
  ASSERT_TRUE(google::protobuf::util::MessageToJsonString(whep, &figures).ok());
  std::cerr << "relay-probe, 3 viewers for 4 s: " << cpu_s
            << " s of CPU (kernel's account); whep: " << figures << "\n";
}

// The relay's answers reach the viewers through udp-impair losing 3% of
// them: the viewers NACK over SRTCP, the relay resends from its ring.
TEST_F(WhepIntegrationTest, ViewersRepairLossWithNacks) {
  const int proxy_port = FreeUdpPort();
  ASSERT_NO_FATAL_FAILURE(
      StartRelay({absl::StrCat("--edge_candidates=127.0.0.1:", proxy_port)}));
  auto proxy = Subprocess::Start(
      {kImpair, absl::StrCat("--listen=127.0.0.1:", proxy_port),
       absl::StrCat("--forward=127.0.0.1:", udp_port_), "--direction=reverse",
       "--loss=0.03"},
      {Path("impair.out"), Path("impair.err")});
  ASSERT_TRUE(proxy.ok()) << proxy.status();
  ASSERT_NO_FATAL_FAILURE(StartSource());

  const Run run =
      Probe("lossy", {"--whep=" + Url(Token(key_.get())), "--whep_viewers=3",
                      "--whep_ca=" + Path("ca.pem"), "--json", "--duration=4"});
  ASSERT_EQ(run.code, 0) << run.out << run.err << Read(Path("relayd.err"));
  const Struct final = LastJson(run.out, "{\"type\":\"final\"");
  const Struct& whep = final.fields().at("whep").struct_value();
  EXPECT_EQ(Number(whep, "connected"), 3) << run.out;
  std::string figures;
  ASSERT_TRUE(google::protobuf::util::MessageToJsonString(whep, &figures).ok());
  std::cerr << "relay-probe, 3 viewers for 4 s behind 3% loss: " << figures
            << "\n";
  for (const Value& v : whep.fields().at("sessions").list_value().values()) {
    const Struct& s = v.struct_value();
    EXPECT_GT(Number(s, "nacks_sent"), 0) << run.out;
    EXPECT_GT(Number(s, "rtcp_sent"), 0) << run.out;
    EXPECT_GE(Number(s, "frames_decoded"), 60) << run.out;
    EXPECT_EQ(Number(s, "decode_errors"), 0) << run.out;
    // Repaired, but for what went missing in the run's last moments.
    EXPECT_LE(Number(s, "lost"), 3) << run.out;
  }
}

TEST_F(WhepIntegrationTest, RefusalsExitOneNamingTheStatus) {
  ASSERT_NO_FATAL_FAILURE(StartRelay());
  auto forger = control::NewEcdsaKey();
  ASSERT_TRUE(forger.ok());
  struct Case {
    std::string name;
    std::string token;
    std::string line;
  };
  const Case cases[] = {
      {"forged", Token(forger->get()),
       "401 Unauthorized: missing or invalid token"},
      {"other_stream", Token(key_.get(), "other"),
       "403 Forbidden: token not valid for this relay, stream or action"},
  };
  for (const Case& c : cases) {
    const Run run = Probe(c.name, {"--whep=" + Url(c.token),
                                   "--whep_ca=" + Path("ca.pem"), "--json"});
    EXPECT_EQ(run.code, 1) << c.name << ": " << run.err;
    EXPECT_EQ(run.err,
              absl::StrCat("relay-probe: --whep: viewer 0: POST https://"
                           "127.0.0.1:",
                           edge_port_, "/whep/program: ", c.line, "\n"))
        << c.name;
    EXPECT_EQ(run.out, "") << c.name;
  }
}

TEST_F(WhepIntegrationTest, AnUntrustedCertificateIsRefusedByDefault) {
  ASSERT_NO_FATAL_FAILURE(StartRelay());
  const Run run = Probe("untrusted", {"--whep=" + Url(Token(key_.get()))});
  EXPECT_EQ(run.code, 1) << run.err;
  EXPECT_TRUE(absl::StrContains(run.err,
                                "the relay's certificate is not "
                                "trusted"))
      << run.err;
}

}  // namespace
}  // namespace cascade
