// Writes the seed corpus of //topology:topology_fuzz:
//   bazel run //topology:make_corpus -- "$PWD/topology/corpus/topology_fuzz"
// (existing files are overwritten; stale ones must be removed by hand). The
// reference topologies are replayed from topology/reference/ as they are.
#include <cstdio>
#include <string>

#include "base/files.h"
#include "topology/fuzz_seeds.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_corpus OUTPUT_DIR\n");
    return 2;
  }
  int written = 0;
  for (const cascade::topology::TopologySeed& seed :
       cascade::topology::TopologySeeds()) {
    const std::string path = std::string(argv[1]) + "/" + seed.name;
    if (absl::Status status = cascade::WriteFileAtomically(path, seed.text);
        !status.ok()) {
      std::fprintf(stderr, "make_corpus: %s\n",
                   std::string(status.message()).c_str());
      return 1;
    }
    ++written;
  }
  std::printf("wrote %d seed files under %s\n", written, argv[1]);
  return 0;
}
