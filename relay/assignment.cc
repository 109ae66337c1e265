#include "relay/assignment.h"

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "relay/config.h"

namespace cascade::relay {
namespace {

using cascade::v1::Assignment;
using cascade::v1::Peer;
using cascade::v1::RelayConfig;
using cascade::v1::RelayStream;

absl::Status FieldError(absl::string_view field, absl::string_view message) {
  return absl::InvalidArgumentError(
      absl::StrCat("assignment ", field, ": ", message));
}

}  // namespace

absl::StatusOr<RelayConfig> AssignmentToConfig(const Assignment& assignment,
                                               const RelayConfig& local) {
  if (assignment.node_id() != local.node_id()) {
    return FieldError("node_id", absl::StrCat("\"", assignment.node_id(),
                                              "\" is not this node (\"",
                                              local.node_id(), "\")"));
  }
  RelayConfig config;
  config.set_node_id(local.node_id());
  config.set_listen(local.listen());
  *config.mutable_timings() = local.timings();
  *config.mutable_edge_token_keys() = assignment.edge_token_keys();

  if (assignment.parents().empty()) {
    *config.mutable_parents() = local.parents();
  }
  for (int i = 0; i < assignment.parents_size(); ++i) {
    const Peer& p = assignment.parents(i);
    if (p.media_address().empty()) {
      return FieldError(absl::StrCat("parents[", i, "].media_address"),
                        "empty");
    }
    cascade::v1::RelayParent* parent = config.add_parents();
    parent->set_id(p.id());
    parent->set_address(p.media_address());
    parent->set_key_hex(absl::BytesToHexString(p.key()));
  }

  // A child listed twice (active and standby) is served once, as active.
  absl::flat_hash_set<std::string> child_ids;
  auto add_children = [&](const auto& peers, absl::string_view list,
                          bool active) -> absl::Status {
    for (int i = 0; i < peers.size(); ++i) {
      const Peer& c = peers.Get(i);
      if (!child_ids.insert(c.id()).second) continue;
      const std::string field = absl::StrCat(list, "[", i, "]");
      if (c.plain_endpoint()) {
        // Pushing to a standby plain endpoint would duplicate its media.
        if (!active) continue;
        if (c.media_address().empty()) {
          return FieldError(field + ".media_address",
                            "required for a plain endpoint");
        }
      } else if (c.key().empty()) {
        return FieldError(field + ".key", "required unless plain_endpoint");
      }
      cascade::v1::RelayChild* child = config.add_children();
      child->set_id(c.id());
      child->set_static_push(c.plain_endpoint());
      child->set_standby(!active);
      // Activated children are authenticated by their link key; the address
      // they activate from is what counts, not the configured one.
      if (c.plain_endpoint()) {
        child->set_address(c.media_address());
        child->set_audio_address(c.audio_address());
      }
      child->set_key_hex(absl::BytesToHexString(c.key()));
      if (!c.previous_key().empty()) {
        child->set_previous_key_hex(absl::BytesToHexString(c.previous_key()));
      }
    }
    return absl::OkStatus();
  };
  if (absl::Status s =
          add_children(assignment.active_children(), "active_children", true);
      !s.ok()) {
    return s;
  }
  if (absl::Status s = add_children(assignment.standby_children(),
                                    "standby_children", false);
      !s.ok()) {
    return s;
  }

  absl::flat_hash_set<uint32_t> selected;
  for (const cascade::v1::UpstreamSelection& u : assignment.upstream()) {
    selected.insert(u.ssrcs().begin(), u.ssrcs().end());
  }
  // A WHIP publisher is taken where the stream enters the tree: the
  // program feed at a root (a relay the controller gives no parent), a
  // site's camera at the relay the site hangs under.
  absl::flat_hash_set<std::string> children;
  for (const Peer& c : assignment.active_children()) children.insert(c.id());
  const bool root = assignment.parents().empty();
  // An edge relay's keys, by stream (topologyd sends each stream's newest
  // first; that order is kept).
  absl::flat_hash_map<std::string, std::vector<const cascade::v1::StreamKey*>>
      keys;
  for (const cascade::v1::StreamKey& k : assignment.stream_keys()) {
    keys[k.stream()].push_back(&k);
  }
  for (int i = 0; i < assignment.streams_size(); ++i) {
    const cascade::v1::Stream& s = assignment.streams(i);
    RelayStream::Direction direction;
    switch (s.direction()) {
      case cascade::v1::DIRECTION_DOWNSTREAM:
        direction = RelayStream::DOWN;
        break;
      case cascade::v1::DIRECTION_UPSTREAM:
        direction = RelayStream::UP;
        break;
      default:
        return FieldError(absl::StrCat("streams[", i, "].direction"),
                          "must be DOWNSTREAM or UPSTREAM");
    }
    for (const cascade::v1::Track& t : s.tracks()) {
      RelayStream* stream = config.add_streams();
      stream->set_ssrc(t.ssrc());
      stream->set_direction(direction);
      stream->set_selected(direction == RelayStream::UP &&
                           selected.contains(t.ssrc()));
      stream->set_h264(absl::StartsWithIgnoreCase(t.encoding(), "H264/"));
      stream->set_audio(t.media() == "audio");
      stream->set_stream_id(s.id());
      stream->set_payload_type(t.payload_type());
      stream->set_publishable(direction == RelayStream::DOWN
                                  ? root
                                  : children.contains(s.source_node()));
      stream->set_watched_here(direction == RelayStream::UP && root);
      if (direction != RelayStream::DOWN) continue;
      for (const cascade::v1::StreamKey* k : keys[s.id()]) {
        cascade::v1::RelayStreamKey* key = stream->add_keys();
        key->set_id(k->id());
        key->set_material_hex(absl::BytesToHexString(k->material()));
      }
    }
  }
  return config;
}

absl::StatusOr<RelayOptions> AssignmentToOptions(const Assignment& assignment,
                                                 const RelayConfig& local) {
  absl::StatusOr<RelayConfig> config = AssignmentToConfig(assignment, local);
  if (!config.ok()) return config.status();
  absl::StatusOr<RelayOptions> options = ToOptions(*config);
  if (!options.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("assignment version ",
                                                   assignment.version(), ": ",
                                                   options.status().message()));
  }
  return options;
}

}  // namespace cascade::relay
