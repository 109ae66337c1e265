#include "topology/topology_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "control/node_id.h"
#include "google/protobuf/io/tokenizer.h"
#include "google/protobuf/text_format.h"

namespace cascade::topology {
namespace {

using cascade::v1::Node;
using cascade::v1::Topology;

// Keeps the first syntax error, with its position.
class FirstErrorCollector : public google::protobuf::io::ErrorCollector {
 public:
  void AddError(int line, google::protobuf::io::ColumnNumber column,
                const std::string& message) override {
    if (error_.empty()) {
      error_ = absl::StrCat(line + 1, ":", column + 1, ": ", message);
    }
  }
  const std::string& error() const { return error_; }

 private:
  std::string error_;
};

bool ValidHostPort(absl::string_view address) {
  size_t colon = address.rfind(':');
  if (colon == absl::string_view::npos || colon == 0) return false;
  int port = 0;
  return absl::SimpleAtoi(address.substr(colon + 1), &port) && port > 0 &&
         port <= 65535;
}

// A plain endpoint's audio port: players bind one port per SDP m= line and
// the one above it for RTCP (ffmpeg, VLC), so the two may not touch.
std::string AudioAddressError(const Node& node) {
  const std::string& audio = node.audio_address();
  if (!node.plain_endpoint()) {
    return "audio_address is only for a plain endpoint (a relay or an "
           "activated site takes every stream on media_address)";
  }
  if (!ValidHostPort(audio)) {
    return absl::StrCat("audio_address \"", audio, "\" is not HOST:PORT");
  }
  const std::string& video = node.media_address();
  const size_t a = audio.rfind(':'), v = video.rfind(':');
  int audio_port = 0, video_port = 0;
  if (audio.substr(0, a) == video.substr(0, v) &&
      absl::SimpleAtoi(audio.substr(a + 1), &audio_port) &&
      absl::SimpleAtoi(video.substr(v + 1), &video_port) &&
      std::abs(audio_port - video_port) < 2) {
    return absl::StrCat("audio_address \"", audio,
                        "\" must be at least 2 ports from media_address \"",
                        video, "\" (players take PORT+1 for RTCP)");
  }
  return "";
}

}  // namespace

absl::StatusOr<TopologyText> ParseTopologyText(absl::string_view text,
                                               absl::string_view source_name) {
  TopologyText parsed;
  google::protobuf::TextFormat::Parser parser;
  FirstErrorCollector errors;
  parser.RecordErrorsTo(&errors);
  google::protobuf::TextFormat::ParseInfoTree tree;
  parser.WriteLocationsTo(&tree);
  if (!parser.ParseFromString(std::string(text), &parsed.topology)) {
    return absl::InvalidArgumentError(
        absl::StrCat(source_name, ":", errors.error()));
  }
  const google::protobuf::FieldDescriptor* nodes_field =
      Topology::descriptor()->FindFieldByName("nodes");
  for (int i = 0; i < parsed.topology.nodes_size(); ++i) {
    google::protobuf::TextFormat::ParseLocation location =
        tree.GetLocation(nodes_field, i);
    parsed.node_lines.push_back(location.line + 1);
  }
  return parsed;
}

absl::StatusOr<TopologyText> ReadTopologyFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  std::stringstream text;
  text << in.rdbuf();
  return ParseTopologyText(text.str(), path);
}

uint64_t DownstreamKbps(const Topology& topology) {
  uint64_t total = 0;
  for (const auto& stream : topology.streams()) {
    if (stream.direction() == cascade::v1::DIRECTION_DOWNSTREAM) {
      total += stream.bitrate_kbps();
    }
  }
  return total;
}

uint32_t ChildCapacity(const Node& node, uint64_t downstream_kbps) {
  uint64_t capacity = node.capacity().max_children();
  if (node.capacity().uplink_kbps() > 0 && downstream_kbps > 0) {
    capacity =
        std::min(capacity, node.capacity().uplink_kbps() / downstream_kbps);
  }
  return static_cast<uint32_t>(capacity);
}

absl::Status ValidateTopology(const Topology& topology,
                              absl::string_view source,
                              absl::Span<const int> node_lines) {
  auto fail = [&](int index, const std::string& message) {
    std::string where;
    if (index >= 0 && static_cast<size_t>(index) < node_lines.size()) {
      where = absl::StrCat(source, ":", node_lines[index], ": ");
    } else if (!source.empty()) {
      where = absl::StrCat(source, ": ");
    }
    std::string who =
        index >= 0 ? absl::StrCat("node \"", topology.nodes(index).id(), "\": ")
                   : "";
    return absl::InvalidArgumentError(absl::StrCat(where, who, message));
  };

  absl::flat_hash_map<std::string, int> index_of;
  for (int i = 0; i < topology.nodes_size(); ++i) {
    const Node& node = topology.nodes(i);
    if (absl::Status id = control::ValidateNodeId(node.id()); !id.ok()) {
      return fail(i, std::string(id.message()));
    }
    if (!index_of.emplace(node.id(), i).second) {
      return fail(i, absl::StrCat("duplicate id (first at node #",
                                  index_of[node.id()] + 1, ")"));
    }
    if (node.tier() == cascade::v1::TIER_UNSPECIFIED) {
      return fail(i, "tier is not set");
    }
    if (!ValidHostPort(node.media_address())) {
      return fail(i, absl::StrCat("media_address \"", node.media_address(),
                                  "\" is not HOST:PORT"));
    }
    if (!node.audio_address().empty()) {
      if (std::string error = AudioAddressError(node); !error.empty()) {
        return fail(i, error);
      }
    }
    // Browsers reach relays (relayctl url); a site is what they stand in.
    if (!node.edge_address().empty()) {
      if (node.tier() == cascade::v1::TIER_SITE || node.plain_endpoint()) {
        return fail(i,
                    "edge_address is only for a relay (browsers connect to "
                    "a site's relay, not to the site)");
      }
      if (!ValidHostPort(node.edge_address())) {
        return fail(i, absl::StrCat("edge_address \"", node.edge_address(),
                                    "\" is not HOST:PORT"));
      }
    }
  }

  // Parents exist and are not the node itself.
  for (int i = 0; i < topology.nodes_size(); ++i) {
    const Node& node = topology.nodes(i);
    if (node.parent().empty() && node.tier() != cascade::v1::TIER_NATIONAL) {
      return fail(i, "only national nodes may have no parent");
    }
    std::vector<std::string> parents(node.standby_parents().begin(),
                                     node.standby_parents().end());
    if (!node.parent().empty()) parents.insert(parents.begin(), node.parent());
    absl::flat_hash_set<std::string> seen;
    for (const std::string& parent : parents) {
      if (!index_of.contains(parent)) {
        return fail(i, absl::StrCat("unknown parent \"", parent, "\""));
      }
      if (!seen.insert(parent).second) {
        return fail(i, absl::StrCat("parent \"", parent, "\" listed twice"));
      }
    }
  }

  // Cycles along desired parents and standbys: an iterative three-colour
  // depth-first search (a hostile file may chain 100k nodes).
  auto parents_of = [&](int i) {
    const Node& node = topology.nodes(i);
    std::vector<int> parents;
    if (!node.parent().empty()) parents.push_back(index_of[node.parent()]);
    for (const std::string& p : node.standby_parents()) {
      parents.push_back(index_of[p]);
    }
    return parents;
  };
  enum Colour { kNew, kOpen, kDone };
  std::vector<Colour> colour(topology.nodes_size(), kNew);
  for (int root = 0; root < topology.nodes_size(); ++root) {
    if (colour[root] != kNew) continue;
    // (node, its parents, index of the next parent to follow)
    struct Frame {
      int node;
      std::vector<int> parents;
      size_t next;
    };
    std::vector<Frame> stack;
    stack.push_back({root, parents_of(root), 0});
    colour[root] = kOpen;
    while (!stack.empty()) {
      Frame& top = stack.back();
      if (top.next == top.parents.size()) {
        colour[top.node] = kDone;
        stack.pop_back();
        continue;
      }
      int p = top.parents[top.next++];
      if (colour[p] == kOpen) {
        std::vector<std::string> ids;
        auto first = std::find_if(stack.begin(), stack.end(),
                                  [p](const Frame& f) { return f.node == p; });
        for (auto it = first; it != stack.end(); ++it) {
          ids.push_back(topology.nodes(it->node).id());
        }
        ids.push_back(topology.nodes(p).id());
        return fail(p,
                    absl::StrCat("parent cycle ", absl::StrJoin(ids, " -> ")));
      }
      if (colour[p] == kNew) {
        colour[p] = kOpen;
        stack.push_back({p, parents_of(p), 0});
      }
    }
  }

  // Every parent sits on a higher tier than its child.
  for (int i = 0; i < topology.nodes_size(); ++i) {
    const Node& node = topology.nodes(i);
    std::vector<std::string> parents(node.standby_parents().begin(),
                                     node.standby_parents().end());
    if (!node.parent().empty()) parents.push_back(node.parent());
    for (const std::string& parent : parents) {
      const Node& p = topology.nodes(index_of[parent]);
      if (p.tier() >= node.tier()) {
        return fail(
            i, absl::StrCat("tier out of order: parent \"", parent, "\" is ",
                            cascade::v1::Tier_Name(p.tier()), ", child is ",
                            cascade::v1::Tier_Name(node.tier())));
      }
    }
  }

  // Every node can carry the children that want it as primary parent.
  uint64_t downstream_kbps = DownstreamKbps(topology);
  std::vector<uint32_t> desired_children(topology.nodes_size(), 0);
  for (const Node& node : topology.nodes()) {
    if (!node.parent().empty()) ++desired_children[index_of[node.parent()]];
  }
  for (int i = 0; i < topology.nodes_size(); ++i) {
    uint32_t capacity = ChildCapacity(topology.nodes(i), downstream_kbps);
    if (desired_children[i] > capacity) {
      return fail(
          i, absl::StrCat(
                 "impossible capacity: ", desired_children[i],
                 " children name it as parent but it can serve ", capacity,
                 " (max_children ", topology.nodes(i).capacity().max_children(),
                 ", uplink_kbps ", topology.nodes(i).capacity().uplink_kbps(),
                 " at ", downstream_kbps, " kbps per child)"));
    }
  }

  absl::flat_hash_set<std::string> stream_ids;
  absl::flat_hash_set<uint32_t> ssrcs;
  for (const auto& stream : topology.streams()) {
    std::string who = absl::StrCat("stream \"", stream.id(), "\": ");
    if (stream.id().empty() || !stream_ids.insert(stream.id()).second) {
      return fail(-1, absl::StrCat(who, "empty or duplicate id"));
    }
    if (stream.direction() == cascade::v1::DIRECTION_UNSPECIFIED) {
      return fail(-1, absl::StrCat(who, "direction is not set"));
    }
    if (!stream.source_node().empty() &&
        !index_of.contains(stream.source_node())) {
      return fail(-1, absl::StrCat(who, "unknown source node \"",
                                   stream.source_node(), "\""));
    }
    for (const auto& track : stream.tracks()) {
      if (!ssrcs.insert(track.ssrc()).second) {
        return fail(-1,
                    absl::StrCat(who, "SSRC ", track.ssrc(), " used twice"));
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace cascade::topology
