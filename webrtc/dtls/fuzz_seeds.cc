#include "webrtc/dtls/fuzz_seeds.h"

#include <algorithm>
#include <utility>

#include "webrtc/dtls/certificate.h"
#include "webrtc/dtls/srtp_session.h"
#include "webrtc/dtls/test_link.h"

namespace cascade::dtls {
namespace {

using Bytes = std::vector<uint8_t>;

Bytes Input(const std::vector<Bytes>& datagrams) {
  Bytes out;
  for (const Bytes& datagram : datagrams) {
    out.push_back(static_cast<uint8_t>(datagram.size() >> 8));
    out.push_back(static_cast<uint8_t>(datagram.size()));
    out.insert(out.end(), datagram.begin(), datagram.end());
  }
  return out;
}

// What a client offering `profiles` sends in a whole handshake.
std::vector<Bytes> ClientTranscript(std::vector<SrtpProfile> profiles) {
  DtlsOptions client;
  client.profiles = std::move(profiles);
  auto link = TestLink::Create(client);
  if (!link.ok()) return {};
  (*link)->Handshake();
  return (*link)->client().sent;
}

Bytes Rtp(uint16_t seq) {
  Bytes packet = {0x80,
                  111,
                  static_cast<uint8_t>(seq >> 8),
                  static_cast<uint8_t>(seq),
                  0,
                  0,
                  0x03,
                  0xc0,
                  0x0a,
                  0x0b,
                  0x0c,
                  0x0d};
  for (int i = 0; i < 40; ++i) packet.push_back(static_cast<uint8_t>(i));
  return packet;
}

// A receiver report without blocks.
Bytes Rtcp() { return {0x80, 201, 0, 1, 0x0a, 0x0b, 0x0c, 0x0d}; }

// `plain` protected by the DTLS client's session, after its kind byte.
Bytes Protected(SrtpSession& client, Bytes plain, bool rtcp) {
  size_t size = plain.size();
  plain.resize(size + client.rtcp_overhead());
  const SrtpSessionError error =
      rtcp ? client.ProtectRtcp(absl::MakeSpan(plain), &size)
           : client.ProtectRtp(absl::MakeSpan(plain), &size);
  if (error != SrtpSessionError::kOk) return {};
  plain.resize(size);
  plain.insert(plain.begin(), rtcp ? 1 : 0);
  return plain;
}

}  // namespace

std::unique_ptr<DtlsTransport> FuzzServer(DtlsTransport::Listener* listener) {
  static const Certificate* const certificate =
      Certificate::Generate({kTestNow}).value().release();
  DtlsOptions options;
  options.role = DtlsRole::kServer;
  // No fuzz input gets far enough for the client's certificate to matter.
  options.remote_fingerprint = certificate->fingerprint();
  // Without the cookie round trip a ClientHello reaches the whole server
  // flight.
  options.require_cookie = false;
  return DtlsTransport::Create(*certificate, options, listener).value();
}

std::vector<absl::Span<const uint8_t>> SplitDatagrams(
    absl::Span<const uint8_t> input) {
  std::vector<absl::Span<const uint8_t>> datagrams;
  while (input.size() >= 2) {
    const size_t size = std::min<size_t>(
        static_cast<size_t>(input[0]) << 8 | input[1], input.size() - 2);
    datagrams.push_back(input.subspan(2, size));
    input.remove_prefix(2 + size);
  }
  return datagrams;
}

std::vector<Seed> DtlsSeeds() {
  const std::vector<Bytes> both = ClientTranscript(
      {SrtpProfile::kAeadAes128Gcm, SrtpProfile::kAes128CmSha1_80});
  const std::vector<Bytes> cm_only =
      ClientTranscript({SrtpProfile::kAes128CmSha1_80});
  if (both.empty() || cm_only.empty()) return {};
  const Bytes& hello = both[0];
  const Bytes truncated(hello.begin(), hello.begin() + 30);
  const Bytes rtp = {0x80, 96, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0xab};
  return {
      {"ok_client_hello", Input({hello})},
      {"ok_client_hello_cm_only", Input({cm_only[0]})},
      {"ok_client_hello_repeated", Input({hello, hello})},
      // The client's whole side of another handshake: the later flights
      // answer another server.
      {"ok_client_transcript", Input(both)},
      {"bad_truncated_client_hello", Input({truncated})},
      {"bad_not_dtls", Input({rtp})},
  };
}

SrtpKeys FuzzSrtpKeys(SrtpProfile profile) {
  SrtpKeys keys;
  keys.profile = profile;
  const auto fill = [&](uint8_t first, size_t size) {
    Bytes bytes(size);
    for (size_t i = 0; i < size; ++i)
      bytes[i] = static_cast<uint8_t>(first + i);
    return bytes;
  };
  keys.client_write = {fill(0x10, MasterKeySize(profile)),
                       fill(0x40, MasterSaltSize(profile))};
  keys.server_write = {fill(0x80, MasterKeySize(profile)),
                       fill(0xc0, MasterSaltSize(profile))};
  return keys;
}

std::vector<Seed> SrtpSessionSeeds() {
  std::vector<Seed> seeds;
  for (SrtpProfile profile :
       {SrtpProfile::kAeadAes128Gcm, SrtpProfile::kAes128CmSha1_80}) {
    auto client = SrtpSession::Create(FuzzSrtpKeys(profile), DtlsRole::kClient);
    if (!client.ok()) return {};
    std::vector<Bytes> stream;
    for (uint16_t seq = 65533; seq != 3; ++seq) {  // across the wrap
      stream.push_back(Protected(**client, Rtp(seq), false));
    }
    stream.push_back(Protected(**client, Rtcp(), true));
    stream.push_back(Protected(**client, Rtcp(), true));
    Bytes tampered = stream[1];
    tampered[tampered.size() - 20] ^= 0x01;
    Bytes truncated = stream[0];
    truncated.resize(14);
    const std::string name =
        profile == SrtpProfile::kAeadAes128Gcm ? "_gcm" : "_aes_cm_sha1_80";
    const auto input = [&](const std::vector<Bytes>& packets) {
      Bytes bytes = Input(packets);
      bytes.insert(bytes.begin(),
                   profile == SrtpProfile::kAeadAes128Gcm ? 0 : 1);
      return bytes;
    };
    seeds.push_back({"ok_stream" + name, input(stream)});
    seeds.push_back({"bad_replayed" + name, input({stream[0], stream[0]})});
    seeds.push_back(
        {"bad_replayed_rtcp" + name, input({stream.back(), stream.back()})});
    seeds.push_back({"bad_tampered" + name, input({tampered})});
    seeds.push_back({"bad_truncated" + name, input({truncated})});
  }
  return seeds;
}

std::vector<SrtpFuzzResult> RunSrtpSessionInput(
    absl::Span<const uint8_t> input) {
  if (input.empty()) return {};
  const SrtpProfile profile = input[0] & 1 ? SrtpProfile::kAes128CmSha1_80
                                           : SrtpProfile::kAeadAes128Gcm;
  std::unique_ptr<SrtpSession> session =
      SrtpSession::Create(FuzzSrtpKeys(profile), DtlsRole::kServer).value();
  std::vector<SrtpFuzzResult> results;
  Bytes buffer;
  for (absl::Span<const uint8_t> chunk : SplitDatagrams(input.subspan(1))) {
    if (chunk.empty()) continue;
    const bool rtcp = chunk[0] & 1;
    buffer.assign(chunk.begin() + 1, chunk.end());
    SrtpFuzzResult result{
        SrtpSessionError::kOk, buffer.size(), 0,
        rtcp ? session->rtcp_overhead() : session->rtp_overhead()};
    result.error =
        rtcp ? session->UnprotectRtcp(absl::MakeSpan(buffer), &result.plain)
             : session->UnprotectRtp(absl::MakeSpan(buffer), &result.plain);
    results.push_back(result);
  }
  return results;
}

}  // namespace cascade::dtls
