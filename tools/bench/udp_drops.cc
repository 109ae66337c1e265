#include "tools/bench/udp_drops.h"

#include <fstream>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"

namespace cascade::bench {

absl::flat_hash_map<int, uint64_t> UdpDropsByPort(const std::string& path) {
  absl::flat_hash_map<int, uint64_t> drops;
  std::ifstream table(path);
  std::string line;
  std::getline(table, line);  // header
  while (std::getline(table, line)) {
    // "sl local_address rem_address st ... drops": ADDR:PORT in hex.
    std::vector<absl::string_view> fields =
        absl::StrSplit(line, ' ', absl::SkipWhitespace());
    if (fields.size() < 13) continue;
    const std::vector<absl::string_view> local = absl::StrSplit(fields[1], ':');
    int port = 0;
    uint64_t dropped = 0;
    if (local.size() != 2 || !absl::SimpleHexAtoi(local[1], &port) ||
        !absl::SimpleAtoi(fields.back(), &dropped)) {
      continue;
    }
    drops[port] += dropped;
  }
  return drops;
}

}  // namespace cascade::bench
