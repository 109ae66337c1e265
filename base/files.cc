#include "base/files.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace cascade {
namespace {

std::string DirectoryOf(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

}  // namespace

absl::Status ErrnoStatus(absl::string_view what, const std::string& path) {
  return absl::InternalError(
      absl::StrCat(what, " ", path, ": ", std::strerror(errno)));
}

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) {
      return absl::NotFoundError(absl::StrCat(path, ": no such file"));
    }
    return ErrnoStatus("cannot open", path);
  }
  std::string data;
  char buffer[1 << 16];
  while (true) {
    const ssize_t n = read(fd, buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      absl::Status status = ErrnoStatus("cannot read", path);
      close(fd);
      return status;
    }
    if (n == 0) break;
    data.append(buffer, static_cast<size_t>(n));
  }
  close(fd);
  return data;
}

absl::Status WriteAll(int fd, absl::string_view data, const std::string& path) {
  while (!data.empty()) {
    const ssize_t n = write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoStatus("cannot write", path);
    data.remove_prefix(static_cast<size_t>(n));
  }
  return absl::OkStatus();
}

absl::Status SyncDirectory(const std::string& dir) {
  const int fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus("cannot open directory", dir);
  const int rc = fsync(fd);
  close(fd);
  if (rc != 0) return ErrnoStatus("cannot sync directory", dir);
  return absl::OkStatus();
}

absl::Status WriteFileAtomically(const std::string& path,
                                 absl::string_view data, mode_t mode,
                                 bool sync) {
  const std::string temp = path + ".tmp";
  // A temporary file left by a crash is removed, not reused: reopened, it
  // would keep its own (perhaps wider) mode while `data`, a key, went in.
  if (unlink(temp.c_str()) != 0 && errno != ENOENT) {
    return ErrnoStatus("cannot remove", temp);
  }
  const int fd =
      open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) return ErrnoStatus("cannot create", temp);
  absl::Status status = WriteAll(fd, data, temp);
  if (status.ok() && sync && fsync(fd) != 0) {
    status = ErrnoStatus("cannot sync", temp);
  }
  close(fd);
  if (!status.ok()) return status;
  if (std::rename(temp.c_str(), path.c_str()) != 0) {
    return ErrnoStatus("cannot rename to", path);
  }
  return sync ? SyncDirectory(DirectoryOf(path)) : absl::OkStatus();
}

}  // namespace cascade
