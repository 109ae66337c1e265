#include "webrtc/dtls/dtls_transport.h"

#include <algorithm>
#include <memory>
#include <vector>

#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "webrtc/dtls/srtp_keys.h"
#include "webrtc/dtls/test_link.h"

namespace cascade::dtls {
namespace {

using Datagram = TestLink::Datagram;

std::unique_ptr<TestLink> Link(DtlsOptions client = {},
                               DtlsOptions server = {}) {
  auto link = TestLink::Create(client, server);
  EXPECT_TRUE(link.ok()) << link.status();
  return link.ok() ? *std::move(link) : nullptr;
}

// The first record of `datagram` is a plaintext handshake message of `type`
// (1 ClientHello, 2 ServerHello).
bool StartsWithHandshake(absl::Span<const uint8_t> datagram, uint8_t type) {
  return datagram.size() > 13 && datagram[0] == 22 && datagram[3] == 0 &&
         datagram[4] == 0 && datagram[13] == type;
}

bool HasChangeCipherSpec(absl::Span<const uint8_t> datagram) {
  while (datagram.size() >= 13) {
    if (datagram[0] == 20) return true;
    const size_t length = size_t{datagram[11]} << 8 | datagram[12];
    datagram.remove_prefix(std::min(datagram.size(), 13 + length));
  }
  return false;
}

size_t Largest(const std::vector<Datagram>& datagrams) {
  size_t largest = 0;
  for (const Datagram& d : datagrams) largest = std::max(largest, d.size());
  return largest;
}

void ExpectMirroredKeys(TestLink& link, SrtpProfile profile) {
  const auto& client = link.client().transport->srtp_keys();
  const auto& server = link.server().transport->srtp_keys();
  ASSERT_TRUE(client.has_value());
  ASSERT_TRUE(server.has_value());
  EXPECT_EQ(client->profile, profile);
  EXPECT_EQ(server->profile, profile);
  EXPECT_EQ(client->client_write, server->client_write);
  EXPECT_EQ(client->server_write, server->server_write);
  EXPECT_NE(client->client_write.key, client->server_write.key);
  EXPECT_NE(client->client_write.salt, client->server_write.salt);
  for (const SrtpMasterKey* key :
       {&client->client_write, &client->server_write}) {
    EXPECT_EQ(key->key.size(), 16u);
    EXPECT_EQ(key->salt.size(),
              profile == SrtpProfile::kAeadAes128Gcm ? 12u : 14u);
  }
}

TEST(DtlsTransportTest, HandshakeAgreesOnGcmAndMirroredKeys) {
  std::unique_ptr<TestLink> link = Link();
  ASSERT_NE(link, nullptr);
  link->Handshake();
  ASSERT_TRUE(link->connected())
      << link->client().error << " / " << link->server().error;
  ExpectMirroredKeys(*link, SrtpProfile::kAeadAes128Gcm);
  EXPECT_EQ(link->client().states,
            (std::vector{DtlsState::kHandshaking, DtlsState::kConnected}));
  EXPECT_EQ(link->server().states,
            (std::vector{DtlsState::kHandshaking, DtlsState::kConnected}));
  // The cookie first, then the ClientHello again with it.
  EXPECT_TRUE(StartsWithHandshake(link->client().sent[0], 1));
  EXPECT_TRUE(StartsWithHandshake(link->server().sent[0], 3));
  EXPECT_TRUE(StartsWithHandshake(link->client().sent[1], 1));
  EXPECT_TRUE(StartsWithHandshake(link->server().sent[1], 2));
  EXPECT_LE(Largest(link->client().sent), 1200u);
  EXPECT_LE(Largest(link->server().sent), 1200u);
  EXPECT_EQ(link->client().transport->counters().datagrams_out,
            link->client().sent.size());
  EXPECT_EQ(link->server().transport->counters().accepted,
            link->client().sent.size());
  // Separate handshakes, separate keys.
  std::unique_ptr<TestLink> other = Link();
  ASSERT_NE(other, nullptr);
  other->Handshake();
  ASSERT_TRUE(other->connected());
  EXPECT_NE(other->client().transport->srtp_keys()->client_write,
            link->client().transport->srtp_keys()->client_write);
}

TEST(DtlsTransportTest, NoAnswerIsLargerThanAHelloWithoutTheCookie) {
  std::unique_ptr<TestLink> link = Link();
  ASSERT_NE(link, nullptr);
  link->client().transport->Start(kTestNow);
  const Datagram hello = link->client().queue.front();
  link->client().queue.clear();
  DtlsTransport& server = *link->server().transport;
  for (int i = 0; i < 3; ++i) {  // a spoofed source repeating itself
    ASSERT_EQ(server.Feed(hello, kTestNow), DtlsInput::kAccepted);
  }
  ASSERT_FALSE(link->server().sent.empty());
  for (const Datagram& answer : link->server().sent) {
    EXPECT_LT(answer.size(), hello.size());
    EXPECT_TRUE(StartsWithHandshake(answer, 3));  // HelloVerifyRequest
  }
  // The client echoes the cookie; one altered byte of it gets no further.
  link->client().transport->Feed(link->server().sent[0], kTestNow);
  ASSERT_EQ(link->client().queue.size(), 1u);
  Datagram forged = link->client().queue.front();
  // Record header 13, handshake header 12, version 2, random 32, an empty
  // session id: the cookie's length, then the cookie.
  ASSERT_GT(forged.size(), 62u);
  ASSERT_EQ(forged[60], 16);
  forged[61] ^= 0x01;
  const size_t answers = link->server().sent.size();
  server.Feed(forged, kTestNow);
  for (size_t i = answers; i < link->server().sent.size(); ++i) {
    EXPECT_FALSE(StartsWithHandshake(link->server().sent[i], 2));
  }
  EXPECT_NE(server.state(), DtlsState::kConnected);
}

TEST(DtlsTransportTest, WithoutTheCookieTheServerAnswersAtOnce) {
  DtlsOptions server;
  server.require_cookie = false;
  std::unique_ptr<TestLink> link = Link({}, server);
  ASSERT_NE(link, nullptr);
  link->Handshake();
  ASSERT_TRUE(link->connected());
  EXPECT_TRUE(StartsWithHandshake(link->server().sent[0], 2));
  ExpectMirroredKeys(*link, SrtpProfile::kAeadAes128Gcm);
}

TEST(DtlsTransportTest, ServerPicksTheOnlyProfileTheClientOffers) {
  DtlsOptions client;
  client.profiles = {SrtpProfile::kAes128CmSha1_80};
  std::unique_ptr<TestLink> link = Link(client);
  ASSERT_NE(link, nullptr);
  link->Handshake();
  ASSERT_TRUE(link->connected());
  ExpectMirroredKeys(*link, SrtpProfile::kAes128CmSha1_80);
}

TEST(DtlsTransportTest, ServerPreferenceDecides) {
  DtlsOptions server;
  server.profiles = {SrtpProfile::kAes128CmSha1_80,
                     SrtpProfile::kAeadAes128Gcm};
  std::unique_ptr<TestLink> link = Link({}, server);
  ASSERT_NE(link, nullptr);
  link->Handshake();
  ASSERT_TRUE(link->connected());
  ExpectMirroredKeys(*link, SrtpProfile::kAes128CmSha1_80);
}

TEST(DtlsTransportTest, NoCommonProfileFailsBothSides) {
  DtlsOptions client;
  client.profiles = {SrtpProfile::kAeadAes128Gcm};
  DtlsOptions server;
  server.profiles = {SrtpProfile::kAes128CmSha1_80};
  std::unique_ptr<TestLink> link = Link(client, server);
  ASSERT_NE(link, nullptr);
  link->Handshake();
  EXPECT_EQ(link->client().transport->state(), DtlsState::kFailed);
  EXPECT_EQ(link->server().transport->state(), DtlsState::kFailed);
  EXPECT_FALSE(link->client().transport->srtp_keys().has_value());
  EXPECT_FALSE(link->server().transport->srtp_keys().has_value());
}

TEST(DtlsTransportTest, ServerRefusesAClientWithTheWrongFingerprint) {
  auto stranger = Certificate::Generate({kTestNow});
  ASSERT_TRUE(stranger.ok());
  DtlsOptions server;
  server.remote_fingerprint = (*stranger)->fingerprint();
  std::unique_ptr<TestLink> link = Link({}, server);
  ASSERT_NE(link, nullptr);
  link->Handshake();
  const DtlsTransport& refusing = *link->server().transport;
  EXPECT_EQ(refusing.state(), DtlsState::kFailed);
  EXPECT_EQ(refusing.error().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_NE(refusing.error().message().find("fingerprint"), std::string::npos)
      << refusing.error();
  EXPECT_EQ(link->server().error, refusing.error());  // told the listener
  // The server's alert ends the client's handshake too.
  EXPECT_EQ(link->client().transport->state(), DtlsState::kFailed);
  EXPECT_FALSE(refusing.srtp_keys().has_value());
}

TEST(DtlsTransportTest, ClientRefusesAServerWithTheWrongFingerprint) {
  auto stranger = Certificate::Generate({kTestNow});
  ASSERT_TRUE(stranger.ok());
  DtlsOptions client;
  client.remote_fingerprint = (*stranger)->fingerprint();
  std::unique_ptr<TestLink> link = Link(client);
  ASSERT_NE(link, nullptr);
  link->Handshake();
  EXPECT_EQ(link->client().transport->state(), DtlsState::kFailed);
  EXPECT_EQ(link->client().transport->error().code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_NE(link->server().transport->state(), DtlsState::kConnected);
}

TEST(DtlsTransportTest, AFingerprintUnderSha512IsCheckedToo) {
  std::unique_ptr<TestLink> link = Link();
  ASSERT_NE(link, nullptr);
  // Rebuild the client expecting the server's sha-512 fingerprint.
  auto sha512 = FingerprintOf(link->server().certificate->x509(), "sha-512");
  ASSERT_TRUE(sha512.ok());
  DtlsOptions client;
  client.role = DtlsRole::kClient;
  client.remote_fingerprint = *sha512;
  auto transport = DtlsTransport::Create(*link->client().certificate, client,
                                         &link->client());
  ASSERT_TRUE(transport.ok()) << transport.status();
  link->client().transport = *std::move(transport);
  link->Handshake();
  EXPECT_TRUE(link->connected()) << link->client().error;
}

TEST(DtlsTransportTest, NoDatagramExceedsTheMtu) {
  DtlsOptions small;
  small.mtu = 576;
  std::unique_ptr<TestLink> link = Link(small, small);
  ASSERT_NE(link, nullptr);
  link->Handshake();
  ASSERT_TRUE(link->connected());
  EXPECT_LE(Largest(link->client().sent), 576u);
  EXPECT_LE(Largest(link->server().sent), 576u);
  // With the default the server's first flight packs beyond that: the
  // setting is what kept it small.
  std::unique_ptr<TestLink> roomy = Link();
  ASSERT_NE(roomy, nullptr);
  roomy->Handshake();
  EXPECT_GT(Largest(roomy->server().sent), 576u);
}

TEST(DtlsTransportTest, GarbageIsCountedAndDropped) {
  std::unique_ptr<TestLink> link = Link();
  ASSERT_NE(link, nullptr);
  link->client().transport->Start(kTestNow);
  ASSERT_EQ(link->client().queue.size(), 1u);
  const Datagram hello = link->client().queue.front();
  DtlsTransport& server = *link->server().transport;

  EXPECT_EQ(server.Feed({}, kTestNow), DtlsInput::kNotDtls);
  const Datagram rtp = {0x80, 0x60, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1};
  EXPECT_EQ(server.Feed(rtp, kTestNow), DtlsInput::kNotDtls);
  EXPECT_EQ(server.Feed(Datagram(kMaxDatagramSize + 1, 22), kTestNow),
            DtlsInput::kOversize);
  const Datagram truncated(hello.begin(), hello.begin() + 10);
  EXPECT_EQ(server.Feed(truncated, kTestNow), DtlsInput::kMalformed);
  const Datagram cut(hello.begin(), hello.end() - 1);  // length past the end
  EXPECT_EQ(server.Feed(cut, kTestNow), DtlsInput::kMalformed);
  Datagram heartbeat = hello;
  heartbeat[0] = 24;
  EXPECT_EQ(server.Feed(heartbeat, kTestNow), DtlsInput::kMalformed);
  Datagram trailing = hello;
  trailing.push_back(22);  // a second record's first byte only
  EXPECT_EQ(server.Feed(trailing, kTestNow), DtlsInput::kMalformed);
  const DtlsCounters& counters = server.counters();
  EXPECT_EQ(counters.not_dtls, 2u);
  EXPECT_EQ(counters.oversize, 1u);
  EXPECT_EQ(counters.malformed, 4u);
  EXPECT_EQ(counters.accepted, 0u);
  EXPECT_EQ(server.state(), DtlsState::kNew);  // none of it started it

  // Well-framed nonsense reaches OpenSSL, which ignores it.
  Datagram nonsense(13 + 40, 0x5a);
  nonsense[0] = 22;
  nonsense[1] = 0xfe;
  nonsense[2] = 0xfd;
  nonsense[11] = 0;
  nonsense[12] = 40;
  server.Feed(nonsense, kTestNow);
  EXPECT_NE(server.state(), DtlsState::kConnected);

  link->Pump();
  ASSERT_TRUE(link->connected())
      << link->client().error << " / " << link->server().error;
  ExpectMirroredKeys(*link, SrtpProfile::kAeadAes128Gcm);

  // Once connected: an application data record under no key is dropped
  // without harm, and so is a stale copy of the first ClientHello.
  Datagram forged = nonsense;
  forged[0] = 23;
  forged[4] = 1;  // epoch 1
  EXPECT_EQ(server.Feed(forged, kTestNow), DtlsInput::kAccepted);
  server.Feed(hello, kTestNow);
  link->Pump();
  EXPECT_TRUE(link->connected())
      << link->client().error << " / " << link->server().error;
  EXPECT_EQ(server.counters().app_data_dropped, 0u);
}

TEST(DtlsTransportTest, ClientReadsNothingBeforeStart) {
  std::unique_ptr<TestLink> link = Link();
  ASSERT_NE(link, nullptr);
  link->server().transport->Start(kTestNow);
  Datagram record(13, 0);
  record[0] = 22;
  record[1] = 0xfe;
  record[2] = 0xfd;
  EXPECT_EQ(link->client().transport->Feed(record, kTestNow),
            DtlsInput::kNotOpen);
  EXPECT_EQ(link->client().transport->counters().not_open, 1u);
}

// OpenSSL times DTLS retransmission on the system clock, with no way to
// give it another: these tests wait for the time the transport asks for
// (NextTimeout), a bounded number of times, as an event loop would.
bool RetransmitOnTimer(DtlsTransport& transport) {
  for (int i = 0; i < 50 && transport.counters().retransmissions == 0; ++i) {
    const absl::Time due = transport.NextTimeout(absl::Now());
    if (due == absl::InfiniteFuture()) return false;
    absl::SleepFor(std::max(absl::ZeroDuration(), due - absl::Now()));
    transport.OnTimer(absl::Now());
  }
  return transport.counters().retransmissions > 0;
}

TEST(DtlsTransportTest, LostClientHelloIsSentAgainOnTheTimer) {
  DtlsOptions client;
  client.initial_retransmit = absl::Milliseconds(20);
  std::unique_ptr<TestLink> link = Link(client);
  ASSERT_NE(link, nullptr);
  int lost = 0;
  link->drop = [&](const TestLink::Side& from, absl::Span<const uint8_t>) {
    if (&from != &link->client() || lost > 0) return false;
    ++lost;
    return true;
  };
  const absl::Time start = absl::Now();
  link->Handshake(start);
  ASSERT_EQ(lost, 1);
  if (link->client().sent.size() == 1) {  // OpenSSL's timer not yet due
    EXPECT_TRUE(link->server().sent.empty());
    EXPECT_EQ(link->client().transport->state(), DtlsState::kHandshaking);
    EXPECT_LE(link->client().transport->NextTimeout(start),
              start + absl::Milliseconds(20));
    ASSERT_TRUE(RetransmitOnTimer(*link->client().transport));
  }
  ASSERT_GE(link->client().sent.size(), 2u);
  EXPECT_TRUE(StartsWithHandshake(link->client().sent[1], 1));
  link->Pump(absl::Now());
  ASSERT_TRUE(link->connected())
      << link->client().error << " / " << link->server().error;
  ExpectMirroredKeys(*link, SrtpProfile::kAeadAes128Gcm);
}

TEST(DtlsTransportTest, LostFinalFlightIsSentAgainWhenTheClientRepeats) {
  DtlsOptions client;
  client.initial_retransmit = absl::Milliseconds(20);
  std::unique_ptr<TestLink> link = Link(client);
  ASSERT_NE(link, nullptr);
  int lost = 0;
  // The server's ChangeCipherSpec and Finished, once.
  link->drop = [&](const TestLink::Side& from,
                   absl::Span<const uint8_t> datagram) {
    if (&from != &link->server() || lost > 0 ||
        !HasChangeCipherSpec(datagram)) {
      return false;
    }
    ++lost;
    return true;
  };
  link->Handshake(absl::Now());
  ASSERT_EQ(lost, 1);
  EXPECT_EQ(link->server().transport->state(), DtlsState::kConnected);
  if (link->client().transport->state() == DtlsState::kHandshaking) {
    ASSERT_TRUE(RetransmitOnTimer(*link->client().transport));
    link->Pump(absl::Now());
  }
  ASSERT_TRUE(link->connected())
      << link->client().error << " / " << link->server().error;
  EXPECT_EQ(lost, 1);
  ExpectMirroredKeys(*link, SrtpProfile::kAeadAes128Gcm);
}

TEST(DtlsTransportTest, HandshakeFailsAfterItsDeadline) {
  std::unique_ptr<TestLink> link = Link();
  ASSERT_NE(link, nullptr);
  link->drop = [](const TestLink::Side&, absl::Span<const uint8_t>) {
    return true;
  };
  DtlsTransport& client = *link->client().transport;
  link->Handshake();
  const absl::Time deadline = kTestNow + absl::Seconds(10);
  EXPECT_LE(client.NextTimeout(kTestNow), deadline);
  client.OnTimer(deadline - absl::Milliseconds(1));
  EXPECT_EQ(client.state(), DtlsState::kHandshaking);
  client.OnTimer(deadline);
  EXPECT_EQ(client.state(), DtlsState::kFailed);
  EXPECT_EQ(client.error().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(link->client().states.back(), DtlsState::kFailed);
  EXPECT_EQ(client.NextTimeout(deadline), absl::InfiniteFuture());
  // A failed transport reads nothing more.
  EXPECT_EQ(client.Feed(link->client().sent[0], deadline), DtlsInput::kNotOpen);
}

TEST(DtlsTransportTest, CloseNotifyClosesThePeer) {
  std::unique_ptr<TestLink> link = Link();
  ASSERT_NE(link, nullptr);
  link->Handshake();
  ASSERT_TRUE(link->connected());
  link->client().transport->Close();
  EXPECT_EQ(link->client().transport->state(), DtlsState::kClosed);
  ASSERT_FALSE(link->client().queue.empty());  // the close_notify
  link->Pump();
  EXPECT_EQ(link->server().transport->state(), DtlsState::kClosed);
  EXPECT_EQ(link->server().states.back(), DtlsState::kClosed);
  EXPECT_EQ(StateName(link->server().states.back()), "closed");
  EXPECT_TRUE(link->server().error.ok());
  EXPECT_EQ(
      link->server().transport->Feed(link->client().sent.back(), kTestNow),
      DtlsInput::kNotOpen);
  EXPECT_EQ(link->server().transport->NextTimeout(kTestNow),
            absl::InfiniteFuture());
}

TEST(DtlsTransportTest, CreateRefusesBadOptions) {
  auto certificate = Certificate::Generate({kTestNow});
  ASSERT_TRUE(certificate.ok());
  TestLink::Side listener;
  DtlsOptions good;
  good.remote_fingerprint = (*certificate)->fingerprint();
  ASSERT_TRUE(DtlsTransport::Create(**certificate, good, &listener).ok());
  EXPECT_FALSE(DtlsTransport::Create(**certificate, good, nullptr).ok());
  std::vector<DtlsOptions> bad(8, good);
  bad[0].remote_fingerprint = {};
  bad[1].remote_fingerprint.algorithm = "md5";
  bad[2].profiles = {};
  bad[3].profiles = {SrtpProfile::kAeadAes128Gcm, SrtpProfile::kAeadAes128Gcm};
  bad[4].mtu = 100;
  bad[5].mtu = kMaxDatagramSize + 1;
  bad[6].max_retransmit = absl::Milliseconds(20);
  bad[7].initial_retransmit = absl::Milliseconds(1);
  for (size_t i = 0; i < bad.size(); ++i) {
    auto transport = DtlsTransport::Create(**certificate, bad[i], &listener);
    EXPECT_EQ(transport.status().code(), absl::StatusCode::kInvalidArgument)
        << i;
  }
}

}  // namespace
}  // namespace cascade::dtls
