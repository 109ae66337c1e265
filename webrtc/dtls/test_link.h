// A DTLS client and server joined by an in-memory link, for tests and fuzz
// seeds: what one sends queues for the other, Pump delivers it, and a
// filter may lose datagrams on the way.
#ifndef CASCADE_WEBRTC_DTLS_TEST_LINK_H_
#define CASCADE_WEBRTC_DTLS_TEST_LINK_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "webrtc/dtls/certificate.h"
#include "webrtc/dtls/dtls_transport.h"

namespace cascade::dtls {

// A fixed clock reading: the tests' handshakes run at it.
inline const absl::Time kTestNow = absl::FromUnixSeconds(1800000000);

class TestLink {
 public:
  using Datagram = std::vector<uint8_t>;

  struct Side : DtlsTransport::Listener {
    void OnDtlsSend(absl::Span<const uint8_t> datagram) override;
    void OnDtlsState(DtlsState state, const absl::Status& error) override;

    std::unique_ptr<Certificate> certificate;
    std::unique_ptr<DtlsTransport> transport;
    std::deque<Datagram> queue;  // sent, not yet delivered
    std::vector<Datagram> sent;  // everything sent, in order
    std::vector<DtlsState> states;
    absl::Status error;
  };

  // Each side gets a fresh certificate and, unless its options name one,
  // the other's fingerprint; roles are set here.
  static absl::StatusOr<std::unique_ptr<TestLink>> Create(
      DtlsOptions client = {}, DtlsOptions server = {});

  Side& client() { return client_; }
  Side& server() { return server_; }

  // Lose a datagram? Called with the sending side and the datagram.
  std::function<bool(const Side& from, absl::Span<const uint8_t>)> drop;

  // Delivers what is queued, both ways, until nothing is (at most `rounds`
  // exchanges); returns the number of datagrams delivered.
  int Pump(absl::Time now = kTestNow, int rounds = 32);
  // Starts both sides and pumps.
  void Handshake(absl::Time now = kTestNow);
  bool connected() const;

 private:
  TestLink() = default;

  Side client_;
  Side server_;
};

}  // namespace cascade::dtls

#endif  // CASCADE_WEBRTC_DTLS_TEST_LINK_H_
