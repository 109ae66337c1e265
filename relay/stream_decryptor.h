// An edge relay's decryption of the program stream for its plain endpoints
// (ffplay, hardware decoders), which cannot play SRTP. topologyd gives the
// downstream streams' keys to edge relays only (Assignment.stream_keys);
// this holds one media/srtp SrtpReceiver per SSRC with keys and turns each
// SRTP packet into the plain RTP packet, once: the last result is kept, so
// every plain endpoint (and the browser edge) shares one copy.
//
// The rule that tells plain from encrypted input: a stream is encrypted
// when it has keys and one of its packets has authenticated under them
// (decrypted). From then on, for as long as the stream has keys, only
// packets that authenticate reach a plain endpoint; every other packet of it
// (plain RTP, forged, altered, an unknown key id, a replay) is dropped and
// counted by reason. Until then the stream is taken for one sent in clear
// (topologyd makes keys for every down stream, and a source without
// --controller sends in clear) and goes as it comes, as it does to every
// other child, counted apart. So once the source encrypts, nothing
// unauthenticated of the stream reaches an endpoint, whatever anyone sends;
// what could pass before is what a stream in clear exposes anyway
// (docs/relayd.md, "Decrypting at the edge"). A stream without keys goes as
// it comes; RTCP is never encrypted and passes as it is.
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
  // What a plain endpoint gets for `packet`: the decrypted copy, `packet`
  // itself when it is not RTP of an encrypted stream (the rule above), or
  // an empty ref (dropped, counted by reason).
  PacketRef Decrypt(const PacketRef& packet);
  // Decrypt for a packet sent again (a NACK answered from the
  // retransmission ring, a joining viewer's cached keyframe), which
  // Decrypt's receiver took already and would refuse as a replay: a
  // receiver of its own decrypts it, authenticated all the same.
  PacketRef Recall(const PacketRef& packet);

  uint64_t decrypted() const { return decrypted_; }
  uint64_t recalled() const { return recalled_; }
  // Packets of streams with keys passed as they came (not encrypted yet).
  uint64_t clear() const { return clear_; }
  // Packets of encrypted streams dropped for `reason` (media/srtp's error
  // names, "no_receiver" when libsrtp refused the keys, "pool_exhausted").
  uint64_t failures(absl::string_view reason) const;
  void RenderMetrics(std::string* out) const;

 private:
  struct Stream {
    uint32_t ssrc = 0;
    std::vector<StreamKeyOptions> keys;
    // Null when libsrtp refused the keys: the stream's packets are dropped.
    std::unique_ptr<srtp::SrtpReceiver> receiver;
    // Recall's; made when first needed, again when it refuses a packet as
    // seen or too old.
    std::unique_ptr<srtp::SrtpReceiver> recall;
    // A packet authenticated: only those pass from now on.
    bool encrypted = false;
  };
  // The stream with keys that `packet` is RTP of, or null: not RTP, no
  // keys, or (*malformed) RTP whose header does not parse.
  Stream* EncryptedStreamOf(const PacketRef& packet, bool* malformed);
  PacketRef Fail(absl::string_view reason);
  // A packet of `stream` that did not authenticate: dropped once the stream
  // is encrypted, else passed as it is (a stream in clear).
  PacketRef Unauthenticated(const Stream& stream, const PacketRef& packet,
                            srtp::SrtpError error);

  PacketPool* const pool_;
  absl::flat_hash_map<uint32_t, Stream> streams_;
  // The last packet decrypted and its result: one decryption per packet,
  // however many send it.
  PacketRef last_in_;
  PacketRef last_out_;
  uint64_t decrypted_ = 0;
  uint64_t recalled_ = 0;
  uint64_t clear_ = 0;
  // Sorted: the metrics read in a stable order. Keys are static strings.
  std::map<absl::string_view, uint64_t> failures_;
};

}  // namespace cascade::relay

#endif  // CASCADE_RELAY_STREAM_DECRYPTOR_H_
