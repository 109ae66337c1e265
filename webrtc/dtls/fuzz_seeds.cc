#include "webrtc/dtls/fuzz_seeds.h"

#include <algorithm>
#include <utility>

#include "webrtc/dtls/certificate.h"
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

}  // namespace cascade::dtls
