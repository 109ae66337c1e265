// Whole-file reads and crash-safe whole-file writes: the one place Cascade's
// binaries and libraries read a file or replace one (config and topology
// files, port files, SDP files, the journal's snapshot).
#ifndef CASCADE_BASE_FILES_H_
#define CASCADE_BASE_FILES_H_

#include <sys/types.h>

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace cascade {

// The whole file. NotFound when it does not exist; another error, with the
// path and the system's reason, when it cannot be read.
absl::StatusOr<std::string> ReadFile(const std::string& path);

// Writes `data` beside `path`, syncs it, renames it over `path` and syncs
// the directory: a reader, or a crash, finds the old file or the new one
// whole, never a mix. The data is only ever in a file created with `mode`
// (less the umask), so a key written 0600 is never readable by others.
// `sync` false skips both syncs, for scratch files a crash may lose (a
// simulation's run directory): still whole or absent, but not durable.
absl::Status WriteFileAtomically(const std::string& path,
                                 absl::string_view data, mode_t mode = 0644,
                                 bool sync = true);

// write(2) until all of `data` is written (EINTR and short writes retried).
absl::Status WriteAll(int fd, absl::string_view data, const std::string& path);

// fsync of a directory, so a rename or a new file in it is durable.
absl::Status SyncDirectory(const std::string& dir);

// InternalError "WHAT PATH: strerror(errno)".
absl::Status ErrnoStatus(absl::string_view what, const std::string& path);

}  // namespace cascade

#endif  // CASCADE_BASE_FILES_H_
