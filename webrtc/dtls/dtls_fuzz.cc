// Fuzzes a server-role DtlsTransport with runs of datagrams into one fresh
// server: never reads or writes outside its buffers (ASan), every datagram
// is counted once, nothing it sends exceeds the MTU, and no input makes it
// connected (a handshake cannot finish without the server's own random).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "webrtc/dtls/dtls_transport.h"
#include "webrtc/dtls/fuzz_seeds.h"

namespace {

using cascade::dtls::DtlsState;
using cascade::dtls::DtlsTransport;

void Check(bool condition) {
  if (!condition) std::abort();
}

struct Listener : DtlsTransport::Listener {
  void OnDtlsSend(absl::Span<const uint8_t> datagram) override {
    Check(!datagram.empty() && datagram.size() <= 1200);
  }
  void OnDtlsState(DtlsState state, const absl::Status& error) override {
    Check(state != DtlsState::kConnected);
    Check((state == DtlsState::kFailed) == !error.ok());
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Listener listener;
  std::unique_ptr<DtlsTransport> server = cascade::dtls::FuzzServer(&listener);
  const absl::Time now = absl::UnixEpoch();
  uint64_t fed = 0;
  for (absl::Span<const uint8_t> datagram :
       cascade::dtls::SplitDatagrams({data, size})) {
    server->Feed(datagram, now);
    server->OnTimer(now);
    ++fed;
  }
  const cascade::dtls::DtlsCounters& counters = server->counters();
  Check(counters.accepted + counters.not_dtls + counters.oversize +
            counters.malformed + counters.not_open ==
        fed);
  return 0;
}
