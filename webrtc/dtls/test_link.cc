#include "webrtc/dtls/test_link.h"

#include <utility>

namespace cascade::dtls {

void TestLink::Side::OnDtlsSend(absl::Span<const uint8_t> datagram) {
  queue.emplace_back(datagram.begin(), datagram.end());
  sent.emplace_back(datagram.begin(), datagram.end());
}

void TestLink::Side::OnDtlsState(DtlsState state, const absl::Status& e) {
  states.push_back(state);
  error = e;
}

absl::StatusOr<std::unique_ptr<TestLink>> TestLink::Create(DtlsOptions client,
                                                           DtlsOptions server) {
  std::unique_ptr<TestLink> link(new TestLink());
  for (Side* side : {&link->client_, &link->server_}) {
    auto certificate = Certificate::Generate({kTestNow});
    if (!certificate.ok()) return certificate.status();
    side->certificate = *std::move(certificate);
  }
  client.role = DtlsRole::kClient;
  server.role = DtlsRole::kServer;
  if (client.remote_fingerprint.value.empty()) {
    client.remote_fingerprint = link->server_.certificate->fingerprint();
  }
  if (server.remote_fingerprint.value.empty()) {
    server.remote_fingerprint = link->client_.certificate->fingerprint();
  }
  for (auto [side, options] : {std::pair{&link->client_, &client},
                               std::pair{&link->server_, &server}}) {
    auto transport = DtlsTransport::Create(*side->certificate, *options, side);
    if (!transport.ok()) return transport.status();
    side->transport = *std::move(transport);
  }
  return link;
}

int TestLink::Pump(absl::Time now, int rounds) {
  int delivered = 0;
  for (int round = 0; round < rounds; ++round) {
    if (client_.queue.empty() && server_.queue.empty()) break;
    for (auto [from, to] :
         {std::pair{&client_, &server_}, std::pair{&server_, &client_}}) {
      std::deque<Datagram> queue = std::move(from->queue);
      from->queue.clear();
      for (const Datagram& datagram : queue) {
        if (drop && drop(*from, datagram)) continue;
        to->transport->Feed(datagram, now);
        ++delivered;
      }
    }
  }
  return delivered;
}

void TestLink::Handshake(absl::Time now) {
  server_.transport->Start(now);
  client_.transport->Start(now);
  Pump(now);
}

bool TestLink::connected() const {
  return client_.transport->state() == DtlsState::kConnected &&
         server_.transport->state() == DtlsState::kConnected;
}

}  // namespace cascade::dtls
