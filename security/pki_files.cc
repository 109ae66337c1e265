#include "security/pki_files.h"

#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "base/files.h"

namespace cascade::security {
namespace {

bool Exists(const std::string& path) {
  struct stat st;
  return lstat(path.c_str(), &st) == 0;
}

}  // namespace

CredentialFiles FilesOf(const std::string& dir, const std::string& name) {
  return {absl::StrCat(dir, "/", name, ".pem"),
          absl::StrCat(dir, "/", name, ".key")};
}

absl::Status WriteCredentials(const std::string& dir, const std::string& name,
                              const Credentials& credentials, bool overwrite,
                              bool sync) {
  if (name.empty() || name == "." || name == ".." ||
      absl::StrContains(name, '/')) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", name, "\" cannot name a certificate file"));
  }
  if (dir.empty()) return absl::InvalidArgumentError("no directory given");
  // Like mkdir -p, every directory it makes 0700.
  for (size_t slash = dir.find('/', 1);; slash = dir.find('/', slash + 1)) {
    const std::string prefix = dir.substr(0, slash);
    if (mkdir(prefix.c_str(), 0700) != 0 && errno != EEXIST) {
      return ErrnoStatus("cannot create directory", prefix);
    }
    if (slash == std::string::npos) break;
  }
  const CredentialFiles files = FilesOf(dir, name);
  if (!overwrite) {
    for (const std::string& path : {files.certificate, files.key}) {
      if (Exists(path)) {
        return absl::AlreadyExistsError(absl::StrCat(path, " exists"));
      }
    }
  }
  // The key first: a certificate is never left without its key.
  if (absl::Status s =
          WriteFileAtomically(files.key, credentials.key, 0600, sync);
      !s.ok()) {
    return s;
  }
  return WriteFileAtomically(files.certificate, credentials.certificate, 0644,
                             sync);
}

absl::StatusOr<Credentials> ReadCredentials(const std::string& dir,
                                            const std::string& name) {
  const CredentialFiles files = FilesOf(dir, name);
  absl::StatusOr<std::string> certificate = ReadFile(files.certificate);
  if (!certificate.ok()) return certificate.status();
  absl::StatusOr<std::string> key = ReadFile(files.key);
  if (!key.ok()) return key.status();
  return Credentials{*std::move(certificate), *std::move(key)};
}

}  // namespace cascade::security
