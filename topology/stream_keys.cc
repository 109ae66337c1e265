#include "topology/stream_keys.h"

#include <openssl/rand.h>

#include <algorithm>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "topology/certificate_revocation.h"

namespace cascade::topology {
namespace {

using cascade::v1::ControllerState;
using cascade::v1::StreamKey;

bool IsDownstream(const cascade::v1::Stream& stream) {
  return stream.direction() == cascade::v1::DIRECTION_DOWNSTREAM;
}

bool IsUpstream(const cascade::v1::Stream& stream) {
  return stream.direction() == cascade::v1::DIRECTION_UPSTREAM;
}

// Streams of either direction get keys (an invalid direction none).
bool IsKeyed(const cascade::v1::Stream& stream) {
  return IsDownstream(stream) || IsUpstream(stream);
}

// The stream's newest key (keys are kept newest first); null if none.
const StreamKey* NewestKey(const ControllerState& state,
                           const std::string& stream) {
  for (const StreamKey& key : state.stream_keys()) {
    if (key.stream() == stream) return &key;
  }
  return nullptr;
}

std::string FormatUnixMs(int64_t unix_ms) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::FromUnixMillis(unix_ms),
                          absl::UTCTimeZone());
}

}  // namespace

absl::Status ResolveStreamKeyRotation(
    const ControllerState& state, absl::Time now, absl::Duration overlap,
    cascade::v1::RotateStreamKeyRequest* rotate) {
  rotate->clear_keys();
  rotate->set_unix_ms(absl::ToUnixMillis(now));
  for (const cascade::v1::Stream& stream : state.topology().streams()) {
    // Unnamed: every downstream stream; named: that one, either direction.
    if (rotate->stream().empty()
            ? !IsDownstream(stream)
            : stream.id() != rotate->stream() || !IsKeyed(stream)) {
      continue;
    }
    const StreamKey* newest = NewestKey(state, stream.id());
    StreamKey* key = rotate->add_keys();
    key->set_stream(stream.id());
    key->set_id(newest == nullptr ? 1 : newest->id() + 1);
    std::string material(kStreamKeyMaterialSize, '\0');
    if (RAND_bytes(reinterpret_cast<unsigned char*>(material.data()),
                   static_cast<int>(material.size())) != 1) {
      return absl::FailedPreconditionError(
          "no randomness for a stream key (OpenSSL's RAND_bytes failed)");
    }
    key->set_material(std::move(material));
    key->set_created_unix_ms(rotate->unix_ms());
    key->set_send_from_unix_ms(newest == nullptr
                                   ? rotate->unix_ms()
                                   : absl::ToUnixMillis(now + overlap));
  }
  if (rotate->keys().empty()) {
    return rotate->stream().empty()
               ? absl::FailedPreconditionError(
                     "the topology has no downstream stream to key")
               : absl::NotFoundError(
                     absl::StrCat("no stream \"", rotate->stream(), "\""));
  }
  return absl::OkStatus();
}

absl::Status ApplyStreamKeyRotation(
    const cascade::v1::RotateStreamKeyRequest& rotate, ControllerState* state) {
  if (rotate.keys().empty()) {
    return absl::InvalidArgumentError("a stream key rotation without a key");
  }
  absl::flat_hash_set<std::string> rotated;
  for (const StreamKey& key : rotate.keys()) {
    if (key.material().size() != kStreamKeyMaterialSize) {
      return absl::InvalidArgumentError(
          absl::StrCat("a stream key is ", kStreamKeyMaterialSize,
                       " bytes, not ", key.material().size()));
    }
    if (!rotated.insert(key.stream()).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("stream \"", key.stream(), "\" keyed twice"));
    }
    const StreamKey* newest = NewestKey(*state, key.stream());
    if (newest != nullptr && newest->send_from_unix_ms() > rotate.unix_ms()) {
      return absl::FailedPreconditionError(
          absl::StrCat("stream \"", key.stream(), "\" has a key (id ",
                       newest->id(), ") that is handed out before use until ",
                       FormatUnixMs(newest->send_from_unix_ms()),
                       ": rotate again after that"));
    }
    if (newest != nullptr && key.id() <= newest->id()) {
      return absl::InvalidArgumentError(
          absl::StrCat("stream \"", key.stream(), "\"'s new key id ", key.id(),
                       " is not above its newest, ", newest->id()));
    }
  }
  // The new keys first, then the older ones, of which each stream keeps
  // those not in use yet, the one in use and the one before it.
  google::protobuf::RepeatedPtrField<StreamKey> kept(rotate.keys().begin(),
                                                     rotate.keys().end());
  absl::flat_hash_map<std::string, int> in_use_kept;
  for (StreamKey& key : *state->mutable_stream_keys()) {
    if (key.send_from_unix_ms() <= rotate.unix_ms() &&
        ++in_use_kept[key.stream()] > 2) {
      continue;
    }
    *kept.Add() = std::move(key);
  }
  state->mutable_stream_keys()->Swap(&kept);
  return absl::OkStatus();
}

void DropOrphanStreamKeys(ControllerState* state) {
  absl::flat_hash_set<std::string> streams;
  for (const cascade::v1::Stream& stream : state->topology().streams()) {
    if (IsKeyed(stream)) streams.insert(stream.id());
  }
  auto* keys = state->mutable_stream_keys();
  keys->erase(std::remove_if(keys->begin(), keys->end(),
                             [&](const StreamKey& key) {
                               return !streams.contains(key.stream());
                             }),
              keys->end());
}

std::vector<std::string> StreamsDueForKey(const ControllerState& state,
                                          absl::Time now,
                                          absl::Duration every) {
  std::vector<std::string> due;
  const int64_t now_ms = absl::ToUnixMillis(now);
  // A revoked node may hold every key made before its revocation.
  const absl::Time revoked = LastNodeRevocation(state);
  for (const cascade::v1::Stream& stream : state.topology().streams()) {
    if (!IsKeyed(stream)) continue;
    const StreamKey* newest = NewestKey(state, stream.id());
    if (newest == nullptr) {
      due.push_back(stream.id());
      continue;
    }
    const absl::Time made = absl::FromUnixMillis(newest->created_unix_ms());
    if (newest->send_from_unix_ms() <= now_ms &&
        (made + every <= now || made < revoked)) {
      due.push_back(stream.id());
    }
  }
  return due;
}

absl::flat_hash_set<std::string> DecryptingRelays(
    const cascade::v1::Topology& topology) {
  absl::flat_hash_set<std::string> relays;
  for (const cascade::v1::Node& node : topology.nodes()) {
    if (!node.edge_address().empty() && !node.plain_endpoint() &&
        node.tier() != cascade::v1::TIER_SITE) {
      relays.insert(node.id());
    }
    if (!node.plain_endpoint()) continue;
    if (!node.parent().empty()) relays.insert(node.parent());
    for (const std::string& standby : node.standby_parents()) {
      relays.insert(standby);
    }
  }
  return relays;
}

std::vector<StreamKey> DecryptingRelayKeys(const ControllerState& state) {
  absl::flat_hash_set<absl::string_view> downstream;
  for (const cascade::v1::Stream& stream : state.topology().streams()) {
    if (IsDownstream(stream)) downstream.insert(stream.id());
  }
  std::vector<StreamKey> keys;
  for (const StreamKey& key : state.stream_keys()) {
    if (downstream.contains(key.stream())) keys.push_back(key);
  }
  return keys;
}

bool RotatesDownstreamKey(const ControllerState& state,
                          const cascade::v1::RotateStreamKeyRequest& rotate) {
  for (const cascade::v1::Stream& stream : state.topology().streams()) {
    if (!IsDownstream(stream)) continue;
    for (const StreamKey& key : rotate.keys()) {
      if (key.stream() == stream.id()) return true;
    }
  }
  return false;
}

absl::StatusOr<cascade::v1::GetStreamKeysResponse> StreamKeysFor(
    const ControllerState& state, absl::Span<const std::string> nodes) {
  if (nodes.empty()) {
    return absl::InvalidArgumentError("name the nodes to get stream keys for");
  }
  // One pass over the topology, looking up only the nodes asked for.
  const absl::flat_hash_set<absl::string_view> wanted(nodes.begin(),
                                                      nodes.end());
  absl::flat_hash_map<absl::string_view, const cascade::v1::Node*> by_id;
  for (const cascade::v1::Node& node : state.topology().nodes()) {
    if (wanted.contains(node.id())) by_id[node.id()] = &node;
  }
  // The streams some node of `nodes` may hold the keys of.
  absl::flat_hash_set<std::string> streams;
  for (const std::string& id : nodes) {
    auto it = by_id.find(id);
    if (it == by_id.end()) {
      return absl::NotFoundError(absl::StrCat("no node \"", id, "\""));
    }
    const cascade::v1::Node& node = *it->second;
    // A plain endpoint site cannot decrypt or encrypt: its relay would have
    // to.
    const bool site =
        node.tier() == cascade::v1::TIER_SITE && !node.plain_endpoint();
    if (!site && !node.plain_endpoint()) {
      return absl::PermissionDeniedError(absl::StrCat(
          "node \"", id,
          "\" is a relay: it forwards the ciphertext and may hold no stream "
          "key (a stream's source is the command center, a plain endpoint)"));
    }
    // The top of the tree (a downstream stream's source) receives every
    // upstream stream.
    bool top = false;
    for (const cascade::v1::Stream& stream : state.topology().streams()) {
      if (IsDownstream(stream) && stream.source_node() == id &&
          node.tier() != cascade::v1::TIER_SITE) {
        top = true;
      }
    }
    bool entitled = false;
    for (const cascade::v1::Stream& stream : state.topology().streams()) {
      const bool holds =
          IsDownstream(stream)
              ? site || stream.source_node() == id
              : IsUpstream(stream) &&
                    (top || (site && stream.source_node() == id));
      if (holds) {
        streams.insert(stream.id());
        entitled = true;
      }
    }
    if (!entitled) {
      return absl::PermissionDeniedError(absl::StrCat(
          "node \"", id,
          "\" may hold no stream key: only the sites and a stream's source "
          "do"));
    }
  }
  cascade::v1::GetStreamKeysResponse response;
  for (const cascade::v1::Stream& stream : state.topology().streams()) {
    if (streams.contains(stream.id())) *response.add_streams() = stream;
  }
  for (const StreamKey& key : state.stream_keys()) {
    if (streams.contains(key.stream())) *response.add_keys() = key;
  }
  return response;
}

}  // namespace cascade::topology
