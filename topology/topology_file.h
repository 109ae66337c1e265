// Topology files (protobuf text format of cascade.v1.Topology) and the
// validation every topology passes before the controller accepts it.
#ifndef CASCADE_TOPOLOGY_TOPOLOGY_FILE_H_
#define CASCADE_TOPOLOGY_TOPOLOGY_FILE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "proto/topology.pb.h"

namespace cascade::topology {

// A parsed topology and, for error messages, the 1-based line of each
// node's entry in the file.
struct TopologyText {
  cascade::v1::Topology topology;
  std::vector<int> node_lines;
};

// Parses text format; a syntax error names `source_name`, line and column.
absl::StatusOr<TopologyText> ParseTopologyText(absl::string_view text,
                                               absl::string_view source_name);
absl::StatusOr<TopologyText> ReadTopologyFile(const std::string& path);

// Checks the whole topology: ids (empty, duplicate), tiers, media addresses,
// parents (unknown, cycle, tier out of order), capacity (a node that cannot
// carry the children that name it), streams. The first problem is returned
// as INVALID_ARGUMENT naming the node, and `source:line` when `node_lines`
// has the node's line.
absl::Status ValidateTopology(const cascade::v1::Topology& topology,
                              absl::string_view source,
                              absl::Span<const int> node_lines = {});

// Total bitrate of the downstream streams: what one active child costs.
uint64_t DownstreamKbps(const cascade::v1::Topology& topology);

// Most active children `node` can serve given its child and bandwidth
// limits.
uint32_t ChildCapacity(const cascade::v1::Node& node, uint64_t downstream_kbps);

}  // namespace cascade::topology

#endif  // CASCADE_TOPOLOGY_TOPOLOGY_FILE_H_
