#include "tools/relayctl/key_commands.h"

#include "absl/strings/str_cat.h"
#include "base/files.h"
#include "proto/controller.grpc.pb.h"

namespace cascade::relayctl {

using cascade::v1::Admin;
using cascade::v1::ChangeResponse;

int RevokeToken(Session& session, const std::vector<std::string>& operands) {
  cascade::v1::RevokeTokenRequest request;
  if (!operands.empty()) request.set_token_id(operands[0]);
  request.set_operator_(session.options().operator_name);
  if (request.token_id().empty() == request.operator_().empty()) {
    return session.Fail(kExitUsage,
                        "give a token ID or --operator=NAME (one of the two)");
  }
  return session.ChangeAndPrint(
      [&](Admin::Stub* stub, grpc::ClientContext* context,
          ChangeResponse* response) {
        return stub->RevokeToken(context, request, response);
      },
      request.operator_().empty()
          ? "token revoke " + request.token_id()
          : "token revoke --operator=" + request.operator_());
}

int Url(Session& session, const std::vector<std::string>& operands) {
  const Options& options = session.options();
  cascade::v1::MintEdgeTokenRequest request;
  if (!operands.empty()) request.set_node(operands[0]);
  request.set_center(options.center);
  request.set_publish(options.publish);
  if (!options.center && operands.empty()) {
    return session.Fail(kExitUsage, "give a SITE, or --center");
  }
  if (options.ttl < absl::ZeroDuration()) {
    return session.Fail(kExitUsage, "--ttl must not be negative");
  }
  request.set_ttl_ms(absl::ToInt64Milliseconds(options.ttl));
  cascade::v1::MintEdgeTokenResponse response;
  // Each mint is an audit record: never sent twice.
  grpc::Status status =
      session.Change([&](Admin::Stub* stub, grpc::ClientContext* context) {
        return stub->MintEdgeToken(context, request, &response);
      });
  if (!status.ok()) return session.Fail(status);
  if (options.json) {
    session.PrintJson(response);
    return kExitDone;
  }
  if (!response.note().empty()) {
    session.err() << "relayctl: url: " << response.note() << "\n";
  }
  session.out() << response.url() << "\n";
  return kExitDone;
}

int RotateEdgeKey(Session& session) {
  return session.ChangeAndPrint(
      [](Admin::Stub* stub, grpc::ClientContext* context,
         ChangeResponse* response) {
        return stub->RotateEdgeKey(context, cascade::v1::RotateEdgeKeyRequest(),
                                   response);
      },
      "rotate-edge-key");
}

int RotateLinkKeys(Session& session, const std::string& node) {
  cascade::v1::RotateLinkKeysRequest request;
  request.set_node(node);
  return session.ChangeAndPrint(
      [&](Admin::Stub* stub, grpc::ClientContext* context,
          ChangeResponse* response) {
        return stub->RotateLinkKeys(context, request, response);
      },
      node.empty() ? "rotate-keys" : "rotate-keys " + node);
}

int RotateStreamKey(Session& session, const std::string& stream) {
  cascade::v1::RotateStreamKeyRequest request;
  request.set_stream(stream);
  return session.ChangeAndPrint(
      [&](Admin::Stub* stub, grpc::ClientContext* context,
          ChangeResponse* response) {
        return stub->RotateStreamKey(context, request, response);
      },
      stream.empty() ? "stream-key rotate" : "stream-key rotate " + stream);
}

int RevokeCertificate(Session& session,
                      const std::vector<std::string>& operands) {
  // Far above any certificate; a larger file is not one.
  constexpr size_t kMaxCertificateFile = 64 << 10;
  cascade::v1::RevokeCertificateRequest request;
  request.set_serial(session.options().serial);
  if (operands.empty() == request.serial().empty()) {
    return session.Fail(
        kExitUsage, "give the certificate's file (CERT.pem) or --serial=HEX");
  }
  std::string what = "pki revoke --serial=" + request.serial();
  if (!operands.empty()) {
    absl::StatusOr<std::string> pem = ReadFile(operands[0]);
    if (!pem.ok()) return session.Fail(kExitUsage, pem.status().ToString());
    if (pem->size() > kMaxCertificateFile) {
      return session.Fail(kExitUsage,
                          absl::StrCat(operands[0], " has ", pem->size(),
                                       " bytes: not a certificate"));
    }
    request.set_certificate_pem(*std::move(pem));
    what = "pki revoke " + operands[0];
  }
  return session.ChangeAndPrint(
      [&](Admin::Stub* stub, grpc::ClientContext* context,
          ChangeResponse* response) {
        return stub->RevokeCertificate(context, request, response);
      },
      what);
}

}  // namespace cascade::relayctl
