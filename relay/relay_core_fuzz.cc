// Fuzzes the forwarding core with datagrams from its parent, a static push
// child, an activated child and a stranger, interleaved with clock ticks.
// Invariants: no crash, nothing is ever sent to the stranger, and every packet
// buffer returns to the pool (the pool checks that when destroyed).
//
// Input: records of [control, length high, length low, bytes...]; control
// bits 0-1 pick the sender, bits 2-7 advance the clock by that many ms.
#include <glog/logging.h>

#include <cstdint>
#include <cstdlib>
#include <string>

#include "media/rtp/activation.h"
#include "relay/packet_pool.h"
#include "relay/relay_core.h"
#include "testing/fake_clock.h"

namespace cascade::relay {
namespace {

const media::Endpoint kParent{0x7f000001, 5000};
const media::Endpoint kPush{0x7f000001, 6000};
const media::Endpoint kChild{0x7f000001, 6001};
const media::Endpoint kStranger{0x7f000001, 6666};
const std::string kKey(16, 'k');

class CheckingTransport : public Transport {
 public:
  void Send(const media::Endpoint& to, const PacketRef&) override {
    if (to == kStranger) std::abort();  // the relay answered a stranger
  }
};

RelayOptions Options() {
  RelayOptions o;
  o.node_id = "fuzz";
  o.parents.push_back({"p", kParent, kKey});
  ChildOptions push;
  push.id = "push";
  push.address = kPush;
  push.static_push = true;
  o.children.push_back(push);
  ChildOptions child;
  child.id = "c1";
  child.key = kKey;
  o.children.push_back(child);
  StreamOptions video;
  video.ssrc = 1111;
  video.h264 = true;
  o.streams.push_back(video);
  StreamOptions up;
  up.ssrc = 2222;
  up.direction = Direction::kUp;
  up.selected = true;
  o.streams.push_back(up);
  // Small bounds so evictions and overflows happen within short inputs.
  o.ring.max_packets = 64;
  o.keyframe_cache_max_packets = 16;
  return o;
}

void Run(const uint8_t* data, size_t size) {
  FLAGS_minloglevel = google::GLOG_ERROR;  // activations log at INFO
  FakeClock clock;
  PacketPool pool(1024, 32);
  CheckingTransport transport;
  RelayCore core(Options(), &clock, &pool, &transport);

  rtp::ActivationRequest activation;
  activation.node_id = "c1";
  activation.timestamp_ms = absl::ToUnixMillis(clock.Now());
  activation.nonce = 1;
  PacketRef p = pool.Acquire();
  p.set_size(rtp::BuildActivation(
      activation,
      absl::MakeConstSpan(reinterpret_cast<const uint8_t*>(kKey.data()),
                          kKey.size()),
      p.buffer()));
  core.OnDatagram(kChild, p);

  const media::Endpoint senders[] = {kParent, kPush, kChild, kStranger};
  size_t pos = 0;
  while (pos + 3 <= size) {
    const uint8_t control = data[pos];
    size_t length = (size_t{data[pos + 1]} << 8) | data[pos + 2];
    pos += 3;
    if (length > size - pos) length = size - pos;
    PacketRef packet = pool.Copy(absl::MakeConstSpan(data + pos, length));
    pos += length;
    if (packet) core.OnDatagram(senders[control & 3], packet);
    if ((control >> 2) != 0) {
      clock.Advance(absl::Milliseconds(control >> 2));
      core.OnTick();
    }
  }
  std::string metrics;
  core.RenderMetrics(&metrics);
}

}  // namespace
}  // namespace cascade::relay

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  cascade::relay::Run(data, size);
  return 0;
}
