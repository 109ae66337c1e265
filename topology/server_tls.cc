#include "topology/server_tls.h"

#include <glog/logging.h>

#include <utility>

#include "base/flags.h"

namespace cascade::topology {

absl::StatusOr<ServerTls> MakeServerTls(const ServerTlsFiles& files) {
  if (files.cert.empty() != files.key.empty()) {
    return absl::InvalidArgumentError("--tls-cert and --tls-key go together");
  }
  if (files.cert.empty() && !files.insecure) {
    return absl::InvalidArgumentError(
        "refusing to serve without TLS: give --tls-cert and --tls-key (and "
        "--tls-client-ca for mutual TLS), or --insecure for a test bed");
  }
  if (!files.cert.empty() && files.insecure) {
    return absl::InvalidArgumentError(
        "--insecure serves plaintext: it does not go with --tls-cert");
  }
  if (!files.client_ca.empty() && files.cert.empty()) {
    return absl::InvalidArgumentError(
        "--tls-client-ca needs --tls-cert and --tls-key");
  }
  if (files.client_cert != "required" && files.client_cert != "optional") {
    return absl::InvalidArgumentError(
        "--client-cert must be required or optional, not \"" +
        files.client_cert + "\"");
  }
  const bool optional = files.client_cert == "optional";
  if (optional && files.client_ca.empty()) {
    return absl::InvalidArgumentError(
        "--client-cert=optional needs --tls-client-ca");
  }
  ServerTls tls;
  if (files.cert.empty()) {
    tls.credentials = grpc::InsecureServerCredentials();
    return tls;
  }
  grpc::SslServerCredentialsOptions ssl;
  grpc::SslServerCredentialsOptions::PemKeyCertPair pair;
  std::string error;
  if (!ReadFlagFile("--tls-cert", files.cert, &pair.cert_chain, &error) ||
      !ReadFlagFile("--tls-key", files.key, &pair.private_key, &error)) {
    return absl::InvalidArgumentError(error);
  }
  ssl.pem_key_cert_pairs.push_back(pair);
  if (!files.client_ca.empty()) {
    if (!ReadFlagFile("--tls-client-ca", files.client_ca, &ssl.pem_root_certs,
                      &error)) {
      return absl::InvalidArgumentError(error);
    }
    ssl.client_certificate_request =
        optional ? GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_AND_VERIFY
                 : GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY;
    tls.peer_identity = true;
    absl::StatusOr<security::TokenVerifier> tokens =
        security::TokenVerifier::FromCaPem(ssl.pem_root_certs);
    if (tokens.ok()) {
      tls.token_verifier =
          std::make_shared<const security::TokenVerifier>(*std::move(tokens));
    } else if (optional) {
      return absl::InvalidArgumentError(
          "--client-cert=optional: --tls-client-ca " + files.client_ca +
          " holds no EC certificate to check tokens against");
    } else {
      LOG(WARNING) << "--tls-client-ca " << files.client_ca << ": "
                   << tokens.status().message()
                   << "; signed tokens are refused";
    }
  }
  tls.credentials = grpc::SslServerCredentials(ssl);
  return tls;
}

}  // namespace cascade::topology
