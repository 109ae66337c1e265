#include "tools/sim/files.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace cascade::sim {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream contents;
  contents << in.rdbuf();
  return contents.str();
}

absl::Status WriteFile(const std::string& path, const std::string& contents) {
  std::ofstream out(path, std::ios::trunc);
  out << contents;
  out.close();
  if (!out) return absl::InternalError(absl::StrCat("cannot write ", path));
  return absl::OkStatus();
}

absl::Status MakeDir(const std::string& path) {
  if (mkdir(path.c_str(), 0755) != 0 && errno != EEXIST) {
    return absl::InternalError(
        absl::StrCat("cannot create ", path, ": ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> WaitForFile(const std::string& path,
                                        absl::Time deadline,
                                        const std::atomic<bool>* interrupted) {
  while (true) {
    std::string text = ReadFile(path);
    if (!text.empty()) return text;
    if (absl::Now() >= deadline) {
      return absl::DeadlineExceededError(
          absl::StrCat("timed out waiting for ", path));
    }
    if (interrupted != nullptr && interrupted->load()) {
      return absl::CancelledError("interrupted");
    }
    absl::SleepFor(absl::Milliseconds(20));
  }
}

}  // namespace cascade::sim
