#include "base/flags.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "absl/flags/commandlineflag.h"
#include "absl/flags/parse.h"
#include "absl/flags/reflection.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "base/files.h"

namespace cascade {
namespace {

// Flags defined by the binary itself, not by absl's parser.
bool OwnFlag(absl::string_view file) {
  return !absl::StrContains(file, "absl/");
}

bool HelpRequested(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--") == 0) return false;
    if (std::strcmp(argv[i], "--help") == 0 ||
        std::strcmp(argv[i], "-help") == 0 || std::strcmp(argv[i], "-h") == 0) {
      return true;
    }
  }
  return false;
}

void PrintHelp(const char* program, absl::string_view usage) {
  std::vector<const absl::CommandLineFlag*> flags;
  for (const auto& [name, flag] : absl::GetAllFlags()) {
    if (OwnFlag(flag->Filename())) flags.push_back(flag);
  }
  std::sort(flags.begin(), flags.end(),
            [](const auto* a, const auto* b) { return a->Name() < b->Name(); });
  std::string text =
      absl::StrCat(absl::string_view(program).substr(
                       absl::string_view(program).rfind('/') + 1),
                   ": ", usage,
                   "\n\nFlags (--name=value; dashes "
                   "or underscores in names):\n");
  for (const absl::CommandLineFlag* flag : flags) {
    absl::StrAppend(&text, "  --", flag->Name(), "  ", flag->Help(),
                    " (default: \"", flag->DefaultValue(), "\")\n");
  }
  std::fputs(text.c_str(), stdout);
}

}  // namespace

void AcceptDashedFlagNames(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    char* arg = argv[i];
    if (std::strcmp(arg, "--") == 0) return;
    if (arg[0] != '-') continue;
    char* name = arg + (arg[1] == '-' ? 2 : 1);
    for (char* c = name; *c != '\0' && *c != '='; ++c) {
      if (*c == '-') *c = '_';
    }
  }
}

std::vector<char*> ParseFlags(int argc, char** argv, absl::string_view usage) {
  // absl's own --help lists only flags from a file named after the binary
  // (none of ours: relayd's are in relay/main.cc) and exits 1; ours lists
  // the binary's flags and exits 0.
  if (HelpRequested(argc, argv)) {
    PrintHelp(argv[0], usage);
    std::exit(0);
  }
  absl::FlagsUsageConfig config;
  config.contains_help_flags = OwnFlag;
  absl::SetFlagsUsageConfig(config);
  absl::SetProgramUsageMessage(usage);
  AcceptDashedFlagNames(argc, argv);
  return absl::ParseCommandLine(argc, argv);
}

bool ReadFlagFile(absl::string_view flag, const std::string& path,
                  std::string* out, std::string* error) {
  absl::StatusOr<std::string> data = ReadFile(path);
  if (!data.ok()) {
    *error = absl::StrCat(flag, ": ", data.status().message());
    return false;
  }
  *out = *std::move(data);
  return true;
}

}  // namespace cascade
