#include "relay/config.h"

#include <fstream>
#include <sstream>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "child/silence_timeout.h"
#include "control/node_id.h"
#include "google/protobuf/io/tokenizer.h"
#include "google/protobuf/text_format.h"

namespace cascade::relay {
namespace {

using cascade::v1::RelayConfig;
using cascade::v1::RelayStream;

// HMAC keys shorter than this are too easy to guess.
constexpr size_t kMinKeyBytes = 16;
// An SRTP stream key: AES-128 key and 12-byte salt (AEAD_AES_128_GCM).
constexpr size_t kStreamKeyBytes = 28;
// libsrtp holds at most this many keys per stream.
constexpr int kMaxStreamKeys = 16;

class FirstError : public google::protobuf::io::ErrorCollector {
 public:
  void AddError(int line, int column, const std::string& message) override {
    if (error.empty()) {
      error = absl::StrCat("line ", line + 1, ", column ", column + 1, ": ",
                           message);
    }
  }
  std::string error;
};

absl::Status FieldError(absl::string_view field, absl::string_view message) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", message));
}

absl::StatusOr<std::string> DecodeKey(absl::string_view field,
                                      absl::string_view hex) {
  if (hex.size() % 2 != 0) return FieldError(field, "odd number of hex digits");
  for (char c : hex) {
    if (!absl::ascii_isxdigit(static_cast<unsigned char>(c))) {
      return FieldError(field, "not hexadecimal");
    }
  }
  std::string key = absl::HexStringToBytes(hex);
  if (key.size() < kMinKeyBytes) {
    return FieldError(
        field, absl::StrCat("key shorter than ", kMinKeyBytes, " bytes"));
  }
  return key;
}

absl::StatusOr<media::Endpoint> ParseAddress(absl::string_view field,
                                             absl::string_view text) {
  absl::StatusOr<media::Endpoint> e = media::Endpoint::Parse(text);
  if (!e.ok()) return FieldError(field, e.status().message());
  return e;
}

absl::Status CheckId(absl::string_view field, absl::string_view id) {
  if (absl::Status valid = control::ValidateNodeId(id); !valid.ok()) {
    return FieldError(field, valid.message());
  }
  return absl::OkStatus();
}

// A zero proto value means "the default".
absl::Duration Millis(uint32_t ms, absl::Duration fallback) {
  return ms == 0 ? fallback : absl::Milliseconds(ms);
}

// A stream's SRTP keys: ids distinct and not 0, each 28 bytes.
absl::StatusOr<std::vector<StreamKeyOptions>> StreamKeys(
    absl::string_view field, const RelayStream& s) {
  if (s.keys_size() > kMaxStreamKeys) {
    return FieldError(field, absl::StrCat("more than ", kMaxStreamKeys));
  }
  std::vector<StreamKeyOptions> keys;
  absl::flat_hash_set<uint32_t> ids;
  for (int k = 0; k < s.keys_size(); ++k) {
    const std::string key_field = absl::StrCat(field, "[", k, "]");
    const cascade::v1::RelayStreamKey& key = s.keys(k);
    if (key.id() == 0) return FieldError(key_field + ".id", "must not be 0");
    if (!ids.insert(key.id()).second) {
      return FieldError(key_field + ".id",
                        absl::StrCat(key.id(), " listed twice"));
    }
    absl::StatusOr<std::string> material =
        DecodeKey(key_field + ".material_hex", key.material_hex());
    if (!material.ok()) return material.status();
    if (material->size() != kStreamKeyBytes) {
      return FieldError(
          key_field + ".material_hex",
          absl::StrCat("must be ", kStreamKeyBytes, " bytes (key and salt)"));
    }
    keys.push_back({key.id(), *std::move(material)});
  }
  return keys;
}

}  // namespace

absl::StatusOr<RelayConfig> ParseConfigText(absl::string_view text) {
  RelayConfig config;
  google::protobuf::TextFormat::Parser parser;
  FirstError errors;
  parser.RecordErrorsTo(&errors);
  if (!parser.ParseFromString(std::string(text), &config)) {
    return absl::InvalidArgumentError(errors.error);
  }
  return config;
}

absl::StatusOr<RelayConfig> ReadConfigFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot read"));
  std::stringstream text;
  text << in.rdbuf();
  absl::StatusOr<RelayConfig> config = ParseConfigText(text.str());
  if (!config.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": ", config.status().message()));
  }
  return config;
}

absl::StatusOr<RelayOptions> ToOptions(const RelayConfig& config) {
  RelayOptions o;
  if (absl::Status s = CheckId("node_id", config.node_id()); !s.ok()) return s;
  o.node_id = config.node_id();
  if (config.listen().empty()) return FieldError("listen", "empty");
  absl::StatusOr<media::Endpoint> listen =
      ParseAddress("listen", config.listen());
  if (!listen.ok()) return listen.status();
  o.listen = *listen;

  for (int i = 0; i < config.parents_size(); ++i) {
    const auto& p = config.parents(i);
    const std::string field = absl::StrCat("parents[", i, "]");
    ParentOptions parent;
    if (absl::Status s = CheckId(field + ".id", p.id()); !s.ok()) return s;
    parent.id = p.id();
    absl::StatusOr<media::Endpoint> address =
        ParseAddress(field + ".address", p.address());
    if (!address.ok()) return address.status();
    parent.address = *address;
    if (!p.key_hex().empty()) {
      absl::StatusOr<std::string> key =
          DecodeKey(field + ".key_hex", p.key_hex());
      if (!key.ok()) return key.status();
      parent.key = *key;
    }
    o.parents.push_back(std::move(parent));
  }

  absl::flat_hash_set<std::string> child_ids;
  for (int i = 0; i < config.children_size(); ++i) {
    const auto& c = config.children(i);
    const std::string field = absl::StrCat("children[", i, "]");
    ChildOptions child;
    if (absl::Status s = CheckId(field + ".id", c.id()); !s.ok()) return s;
    if (!child_ids.insert(c.id()).second) {
      return FieldError(field + ".id",
                        absl::StrCat("\"", c.id(), "\" listed twice"));
    }
    child.id = c.id();
    child.static_push = c.static_push();
    child.standby = c.standby();
    if (!c.address().empty()) {
      absl::StatusOr<media::Endpoint> address =
          ParseAddress(field + ".address", c.address());
      if (!address.ok()) return address.status();
      if (address->port == 0) {
        return FieldError(field + ".address", "port 0");
      }
      child.address = *address;
    } else if (c.static_push()) {
      return FieldError(field + ".address", "required for a static_push child");
    }
    if (!c.audio_address().empty()) {
      if (!c.static_push()) {
        return FieldError(field + ".audio_address",
                          "only for a static_push child");
      }
      absl::StatusOr<media::Endpoint> audio =
          ParseAddress(field + ".audio_address", c.audio_address());
      if (!audio.ok()) return audio.status();
      if (audio->port == 0) {
        return FieldError(field + ".audio_address", "port 0");
      }
      child.audio_address = *audio;
    }
    if (!c.key_hex().empty()) {
      absl::StatusOr<std::string> key =
          DecodeKey(field + ".key_hex", c.key_hex());
      if (!key.ok()) return key.status();
      child.key = *key;
    } else if (!c.static_push()) {
      return FieldError(field + ".key_hex",
                        "required unless static_push is set");
    }
    if (!c.previous_key_hex().empty()) {
      if (c.key_hex().empty()) {
        return FieldError(field + ".previous_key_hex", "needs key_hex");
      }
      absl::StatusOr<std::string> key =
          DecodeKey(field + ".previous_key_hex", c.previous_key_hex());
      if (!key.ok()) return key.status();
      child.previous_key = *key;
    }
    o.children.push_back(std::move(child));
  }

  absl::flat_hash_set<uint32_t> ssrcs;
  for (int i = 0; i < config.streams_size(); ++i) {
    const RelayStream& s = config.streams(i);
    const std::string field = absl::StrCat("streams[", i, "]");
    if (s.ssrc() == 0) return FieldError(field + ".ssrc", "must not be 0");
    if (!ssrcs.insert(s.ssrc()).second) {
      return FieldError(field + ".ssrc",
                        absl::StrCat(s.ssrc(), " listed twice"));
    }
    StreamOptions stream;
    stream.ssrc = s.ssrc();
    switch (s.direction()) {
      case RelayStream::DOWN:
        stream.direction = Direction::kDown;
        break;
      case RelayStream::UP:
        stream.direction = Direction::kUp;
        break;
      default:
        return FieldError(field + ".direction", "must be DOWN or UP");
    }
    stream.selected = s.selected();
    stream.h264 = s.h264();
    stream.audio = s.audio();
    stream.stream_id = s.stream_id();
    if (s.payload_type() > 127) {
      return FieldError(field + ".payload_type", "must be 0..127");
    }
    stream.payload_type = static_cast<uint8_t>(s.payload_type());
    stream.publishable = s.publishable();
    stream.watchable = stream.direction == Direction::kDown || s.watched_here();
    if (stream.publishable && stream.stream_id.empty()) {
      return FieldError(field + ".publishable", "needs a stream_id");
    }
    absl::StatusOr<std::vector<StreamKeyOptions>> keys =
        StreamKeys(field + ".keys", s);
    if (!keys.ok()) return keys.status();
    if (!keys->empty() && stream.direction != Direction::kDown) {
      return FieldError(field + ".keys", "only a DOWN stream is decrypted");
    }
    stream.keys = *std::move(keys);
    o.streams.push_back(std::move(stream));
  }

  o.edge_token_keys.assign(config.edge_token_keys().begin(),
                           config.edge_token_keys().end());

  const auto& t = config.timings();
  o.ring.window = Millis(t.retransmit_window_ms(), o.ring.window);
  if (t.retransmit_max_packets() != 0) {
    if (t.retransmit_max_packets() > (1u << 20)) {
      return FieldError("timings.retransmit_max_packets", "above 1048576");
    }
    o.ring.max_packets = t.retransmit_max_packets();
  }
  if (t.retransmit_max_bytes() != 0)
    o.ring.max_bytes = t.retransmit_max_bytes();
  if (t.keyframe_cache_max_packets() != 0) {
    if (t.keyframe_cache_max_packets() > 65536) {
      return FieldError("timings.keyframe_cache_max_packets", "above 65536");
    }
    o.keyframe_cache_max_packets = t.keyframe_cache_max_packets();
  }
  o.nack.reorder_wait = Millis(t.nack_reorder_wait_ms(), o.nack.reorder_wait);
  o.nack.retry_interval = Millis(t.nack_retry_ms(), o.nack.retry_interval);
  if (t.nack_max_retries() != 0) {
    if (t.nack_max_retries() > 100) {
      return FieldError("timings.nack_max_retries", "above 100");
    }
    o.nack.max_requests = static_cast<int>(t.nack_max_retries());
  }
  o.keyframe_request_interval =
      Millis(t.keyframe_request_interval_ms(), o.keyframe_request_interval);
  o.child_timeout = Millis(t.child_timeout_ms(), o.child_timeout);
  o.parent_keepalive = Millis(t.parent_keepalive_ms(), o.parent_keepalive);
  // Three missed keepalives: a tree's relays renew as often as each other.
  o.child_silence = 3 * o.parent_keepalive;
  if (t.retransmit_rate_per_child() != 0) {
    o.retransmit_rate_per_child = t.retransmit_rate_per_child();
  }
  o.activation_window = Millis(t.activation_window_ms(), o.activation_window);
  o.parent_timeout = Millis(t.parent_timeout_ms(), o.parent_timeout);
  o.parent_timeout_max = Millis(t.parent_timeout_max_ms(),
                                child::DefaultSilenceCeiling(o.parent_timeout));
  if (o.parent_timeout_max < o.parent_timeout) {
    return FieldError("timings.parent_timeout_max_ms",
                      "below the parent timeout");
  }
  // Children fail over after a parent timeout of their own, taken to be
  // ours: while no media flows, an SR each third of it keeps them.
  o.child_report = Millis(t.child_report_ms(), t.parent_timeout_ms() != 0
                                                   ? o.parent_timeout / 3
                                                   : o.child_report);
  o.parent_hold_down = Millis(t.parent_hold_down_ms(), o.parent_hold_down);
  o.removed_child_grace =
      Millis(t.removed_child_grace_ms(), o.removed_child_grace);
  if (t.retransmit_burst_per_child() != 0) {
    o.retransmit_burst_per_child = t.retransmit_burst_per_child();
  }
  return o;
}

}  // namespace cascade::relay
