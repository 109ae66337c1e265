// An edge relay's decryption of the program stream for its plain endpoints
// (ffplay, hardware decoders), which cannot play SRTP. topologyd gives the
// downstream streams' keys to edge relays only (Assignment.stream_keys);
// this holds one media/srtp SrtpReceiver per SSRC with keys and turns each
// SRTP packet into the plain RTP packet, once: the last result is kept, so
// every plain endpoint (and the browser edge) shares one copy.
//
// The rule that tells plain from encrypted input is the configuration, never
// the packet: a stream with keys is encrypted, and only packets that
// authenticate under one of its keys reach a plain endpoint; every other
// packet of it is dropped and counted by reason. A stream without keys (sent
// in clear, or no key handed out yet) goes as it comes, as it does to every
// other child. So no one can get unauthenticated media of an encrypted
// stream to an endpoint, whatever they send. RTCP is never encrypted and
// passes as it is.
//
// Loop thread only.
#ifndef CASCADE_RELAY_STREAM_DECRYPTOR_H_
#define CASCADE_RELAY_STREAM_DECRYPTOR_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "media/srtp/srtp.h"
#include "relay/packet_pool.h"
#include "relay/relay_options.h"

namespace cascade::relay {

class StreamDecryptor {
 public:
  // Decrypted packets take slots of `pool`, which must outlive this.
  explicit StreamDecryptor(PacketPool* pool);
  ~StreamDecryptor();
  StreamDecryptor(const StreamDecryptor&) = delete;
  StreamDecryptor& operator=(const StreamDecryptor&) = delete;

  // Takes the keys of `streams`: a receiver for each SSRC that has keys, a
  // changed key set handed to its receiver (a rotation; the packet index
  // runs on), streams without keys forgotten.
  void Apply(const std::vector<StreamOptions>& streams);
  // Some stream has keys: without, every packet goes as it is.
  bool active() const { return !streams_.empty(); }
  // What a plain endpoint gets for `packet`: `packet` itself when it is not
  // RTP of a stream with keys, else the decrypted copy, or an empty ref
  // (dropped, counted by reason).
  PacketRef Decrypt(const PacketRef& packet);

  uint64_t decrypted() const { return decrypted_; }
  // Packets of encrypted streams dropped for `reason` (media/srtp's error
  // names, "no_receiver" when libsrtp refused the keys, "pool_exhausted").
  uint64_t failures(absl::string_view reason) const;
  void RenderMetrics(std::string* out) const;

 private:
  struct Stream {
    std::vector<StreamKeyOptions> keys;
    // Null when libsrtp refused the keys: the stream's packets are dropped.
    std::unique_ptr<srtp::SrtpReceiver> receiver;
  };
  PacketRef Fail(absl::string_view reason);

  PacketPool* const pool_;
  absl::flat_hash_map<uint32_t, Stream> streams_;
  // The last packet decrypted and its result: one decryption per packet,
  // however many send it.
  PacketRef last_in_;
  PacketRef last_out_;
  uint64_t decrypted_ = 0;
  // Sorted: the metrics read in a stable order. Keys are static strings.
  std::map<absl::string_view, uint64_t> failures_;
};

}  // namespace cascade::relay

#endif  // CASCADE_RELAY_STREAM_DECRYPTOR_H_
