// Writes edge_token_fuzz's seed corpus into the directory given: tokens
// minted with a key of their own (so none verifies), for each action, and
// their envelope with the claims or signature cut.
//   bazel run //control:make_edge_token_corpus --
//   "$PWD/control/corpus/edge_token_fuzz"
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "base/files.h"
#include "control/edge_token.h"

namespace cascade::control {
namespace {

int Main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_edge_token_corpus DIR\n");
    return 2;
  }
  absl::StatusOr<KeyPtr> key = NewEcdsaKey();
  if (!key.ok()) return 1;
  std::vector<std::pair<std::string, std::string>> seeds;
  EdgeToken token;
  token.relay = "p1-d01";
  token.stream = "program";
  token.holder = "p1-d01-s003";
  token.issued = absl::Now();
  token.expires = token.issued + absl::Hours(1);
  for (EdgeAction action : {EdgeAction::kWatch, EdgeAction::kPublish}) {
    token.action = action;
    absl::StatusOr<std::string> text = MintEdgeToken(key->get(), token);
    if (!text.ok()) return 1;
    seeds.emplace_back(absl::StrCat("token_", EdgeActionName(action)), *text);
    absl::StatusOr<SignedClaims> sealed =
        OpenClaims(*text, kEdgeTokenPrefix, kMaxEdgeTokenChars, 1024);
    if (!sealed.ok()) return 1;
    SignedClaims cut = *sealed;
    cut.signature.clear();
    seeds.emplace_back(absl::StrCat("unsigned_", EdgeActionName(action)),
                       SealClaims(kEdgeTokenPrefix, cut));
    cut = *sealed;
    cut.claims.resize(cut.claims.size() / 2);
    seeds.emplace_back(absl::StrCat("cut_claims_", EdgeActionName(action)),
                       SealClaims(kEdgeTokenPrefix, cut));
  }
  for (const auto& [name, data] : seeds) {
    if (!WriteFileAtomically(absl::StrCat(argv[1], "/", name), data).ok()) {
      return 1;
    }
  }
  std::printf("wrote %zu seeds to %s\n", seeds.size(), argv[1]);
  return 0;
}

}  // namespace
}  // namespace cascade::control

int main(int argc, char** argv) { return cascade::control::Main(argc, argv); }
