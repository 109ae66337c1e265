// Writes token_fuzz's seed corpus into the directory given: tokens minted
// for each role, and a few that are nearly tokens.
//   bazel run //security:make_token_corpus -- "$PWD/security/corpus/token_fuzz"
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "base/files.h"
#include "security/pki.h"
#include "security/token.h"

namespace cascade::security {
namespace {

int Main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_token_corpus DIR\n");
    return 2;
  }
  const std::string dir = argv[1];
  absl::StatusOr<Credentials> ca = MakeCa(CaOptions{});
  if (!ca.ok()) return 1;
  std::vector<std::pair<std::string, std::string>> seeds;
  const std::vector<std::pair<std::string, Role>> operators = {
      {"alice", Role::kAdmin},
      {"bob.ops", Role::kOperator},
      {"v-1_x", Role::kViewer}};
  for (const auto& [name, role] : operators) {
    Token token;
    token.operator_name = name;
    token.role = role;
    token.issued = absl::Now();
    token.expires = token.issued + absl::Hours(1);
    absl::StatusOr<std::string> minted = MintToken(*ca, token);
    if (!minted.ok()) return 1;
    seeds.emplace_back(absl::StrCat("token_", RoleName(role)), *minted);
  }
  seeds.emplace_back("prefix_only", kTokenPrefix);
  seeds.emplace_back("shared_secret", "let-me-in");
  seeds.emplace_back("bad_base64", absl::StrCat(kTokenPrefix, "a+b/c=="));
  for (const auto& [name, data] : seeds) {
    if (!WriteFileAtomically(dir + "/" + name, data).ok()) return 1;
  }
  std::printf("wrote %zu seeds to %s\n", seeds.size(), dir.c_str());
  return 0;
}

}  // namespace
}  // namespace cascade::security

int main(int argc, char** argv) { return cascade::security::Main(argc, argv); }
