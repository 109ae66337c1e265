// What the encrypted-stream tests look at on the wire: one SSRC's RTP as an
// address receives it (a plain endpoint, or a keyed child that activates at
// its parent as a site does), the SRTP key id of each packet, and whether
// the payloads decode as H.264 (depacketised into an Annex B file that
// ffmpeg reads with -xerror).
#ifndef CASCADE_TESTS_RELAY_RTP_CAPTURE_H_
#define CASCADE_TESTS_RELAY_RTP_CAPTURE_H_

#include <atomic>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "media/endpoint.h"
#include "tests/relay/relay_harness.h"

namespace cascade::relay::testing {

// The packets of `ssrc` one address received, by sequence number, collected
// on a thread. With `activate_at`, a keyed child: it signs its activation
// there with `key` every 200 ms.
class RtpCapture {
 public:
  explicit RtpCapture(uint32_t ssrc,
                      std::optional<media::Endpoint> activate_at = std::nullopt,
                      std::string key = "");
  ~RtpCapture();
  RtpCapture(const RtpCapture&) = delete;
  RtpCapture& operator=(const RtpCapture&) = delete;

  const media::Endpoint& address() const { return peer_.address(); }
  // Distinct packets so far.
  int64_t count() const { return count_.load(); }
  // Stops collecting; the packets in sequence order.
  std::vector<Bytes> Stop();

 private:
  void Loop();

  const uint32_t ssrc_;
  const std::optional<media::Endpoint> activate_at_;
  const std::string key_;
  UdpPeer peer_;
  std::atomic<bool> stop_{false};
  std::atomic<int64_t> count_{0};
  // Only the thread touches it until Stop has joined it.
  std::map<int64_t, Bytes> by_seq_;
  std::thread thread_;
};

// A packet's SRTP key id: the MKI, its last 4 bytes (0 for a shorter one).
uint32_t KeyIdOf(const Bytes& packet);

// Writes the packets' payloads depacketised (RFC 6184) frame by frame as an
// Annex B file, the frames that fail left out; returns the frames written.
int WriteAnnexB(const std::vector<Bytes>& packets, const std::string& path);

// ffmpeg -xerror on an Annex B file (any decode error fails it): its exit
// code and the frames it decoded; nullopt when ffmpeg is not installed.
struct FfmpegResult {
  int exit_code = -1;
  int frames = 0;
};
std::optional<FfmpegResult> FfmpegDecode(const std::string& path);

}  // namespace cascade::relay::testing

#endif  // CASCADE_TESTS_RELAY_RTP_CAPTURE_H_
