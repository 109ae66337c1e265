#include "control/edge_token.h"

#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "control/node_id.h"
#include "proto/edge_token.pb.h"

namespace cascade::control {
namespace {

using Claims = cascade::v1::EdgeTokenClaims;

constexpr char kSigningContext[] = "cascade-edge-token-v1";
// Three ids of at most 64 bytes, two times, an action and an id.
constexpr size_t kMaxClaimsBytes = 320;

absl::Status Malformed(absl::string_view why) {
  return absl::UnauthenticatedError(absl::StrCat("malformed token: ", why));
}

absl::Status ValidateClaims(const EdgeToken& token) {
  for (const auto& [what, id] :
       {std::pair<absl::string_view, const std::string*>{"relay", &token.relay},
        {"stream", &token.stream},
        {"holder", &token.holder}}) {
    if (absl::Status valid = ValidateNodeId(*id); !valid.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("the token's ", what, ": ", valid.message()));
    }
  }
  if (!IsTokenId(token.id)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "a token id is ", 2 * kTokenIdBytes, " lowercase hex digits"));
  }
  const absl::Duration ttl = token.expires - token.issued;
  if (ttl <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("a token must expire after it is issued");
  }
  if (ttl > kMaxEdgeTokenTtl) {
    return absl::InvalidArgumentError(
        absl::StrCat("an edge token may live at most ",
                     absl::FormatDuration(kMaxEdgeTokenTtl), ", not ",
                     absl::FormatDuration(ttl)));
  }
  return absl::OkStatus();
}

absl::StatusOr<EdgeToken> ClaimsOf(absl::string_view bytes) {
  Claims claims;
  if (!claims.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return Malformed("claims do not parse");
  }
  EdgeToken token;
  switch (claims.action()) {
    case Claims::ACTION_WATCH:
      token.action = EdgeAction::kWatch;
      break;
    case Claims::ACTION_PUBLISH:
      token.action = EdgeAction::kPublish;
      break;
    default:
      return Malformed("no action");
  }
  token.relay = claims.relay();
  token.stream = claims.stream();
  token.holder = claims.holder();
  token.issued = absl::FromUnixMillis(claims.issued_unix_ms());
  token.expires = absl::FromUnixMillis(claims.expires_unix_ms());
  if (claims.id().size() != kTokenIdBytes) return Malformed("bad id");
  token.id = absl::BytesToHexString(claims.id());
  if (absl::Status valid = ValidateClaims(token); !valid.ok()) {
    return Malformed(valid.message());
  }
  return token;
}

}  // namespace

absl::string_view EdgeActionName(EdgeAction action) {
  return action == EdgeAction::kPublish ? "publish" : "watch";
}

absl::StatusOr<std::string> MintEdgeToken(EVP_PKEY* key,
                                          const EdgeToken& token) {
  EdgeToken claims = token;
  if (claims.id.empty()) {
    absl::StatusOr<std::string> id = RandomTokenId();
    if (!id.ok()) return id.status();
    claims.id = *std::move(id);
  }
  if (absl::Status valid = ValidateClaims(claims); !valid.ok()) return valid;
  Claims message;
  message.set_relay(claims.relay);
  message.set_stream(claims.stream);
  message.set_action(claims.action == EdgeAction::kPublish
                         ? Claims::ACTION_PUBLISH
                         : Claims::ACTION_WATCH);
  message.set_issued_unix_ms(absl::ToUnixMillis(claims.issued));
  message.set_expires_unix_ms(absl::ToUnixMillis(claims.expires));
  message.set_id(absl::HexStringToBytes(claims.id));
  message.set_holder(claims.holder);
  SignedClaims sealed;
  sealed.claims = message.SerializeAsString();
  absl::StatusOr<std::string> signature =
      SignEcdsa(key, kSigningContext, sealed.claims);
  if (!signature.ok()) return signature.status();
  sealed.signature = *std::move(signature);
  return SealClaims(kEdgeTokenPrefix, sealed);
}

absl::StatusOr<EdgeTokenVerifier> EdgeTokenVerifier::FromPublicKeys(
    const std::vector<std::string>& public_keys) {
  if (public_keys.empty()) {
    return absl::InvalidArgumentError("no edge key to check tokens against");
  }
  EdgeTokenVerifier verifier;
  for (const std::string& der : public_keys) {
    absl::StatusOr<KeyPtr> key = PublicKeyFromDer(der);
    if (!key.ok()) return key.status();
    verifier.keys_.emplace_back(key->release(), KeyFree());
  }
  return verifier;
}

absl::StatusOr<EdgeToken> EdgeTokenVerifier::Verify(absl::string_view text,
                                                    absl::string_view relay,
                                                    absl::string_view stream,
                                                    EdgeAction action,
                                                    absl::Time now) const {
  absl::StatusOr<SignedClaims> sealed =
      OpenClaims(text, kEdgeTokenPrefix, kMaxEdgeTokenChars, kMaxClaimsBytes);
  if (!sealed.ok()) return Malformed(sealed.status().message());
  absl::StatusOr<EdgeToken> token = ClaimsOf(sealed->claims);
  if (!token.ok()) return token.status();
  bool signed_by_us = false;
  for (const auto& key : keys_) {
    if (VerifyEcdsa(key.get(), kSigningContext, sealed->claims,
                    sealed->signature)) {
      signed_by_us = true;
      break;
    }
  }
  if (!signed_by_us) {
    return absl::UnauthenticatedError("token not signed by the controller");
  }
  const std::string what = absl::StrCat("token ", token->id);
  if (token->issued > now + kEdgeClockSkew) {
    return absl::UnauthenticatedError(absl::StrCat(what, " is not valid yet"));
  }
  if (now >= token->expires) {
    return absl::UnauthenticatedError(
        absl::StrCat(what, " expired at ",
                     absl::FormatTime("%Y-%m-%d %H:%M:%S UTC", token->expires,
                                      absl::UTCTimeZone())));
  }
  if (token->relay != relay || token->stream != stream ||
      token->action != action) {
    return absl::PermissionDeniedError(absl::StrCat(
        what, " lets ", token->holder, " ", EdgeActionName(token->action), " ",
        token->stream, " at ", token->relay));
  }
  return token;
}

}  // namespace cascade::control
