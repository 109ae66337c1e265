#include "security/identity.h"

#include <openssl/crypto.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "control/node_id.h"

namespace cascade::security {
namespace {

// Far above any certificate gRPC hands over; bounds the work on junk.
constexpr size_t kMaxPemSize = 64 << 10;
constexpr size_t kMaxOperatorNameSize = 64;

struct BioFree {
  void operator()(BIO* bio) const { BIO_free(bio); }
};
struct X509Free {
  void operator()(X509* x509) const { X509_free(x509); }
};
struct GeneralNamesFree {
  void operator()(GENERAL_NAMES* names) const { GENERAL_NAMES_free(names); }
};

// RFC 3986 pchar without pct-encoded: what a path segment holds as is.
bool Unreserved(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) ||
         absl::StrContains("-._~!$&'()*+,;=:@", c);
}

std::string PercentEncode(absl::string_view name) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char c : name) {
    if (Unreserved(c)) {
      out.push_back(c);
    } else {
      const auto byte = static_cast<unsigned char>(c);
      out.push_back('%');
      out.push_back(kHex[byte >> 4]);
      out.push_back(kHex[byte & 0xf]);
    }
  }
  return out;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

absl::StatusOr<std::string> PercentDecode(absl::string_view encoded) {
  std::string out;
  for (size_t i = 0; i < encoded.size(); ++i) {
    if (encoded[i] != '%') {
      out.push_back(encoded[i]);
      continue;
    }
    const int high = i + 2 < encoded.size() ? HexValue(encoded[i + 1]) : -1;
    const int low = i + 2 < encoded.size() ? HexValue(encoded[i + 2]) : -1;
    if (high < 0 || low < 0) {
      return absl::InvalidArgumentError("bad percent-encoding");
    }
    out.push_back(static_cast<char>(high << 4 | low));
    i += 2;
  }
  return out;
}

absl::Status Invalid(absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("certificate: ", what));
}

// The subject's one OU as UTF-8; NotFound when it has none.
absl::StatusOr<std::string> OrganizationalUnit(X509* certificate) {
  X509_NAME* subject = X509_get_subject_name(certificate);
  const int index =
      X509_NAME_get_index_by_NID(subject, NID_organizationalUnitName, -1);
  if (index < 0) return absl::NotFoundError("no OU");
  if (X509_NAME_get_index_by_NID(subject, NID_organizationalUnitName, index) >=
      0) {
    return Invalid("its subject has more than one OU");
  }
  unsigned char* utf8 = nullptr;
  const int size = ASN1_STRING_to_UTF8(
      &utf8, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, index)));
  if (size < 0) return Invalid("its subject's OU is not a valid string");
  std::string ou(reinterpret_cast<const char*>(utf8),
                 static_cast<size_t>(size));
  OPENSSL_free(utf8);
  return ou;
}

}  // namespace

absl::string_view RoleName(Role role) {
  switch (role) {
    case Role::kNone:
      return "none";
    case Role::kViewer:
      return "viewer";
    case Role::kOperator:
      return "operator";
    case Role::kAdmin:
      return "admin";
  }
  return "none";
}

absl::StatusOr<Role> ParseRole(absl::string_view name) {
  for (Role role : {Role::kViewer, Role::kOperator, Role::kAdmin}) {
    if (name == RoleName(role)) return role;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("role \"", absl::CHexEscape(name.substr(0, 32)),
                   "\" is not viewer, operator or admin"));
}

std::string Describe(const Identity& identity) {
  if (identity.kind == IdentityKind::kNode) {
    return absl::StrCat("node ", identity.name);
  }
  return absl::StrCat("operator ", identity.name, " (", RoleName(identity.role),
                      ")");
}

absl::Status ValidateOperatorName(absl::string_view name) {
  if (name.empty()) return absl::InvalidArgumentError("empty operator name");
  if (name.size() > kMaxOperatorNameSize) {
    return absl::InvalidArgumentError(absl::StrCat(
        "operator name \"", name.substr(0, 16), "...\" is ", name.size(),
        " characters, more than ", kMaxOperatorNameSize));
  }
  for (char c : name) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '.' &&
        c != '_' && c != '-') {
      return absl::InvalidArgumentError(
          absl::StrCat("operator name \"", absl::CHexEscape(name),
                       "\" may hold only letters, digits, '.', '_' and '-'"));
    }
  }
  if (name[0] == '.') {
    return absl::InvalidArgumentError(
        absl::StrCat("operator name \"", name, "\" starts with '.'"));
  }
  return absl::OkStatus();
}

absl::Status ValidateIdentity(const Identity& identity) {
  if (identity.kind == IdentityKind::kNode) {
    if (identity.role != Role::kNone) {
      return absl::InvalidArgumentError("a node has no role");
    }
    return control::ValidateNodeId(identity.name);
  }
  if (identity.role == Role::kNone) {
    return absl::InvalidArgumentError(
        "an operator needs a role: viewer, operator or admin");
  }
  return ValidateOperatorName(identity.name);
}

std::string IdentityUri(const Identity& identity) {
  return absl::StrCat(identity.kind == IdentityKind::kNode ? kNodeUriPrefix
                                                           : kOperatorUriPrefix,
                      PercentEncode(identity.name));
}

absl::StatusOr<Identity> ParseIdentityUri(absl::string_view uri) {
  Identity identity;
  absl::string_view encoded = uri;
  if (absl::ConsumePrefix(&encoded, kNodeUriPrefix)) {
    identity.kind = IdentityKind::kNode;
  } else if (absl::ConsumePrefix(&encoded, kOperatorUriPrefix)) {
    identity.kind = IdentityKind::kOperator;
  } else {
    return absl::InvalidArgumentError(absl::StrCat(
        "URI \"", absl::CHexEscape(uri.substr(0, 80)), "\" is not ",
        kNodeUriPrefix, "ID or ", kOperatorUriPrefix, "NAME"));
  }
  absl::StatusOr<std::string> name = PercentDecode(encoded);
  if (!name.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("URI \"", absl::CHexEscape(uri.substr(0, 80)),
                     "\": ", name.status().message()));
  }
  identity.name = *std::move(name);
  absl::Status valid = identity.kind == IdentityKind::kNode
                           ? control::ValidateNodeId(identity.name)
                           : ValidateOperatorName(identity.name);
  if (!valid.ok()) return valid;
  // One URI per identity: "%41" for "A", or lowercase hex, would be a
  // second spelling of a name.
  if (IdentityUri(identity) != uri) {
    return absl::InvalidArgumentError(
        absl::StrCat("URI \"", absl::CHexEscape(uri.substr(0, 80)),
                     "\" is not percent-encoded the one way (expected \"",
                     IdentityUri(identity), "\")"));
  }
  return identity;
}

absl::StatusOr<Identity> IdentityFromPem(absl::string_view pem) {
  if (pem.empty()) return Invalid("none presented");
  if (pem.size() > kMaxPemSize) {
    return Invalid(
        absl::StrCat(pem.size(), " bytes of PEM, more than ", kMaxPemSize));
  }
  std::unique_ptr<BIO, BioFree> bio(
      BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (bio == nullptr) return absl::ResourceExhaustedError("BIO_new_mem_buf");
  std::unique_ptr<X509, X509Free> certificate(
      PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (certificate == nullptr) return Invalid("not a PEM X.509 certificate");

  int critical = -1;
  std::unique_ptr<GENERAL_NAMES, GeneralNamesFree> names(
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(
          certificate.get(), NID_subject_alt_name, &critical, nullptr)));
  if (names == nullptr) {
    return Invalid(critical == -2 ? "more than one subjectAltName extension"
                                  : "no subjectAltName with a Cascade URI");
  }
  absl::string_view uri;
  int uris = 0;
  for (int i = 0; i < sk_GENERAL_NAME_num(names.get()); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(names.get(), i);
    if (name->type != GEN_URI) continue;
    ++uris;
    const ASN1_IA5STRING* value = name->d.uniformResourceIdentifier;
    uri = absl::string_view(
        reinterpret_cast<const char*>(ASN1_STRING_get0_data(value)),
        static_cast<size_t>(ASN1_STRING_length(value)));
  }
  if (uris != 1) {
    return Invalid(absl::StrCat(uris,
                                " URI SANs; a Cascade certificate has "
                                "exactly one, its identity"));
  }
  absl::StatusOr<Identity> identity = ParseIdentityUri(uri);
  if (!identity.ok()) return Invalid(identity.status().message());
  if (identity->kind == IdentityKind::kNode) return identity;

  absl::StatusOr<std::string> ou = OrganizationalUnit(certificate.get());
  if (absl::IsNotFound(ou.status())) {
    return Invalid(absl::StrCat("operator ", identity->name,
                                " has no role (the subject's OU)"));
  }
  if (!ou.ok()) return ou.status();
  absl::StatusOr<Role> role = ParseRole(*ou);
  if (!role.ok()) {
    return Invalid(absl::StrCat("operator ", identity->name, ": ",
                                role.status().message()));
  }
  identity->role = *role;
  return identity;
}

}  // namespace cascade::security
