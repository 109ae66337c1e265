// Writes the seed corpus of sdp_fuzz:
//   bazel run //webrtc/sdp:make_corpus -- "$PWD/webrtc/sdp/corpus"
// (existing files are overwritten; stale ones must be removed by hand).
#include <cstdio>
#include <fstream>
#include <string>

#include "webrtc/sdp/fuzz_seeds.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_corpus OUTPUT_DIR (holds sdp_fuzz/)\n");
    return 2;
  }
  int written = 0;
  for (const cascade::sdp::Seed& seed : cascade::sdp::SdpSeeds()) {
    const std::string path = std::string(argv[1]) + "/sdp_fuzz/" + seed.name;
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(seed.text.data(), static_cast<std::streamsize>(seed.text.size()));
    if (!out) {
      std::fprintf(stderr, "cannot write %s (does the directory exist?)\n",
                   path.c_str());
      return 1;
    }
    ++written;
  }
  std::printf("wrote %d seed files under %s\n", written, argv[1]);
  return 0;
}
