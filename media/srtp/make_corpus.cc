// Writes the SRTP fuzz target's seed corpus:
//   bazel run //media/srtp:make_corpus -- "$PWD/media/srtp/corpus"
#include <cstdio>
#include <fstream>
#include <string>

#include "media/srtp/fuzz_seeds.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_corpus OUTPUT_DIR (holds srtp_fuzz/)\n");
    return 2;
  }
  int written = 0;
  for (const cascade::srtp::Seed& seed : cascade::srtp::SrtpSeeds()) {
    const std::string path = std::string(argv[1]) + "/srtp_fuzz/" + seed.name;
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(seed.bytes.data()),
              static_cast<std::streamsize>(seed.bytes.size()));
    if (!out) {
      std::fprintf(stderr, "cannot write %s\n", path.c_str());
      return 1;
    }
    ++written;
  }
  std::printf("wrote %d seed files under %s\n", written, argv[1]);
  return 0;
}
