// Writes the seed corpus of every fuzz target of relay/rtp:
//   bazel run //media/rtp:make_corpus -- "$PWD/media/rtp/corpus"
// (existing files are overwritten; stale ones must be removed by hand).
#include <cstdio>
#include <fstream>
#include <string>

#include "media/rtp/fuzz_seeds.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr,
                 "usage: make_corpus OUTPUT_DIR (holds one directory "
                 "per fuzz target)\n");
    return 2;
  }
  const std::string root = argv[1];
  int written = 0;
  for (const std::string& target : cascade::rtp::FuzzTargets()) {
    for (const cascade::rtp::Seed& seed : cascade::rtp::SeedsFor(target)) {
      const std::string path = root + "/" + target + "/" + seed.name;
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
  }
  std::printf("wrote %d seed files under %s\n", written, root.c_str());
  return 0;
}
