// topologyd's server credentials from --tls-cert/--tls-key/--tls-client-ca/
// --client-cert: TLS, the client certificates it asks for, whether callers
// are known by theirs, and the token verifier over the same CA.
#ifndef CASCADE_TOPOLOGY_SERVER_TLS_H_
#define CASCADE_TOPOLOGY_SERVER_TLS_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "security/token.h"

namespace cascade::topology {

struct ServerTlsFiles {
  // PEM certificate and key; both empty: plaintext (only with `insecure`).
  std::string cert;
  std::string key;
  // PEM CA bundle of client certificates (mutual TLS); empty: none asked.
  std::string client_ca;
  // "required" or "optional" (a client without a certificate gets through
  // the handshake, for Admin calls with a token).
  std::string client_cert = "required";
  // Plaintext is asked for (a test bed).
  bool insecure = false;
};

struct ServerTls {
  std::shared_ptr<grpc::ServerCredentials> credentials;
  // Clients present certificates (ServiceOptions.peer_identity).
  bool peer_identity = false;
  // Checks operators' tokens against the client CA; null: none accepted.
  std::shared_ptr<const security::TokenVerifier> token_verifier;
};

// The credentials, or InvalidArgument in one line naming the flag at fault:
// no TLS without `insecure`, files that go together, a file that cannot be
// read.
absl::StatusOr<ServerTls> MakeServerTls(const ServerTlsFiles& files);

}  // namespace cascade::topology

#endif  // CASCADE_TOPOLOGY_SERVER_TLS_H_
