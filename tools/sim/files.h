// Small file helpers of relay-sim: whole files, directories, and waiting for
// a file another process writes (a port file renamed into place).
#ifndef CASCADE_TOOLS_SIM_FILES_H_
#define CASCADE_TOOLS_SIM_FILES_H_

#include <atomic>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace cascade::sim {

// The file's contents; "" when it cannot be read.
std::string ReadFile(const std::string& path);
absl::Status WriteFile(const std::string& path, const std::string& contents);
// Creates `path` unless it exists.
absl::Status MakeDir(const std::string& path);

// Polls until `path` has contents (DeadlineExceeded at `deadline`,
// Cancelled once `*interrupted` is set; it may be null).
absl::StatusOr<std::string> WaitForFile(const std::string& path,
                                        absl::Time deadline,
                                        const std::atomic<bool>* interrupted);

}  // namespace cascade::sim

#endif  // CASCADE_TOOLS_SIM_FILES_H_
