#include "control/tls.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "base/files.h"

namespace cascade::control {
namespace {

// The file's PEM text; errors name the flag.
absl::Status ReadPem(absl::string_view flag, const std::string& path,
                     std::string* pem) {
  absl::StatusOr<std::string> data = ReadFile(path);
  if (!data.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(flag, ": ", data.status().message()));
  }
  // gRPC would only say, later, that the channel does not connect.
  if (!absl::StrContains(*data, "-----BEGIN ")) {
    return absl::InvalidArgumentError(
        absl::StrCat(flag, ": ", path, " holds no PEM block"));
  }
  *pem = *std::move(data);
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> ClientCredentials(
    const TlsClientFiles& files) {
  if (files.cert.empty() != files.key.empty()) {
    return absl::InvalidArgumentError("--tls-cert and --tls-key go together");
  }
  if (!files.cert.empty() && files.ca.empty()) {
    return absl::InvalidArgumentError("--tls-cert needs --tls-ca");
  }
  if (files.ca.empty()) return nullptr;
  grpc::SslCredentialsOptions ssl;
  if (absl::Status s = ReadPem("--tls-ca", files.ca, &ssl.pem_root_certs);
      !s.ok()) {
    return s;
  }
  if (!files.cert.empty()) {
    if (absl::Status s = ReadPem("--tls-cert", files.cert, &ssl.pem_cert_chain);
        !s.ok()) {
      return s;
    }
    if (absl::Status s = ReadPem("--tls-key", files.key, &ssl.pem_private_key);
        !s.ok()) {
      return s;
    }
  }
  return grpc::SslCredentials(ssl);
}

std::string HandshakeHint(const TlsClientFiles& files) {
  if (files.ca.empty()) {
    return "a controller that serves TLS closes plaintext connections: "
           "--tls-ca?";
  }
  if (files.cert.empty()) {
    return "a controller that requires client certificates closes "
           "connections without one: --tls-cert and --tls-key?";
  }
  return "the controller may have refused this certificate (another CA's, "
         "expired, not yet valid): its log says why";
}

std::string ForNode(absl::string_view path, absl::string_view node_id) {
  return absl::StrReplaceAll(path, {{kNodeIdPlaceholder, node_id}});
}

}  // namespace cascade::control
