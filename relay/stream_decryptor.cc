#include "relay/stream_decryptor.h"

#include <glog/logging.h>

#include <algorithm>
#include <utility>

#include "base/prometheus_text.h"
#include "media/rtp/demux.h"
#include "media/rtp/rtp.h"

namespace cascade::relay {
namespace {

// topologyd's key id as the MKI every packet carries: 4 bytes big-endian.
std::vector<srtp::StreamKey> SrtpKeys(
    const std::vector<StreamKeyOptions>& keys) {
  std::vector<srtp::StreamKey> out;
  for (const StreamKeyOptions& k : keys) {
    srtp::StreamKey key;
    key.id = {static_cast<uint8_t>(k.id >> 24),
              static_cast<uint8_t>(k.id >> 16), static_cast<uint8_t>(k.id >> 8),
              static_cast<uint8_t>(k.id)};
    // The config allows 28 bytes only; anything shorter would leave zeros,
    // under which no packet authenticates.
    std::copy_n(k.material.begin(),
                std::min(k.material.size(), key.material.size()),
                key.material.begin());
    out.push_back(std::move(key));
  }
  return out;
}

}  // namespace

StreamDecryptor::StreamDecryptor(PacketPool* pool) : pool_(pool) {}

StreamDecryptor::~StreamDecryptor() = default;

void StreamDecryptor::Apply(const std::vector<StreamOptions>& streams) {
  // A result made under keys that changed is not reused.
  last_in_ = PacketRef();
  last_out_ = PacketRef();
  absl::flat_hash_map<uint32_t, Stream> kept;
  for (const StreamOptions& options : streams) {
    if (options.keys.empty()) continue;
    auto it = streams_.find(options.ssrc);
    Stream stream;
    if (it != streams_.end()) stream = std::move(it->second);
    stream.ssrc = options.ssrc;
    if (stream.receiver != nullptr && stream.keys == options.keys) {
      kept[options.ssrc] = std::move(stream);
      continue;
    }
    const std::vector<srtp::StreamKey> keys = SrtpKeys(options.keys);
    absl::Status status;
    if (stream.receiver != nullptr) {
      status = stream.receiver->SetKeys(keys);
    } else {
      absl::StatusOr<std::unique_ptr<srtp::SrtpReceiver>> receiver =
          srtp::SrtpReceiver::Create(options.ssrc, keys);
      if (receiver.ok()) stream.receiver = *std::move(receiver);
      status = receiver.status();
    }
    if (status.ok()) {
      stream.keys = options.keys;
      stream.recall.reset();  // made again, under these keys, when needed
      LOG(INFO) << "stream " << options.ssrc << ": decrypting for plain "
                << "endpoints and browsers with " << keys.size()
                << " keys, newest id " << options.keys.front().id;
    } else {
      // Never taken for a stream in clear: without a receiver its packets
      // are dropped.
      LOG(ERROR) << "stream " << options.ssrc << ": keys refused (" << status
                 << "); "
                 << (stream.receiver != nullptr
                         ? "decrypting with the ones held before"
                         : "its packets go to no plain endpoint");
    }
    kept[options.ssrc] = std::move(stream);
  }
  streams_ = std::move(kept);
}

PacketRef StreamDecryptor::Fail(absl::string_view reason) {
  ++failures_[reason];
  return PacketRef();
}

PacketRef StreamDecryptor::Unauthenticated(const Stream& stream,
                                           const PacketRef& packet,
                                           srtp::SrtpError error) {
  if (stream.encrypted) return Fail(srtp::ErrorName(error));
  ++clear_;
  return packet;
}

StreamDecryptor::Stream* StreamDecryptor::EncryptedStreamOf(
    const PacketRef& packet, bool* malformed) {
  *malformed = false;
  if (streams_.empty() || !packet ||
      rtp::Classify(packet.bytes()) != rtp::PacketKind::kRtp) {
    return nullptr;
  }
  rtp::RtpView view;
  if (rtp::ParseRtp(packet.bytes(), &view) != rtp::RtpError::kOk) {
    // Its SSRC is unknown, so it may be of an encrypted stream.
    *malformed = true;
    return nullptr;
  }
  auto it = streams_.find(view.ssrc);
  return it == streams_.end() ? nullptr : &it->second;
}

PacketRef StreamDecryptor::Decrypt(const PacketRef& packet) {
  if (last_in_ && last_in_.data() == packet.data()) return last_out_;
  bool malformed = false;
  Stream* stream = EncryptedStreamOf(packet, &malformed);
  if (malformed) return Fail(srtp::ErrorName(srtp::SrtpError::kMalformed));
  if (stream == nullptr) return packet;
  PacketRef out;
  if (stream->receiver == nullptr) {
    out = Fail("no_receiver");
  } else if (PacketRef plain = pool_->Acquire(); !plain) {
    out = Fail("pool_exhausted");
  } else {
    size_t size = 0;
    const srtp::SrtpError error =
        stream->receiver->Unprotect(packet.bytes(), plain.buffer(), &size);
    if (error == srtp::SrtpError::kOk) {
      plain.set_size(size);
      ++decrypted_;
      stream->encrypted = true;
      out = std::move(plain);
    } else {
      out = Unauthenticated(*stream, packet, error);
    }
  }
  last_in_ = packet;
  last_out_ = out;
  return out;
}

PacketRef StreamDecryptor::Recall(const PacketRef& packet) {
  bool malformed = false;
  Stream* stream = EncryptedStreamOf(packet, &malformed);
  if (malformed) return Fail(srtp::ErrorName(srtp::SrtpError::kMalformed));
  if (stream == nullptr) return packet;
  if (stream->receiver == nullptr) return Fail("no_receiver");
  PacketRef plain = pool_->Acquire();
  if (!plain) return Fail("pool_exhausted");
  srtp::SrtpError error = srtp::SrtpError::kFailed;
  // A packet it took before, or one far behind the last: a fresh receiver
  // takes it (the packet carries its rollover counter). Twice at most.
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (stream->recall == nullptr) {
      absl::StatusOr<std::unique_ptr<srtp::SrtpReceiver>> receiver =
          srtp::SrtpReceiver::Create(stream->ssrc, SrtpKeys(stream->keys));
      if (!receiver.ok()) return Fail("no_receiver");
      stream->recall = *std::move(receiver);
    }
    size_t size = 0;
    error = stream->recall->Unprotect(packet.bytes(), plain.buffer(), &size);
    if (error == srtp::SrtpError::kOk) {
      plain.set_size(size);
      ++recalled_;
      return plain;
    }
    if (error != srtp::SrtpError::kReplayed &&
        error != srtp::SrtpError::kTooOld) {
      break;
    }
    stream->recall.reset();
  }
  return Unauthenticated(*stream, packet, error);
}

uint64_t StreamDecryptor::failures(absl::string_view reason) const {
  auto it = failures_.find(reason);
  return it == failures_.end() ? 0 : it->second;
}

void StreamDecryptor::RenderMetrics(std::string* out) const {
  AppendGauge(out, "relay_decrypting_streams",
              "SSRCs this edge relay holds stream keys for (it decrypts "
              "them for its plain endpoints).",
              streams_.size());
  AppendCounter(out, "relay_decrypted_packets_total",
                "SRTP packets decrypted for plain endpoints (once each, "
                "however many endpoints get it).",
                decrypted_);
  AppendCounter(out, "relay_decrypt_clear_packets_total",
                "Packets of a stream with keys passed as they came: none of "
                "the stream had authenticated yet (a source sending in "
                "clear).",
                clear_);
  AppendCounter(out, "relay_decrypted_resent_packets_total",
                "SRTP packets decrypted again: a NACK's answer from the "
                "retransmission ring, a joining browser's cached keyframe.",
                recalled_);
  AppendFamily(out, "relay_decrypt_failures_total", "counter",
               "Packets of encrypted streams that did not decrypt, by "
               "reason: dropped, never sent to a plain endpoint as they "
               "came.");
  for (const auto& [reason, n] : failures_) {
    AppendSample(out, "relay_decrypt_failures_total", {{"reason", reason}}, n);
  }
}

}  // namespace cascade::relay
