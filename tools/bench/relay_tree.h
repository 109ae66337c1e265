// Real relayd processes on loopback for the benchmarks that need a tree
// (failover, join): configs written from parent and child lists, ports chosen
// by the kernel, every process stopped with the tree. Also the readers for
// the JSON lines relay-source and relay-probe print.
#ifndef CASCADE_TOOLS_BENCH_RELAY_TREE_H_
#define CASCADE_TOOLS_BENCH_RELAY_TREE_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "base/subprocess.h"
#include "tools/bench/process.h"

namespace cascade::bench {

// SSRCs relay-source is told to use, so relay configs can name them.
inline constexpr uint32_t kTreeVideoSsrc = 0x46460001;
inline constexpr uint32_t kTreeAudioSsrc = 0x46460002;

// The binaries a tree runs, built beside relay-bench.
struct TreeBinaries {
  std::string relayd;
  std::string source;  // relay-source
  std::string probe;   // relay-probe
};
absl::StatusOr<TreeBinaries> FindTreeBinaries(const std::string& argv0);

// "site-0" .. "site-(count-1)".
std::vector<std::string> SiteIds(int count);

// The link key of `node` (hex): every parent it may join takes this one.
// Sites "site-N" share the key of "site".
std::string TreeKeyOf(const std::string& node);

class RelayTree {
 public:
  RelayTree(std::string relayd, std::string work_dir);

  // Reserves a loopback port for relay-source to --bind, known to relays as
  // the plain parent "source"; returns its address.
  absl::StatusOr<std::string> ReserveSource();
  // Starts relay `id` and waits (bounded) until it has bound. Parents must
  // have been started first. `h264`: the video stream gets keyframe
  // detection and the keyframe cache.
  absl::Status StartRelay(const std::string& id,
                          const std::vector<std::string>& parents,
                          const std::vector<std::string>& children,
                          bool h264 = true);
  const std::string& address(const std::string& id) const {
    return addresses_.at(id);
  }
  const std::string& work_dir() const { return work_dir_; }
  pid_t pid(const std::string& id) const { return processes_.at(id)->pid(); }
  // Until relay `id` has logged the activation of `count` children whose id
  // starts with `prefix`.
  absl::Status WaitForChildren(const std::string& id, const std::string& prefix,
                               int count) const;

 private:
  const std::string relayd_;
  const std::string work_dir_;
  std::string source_;
  std::map<std::string, std::string> addresses_;
  std::map<std::string, std::unique_ptr<Subprocess>> processes_;
};

// The first line of `path` starting with `prefix`, or "".
std::string LineStartingWith(const std::string& path,
                             const std::string& prefix);
// A number at the top level of a JSON object (relay-source's and
// relay-probe's --json lines), or nullopt: no such key, not a number, or not
// JSON.
std::optional<double> JsonField(const std::string& json,
                                const std::string& key);

}  // namespace cascade::bench

#endif  // CASCADE_TOOLS_BENCH_RELAY_TREE_H_
