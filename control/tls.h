// TLS toward topologyd, made one way for every client of it (relayd,
// relayctl, relay-sim, the tests): the CA that signed the controller's
// certificate and, for mutual TLS, the certificate and key this client
// presents, all PEM files (--tls-ca, --tls-cert, --tls-key). The name the
// client checks in the controller's certificate is the host it dials: the
// entry of the controller list, or the leader a follower names.
#ifndef CASCADE_CONTROL_TLS_H_
#define CASCADE_CONTROL_TLS_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace cascade::control {

struct TlsClientFiles {
  // Empty (with the others): plaintext.
  std::string ca;
  // Both or neither; they need `ca`.
  std::string cert;
  std::string key;
};

// Null (plaintext) when no file is given; otherwise TLS credentials from
// the files' contents. InvalidArgument naming the flag for files given
// without the ones they need, or that cannot be read or hold no PEM.
absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> ClientCredentials(
    const TlsClientFiles& files);

// gRPC tells a client whose handshake the controller refused only "Socket
// closed"; the controller's log says why. A hint at the likely causes for
// a client with these files, to add to such an error.
std::string HandshakeHint(const TlsClientFiles& files);

// Replaces "{id}" in `path` by `node_id`: a relayd running several relays
// presents each relay's own certificate (certs/{id}.pem).
inline constexpr char kNodeIdPlaceholder[] = "{id}";
std::string ForNode(absl::string_view path, absl::string_view node_id);

}  // namespace cascade::control

#endif  // CASCADE_CONTROL_TLS_H_
