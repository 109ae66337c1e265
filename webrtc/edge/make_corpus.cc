// Writes the seed corpus of whep_fuzz:
//   bazel run //webrtc/edge:make_corpus -- "$PWD/webrtc/edge/corpus"
// (existing files are overwritten; stale ones must be removed by hand).
#include <cstdio>
#include <fstream>
#include <string>

#include "webrtc/edge/fuzz_seeds.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr,
                 "usage: make_corpus OUTPUT_DIR (holds one directory "
                 "per fuzz target)\n");
    return 2;
  }
  const std::string dir =
      std::string(argv[1]) + "/" + std::string(cascade::edge::kFuzzTarget);
  int written = 0;
  for (const cascade::edge::Seed& seed : cascade::edge::WhepSeeds()) {
    const std::string path = dir + "/" + seed.name;
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(seed.bytes.data()),
              static_cast<std::streamsize>(seed.bytes.size()));
    if (!out) {
      std::fprintf(stderr, "cannot write %s (does the directory exist?)\n",
                   path.c_str());
      return 1;
    }
    ++written;
  }
  std::printf("wrote %d seed files under %s\n", written, dir.c_str());
  return 0;
}
