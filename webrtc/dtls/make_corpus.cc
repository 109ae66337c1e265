// Writes the DTLS fuzz target's seed corpus:
//   bazel run //webrtc/dtls:make_corpus -- "$PWD/webrtc/dtls/corpus"
#include <cstdio>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include "webrtc/dtls/fuzz_seeds.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr,
                 "usage: make_corpus OUTPUT_DIR (holds dtls_fuzz/, "
                 "srtp_session_fuzz/)\n");
    return 2;
  }
  const std::vector<cascade::dtls::Seed> dtls = cascade::dtls::DtlsSeeds();
  const std::vector<cascade::dtls::Seed> srtp =
      cascade::dtls::SrtpSessionSeeds();
  if (dtls.empty() || srtp.empty()) {
    std::fprintf(stderr, "making the seeds failed\n");
    return 1;
  }
  std::vector<std::pair<std::string, cascade::dtls::Seed>> seeds;
  for (const auto& seed : dtls) seeds.emplace_back("dtls_fuzz", seed);
  for (const auto& seed : srtp) seeds.emplace_back("srtp_session_fuzz", seed);
  for (const auto& [target, seed] : seeds) {
    const std::string path =
        std::string(argv[1]) + "/" + target + "/" + seed.name;
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(seed.bytes.data()),
              static_cast<std::streamsize>(seed.bytes.size()));
    if (!out) {
      std::fprintf(stderr, "cannot write %s\n", path.c_str());
      return 1;
    }
  }
  std::printf("wrote %zu seed files under %s\n", seeds.size(), argv[1]);
  return 0;
}
