// Credentials (pki.h) on disk: DIR/NAME.pem (the certificate, mode 0644)
// and DIR/NAME.key (the private key, mode 0600). A CA is DIR/ca.pem and
// DIR/ca.key.
#ifndef CASCADE_SECURITY_PKI_FILES_H_
#define CASCADE_SECURITY_PKI_FILES_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "security/pki.h"

namespace cascade::security {

inline constexpr char kCaName[] = "ca";

struct CredentialFiles {
  std::string certificate;  // DIR/NAME.pem
  std::string key;          // DIR/NAME.key
};
CredentialFiles FilesOf(const std::string& dir, const std::string& name);

// Writes both files, creating DIR and its parents (mode 0700) when missing. The
// key is written into a file created 0600, never one with wider permissions.
// AlreadyExists naming the file when either exists and not `overwrite`;
// InvalidArgument when NAME cannot name a file ("", ".", "..", or a '/').
// `sync` false: not made durable (WriteFileAtomically), for a run's scratch
// PKI.
absl::Status WriteCredentials(const std::string& dir, const std::string& name,
                              const Credentials& credentials, bool overwrite,
                              bool sync = true);

// Both files read back (not checked: pki.h's functions check what they use).
absl::StatusOr<Credentials> ReadCredentials(const std::string& dir,
                                            const std::string& name);

}  // namespace cascade::security

#endif  // CASCADE_SECURITY_PKI_FILES_H_
