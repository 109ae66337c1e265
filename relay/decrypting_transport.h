// The forwarding core's transport at a relay that holds stream keys: what
// goes to a plain endpoint (a static push child's address or audio address)
// is decrypted first (stream_decryptor.h), once per packet however many
// endpoints take it; everything else goes on to the next transport as it
// is; a single packet to a plain endpoint (a NACK's answer) is decrypted
// again (StreamDecryptor::Recall). So the core stays free of SRTP: it fans out
// one list, and this splits it into the children that get the bytes as they are
// and the plain endpoints that get them decrypted.
//
// Loop thread only.
#ifndef CASCADE_RELAY_DECRYPTING_TRANSPORT_H_
#define CASCADE_RELAY_DECRYPTING_TRANSPORT_H_

#include <memory>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "media/endpoint.h"
#include "relay/packet_pool.h"
#include "relay/relay_options.h"
#include "relay/stream_decryptor.h"
#include "relay/transport.h"

namespace cascade::relay {

class DecryptingTransport : public Transport {
 public:
  // `next` and `decryptor` must outlive this.
  DecryptingTransport(Transport* next, StreamDecryptor* decryptor);

  // The plain endpoints are the static push children of `options`.
  void Apply(const RelayOptions& options);

  void Send(const media::Endpoint& to, const PacketRef& packet) override;
  void SendToAll(const std::shared_ptr<const FanoutList>& to,
                 const PacketRef& packet) override;

 private:
  // A fan-out list split in two, made once per list the core hands over.
  struct Split {
    std::shared_ptr<const FanoutList> whole;
    std::shared_ptr<const FanoutList> as_is;
    std::shared_ptr<const FanoutList> plain;
  };
  const Split& SplitOf(const std::shared_ptr<const FanoutList>& list);

  Transport* const next_;
  StreamDecryptor* const decryptor_;
  absl::flat_hash_set<media::Endpoint> plain_;
  // The core's current lists (video, and audio when apart) and a few it
  // dropped lately; newest last.
  std::vector<Split> splits_;
};

}  // namespace cascade::relay

#endif  // CASCADE_RELAY_DECRYPTING_TRANSPORT_H_
