// Fuzzes the topology file: the text format topologyd loads with --topology
// and relayctl apply sends, and the validation every topology passes before
// the controller takes it. Neither may crash or run away on any input; a
// refusal is INVALID_ARGUMENT with a message bounded by the input; a
// topology that validates prints back to text that parses to the same
// topology and validates again.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/text_format.h"
#include "google/protobuf/util/message_differencer.h"
#include "topology/topology_file.h"

#define FUZZ_CHECK(condition)                                          \
  do {                                                                 \
    if (!(condition)) {                                                \
      std::fprintf(stderr, "%s:%d: FUZZ_CHECK failed: %s\n", __FILE__, \
                   __LINE__, #condition);                              \
      std::abort();                                                    \
    }                                                                  \
  } while (0)

namespace cascade::topology {
namespace {

// Room for the south19 reference (about 590 KB), a seed; larger inputs only
// slow the fuzzer (parsing and validation are linear).
constexpr size_t kMaxInput = 1 << 20;

// A refusal names the source and line, the node and what is wrong, with ids
// and addresses from the input, a cycle every id on it once.
void CheckRefusal(const absl::Status& status, size_t input_size) {
  FUZZ_CHECK(status.code() == absl::StatusCode::kInvalidArgument);
  FUZZ_CHECK(!status.message().empty());
  FUZZ_CHECK(status.message().size() <= 2 * input_size + 1024);
}

void Fuzz(absl::string_view text) {
  absl::StatusOr<TopologyText> parsed = ParseTopologyText(text, "fuzz");
  if (!parsed.ok()) {
    CheckRefusal(parsed.status(), text.size());
    return;
  }
  const cascade::v1::Topology& topology = parsed->topology;
  FUZZ_CHECK(parsed->node_lines.size() ==
             static_cast<size_t>(topology.nodes_size()));
  for (int line : parsed->node_lines) FUZZ_CHECK(line >= 1);
  absl::Status valid = ValidateTopology(topology, "fuzz", parsed->node_lines);
  if (!valid.ok()) {
    CheckRefusal(valid, text.size());
    return;
  }
  const uint64_t kbps = DownstreamKbps(topology);
  for (const cascade::v1::Node& node : topology.nodes()) {
    ChildCapacity(node, kbps);
  }
  std::string printed;
  FUZZ_CHECK(google::protobuf::TextFormat::PrintToString(topology, &printed));
  absl::StatusOr<TopologyText> again = ParseTopologyText(printed, "printed");
  FUZZ_CHECK(again.ok());
  FUZZ_CHECK(google::protobuf::util::MessageDifferencer::Equals(
      topology, again->topology));
  FUZZ_CHECK(
      ValidateTopology(again->topology, "printed", again->node_lines).ok());
}

}  // namespace
}  // namespace cascade::topology

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > cascade::topology::kMaxInput) return 0;
  cascade::topology::Fuzz(
      absl::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
