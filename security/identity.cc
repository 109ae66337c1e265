#include "security/identity.h"

#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <memory>

#include "absl/container/flat_hash_set.h"
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
struct BignumFree {
  void operator()(BIGNUM* number) const { BN_free(number); }
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

bool Identity::SpeaksFor(absl::string_view node_id) const {
  if (kind != IdentityKind::kNode) return false;
  return name == node_id || std::find(more_nodes.begin(), more_nodes.end(),
                                      node_id) != more_nodes.end();
}

std::string Describe(const Identity& identity) {
  if (identity.kind == IdentityKind::kNode) {
    if (identity.more_nodes.empty())
      return absl::StrCat("node ", identity.name);
    // A few names, then a count: a group's certificate names many.
    constexpr size_t kNamed = 3;
    std::string text = absl::StrCat("nodes ", identity.name);
    const size_t shown = std::min(identity.more_nodes.size(), kNamed - 1);
    for (size_t i = 0; i < shown; ++i) {
      absl::StrAppend(&text,
                      i + 1 == identity.more_nodes.size() ? " and " : ", ",
                      identity.more_nodes[i]);
    }
    if (identity.more_nodes.size() > shown) {
      absl::StrAppend(&text, " and ", identity.more_nodes.size() - shown,
                      " more");
    }
    return text;
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
    if (identity.more_nodes.size() + 1 > kMaxNodesPerCertificate) {
      return absl::InvalidArgumentError(absl::StrCat(
          identity.more_nodes.size() + 1,
          " nodes in one certificate, more than ", kMaxNodesPerCertificate));
    }
    // Views of the identity's own strings (a braced list here would make
    // views of temporary copies).
    absl::flat_hash_set<absl::string_view> seen;
    seen.insert(absl::string_view(identity.name));
    if (absl::Status s = control::ValidateNodeId(identity.name); !s.ok()) {
      return s;
    }
    for (const std::string& id : identity.more_nodes) {
      if (absl::Status s = control::ValidateNodeId(id); !s.ok()) return s;
      if (!seen.insert(absl::string_view(id)).second) {
        return absl::InvalidArgumentError(
            absl::StrCat("node ", id, " named twice"));
      }
    }
    return absl::OkStatus();
  }
  if (!identity.more_nodes.empty()) {
    return absl::InvalidArgumentError(
        "an operator's certificate names one operator and no node");
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

std::vector<std::string> IdentityUris(const Identity& identity) {
  std::vector<std::string> uris = {IdentityUri(identity)};
  for (const std::string& id : identity.more_nodes) {
    uris.push_back(absl::StrCat(kNodeUriPrefix, PercentEncode(id)));
  }
  return uris;
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

namespace {

absl::StatusOr<std::unique_ptr<X509, X509Free>> ReadPem(absl::string_view pem) {
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
  return certificate;
}

absl::StatusOr<Identity> IdentityOf(X509* certificate) {
  int critical = -1;
  std::unique_ptr<GENERAL_NAMES, GeneralNamesFree> names(
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(
          certificate, NID_subject_alt_name, &critical, nullptr)));
  if (names == nullptr) {
    return Invalid(critical == -2 ? "more than one subjectAltName extension"
                                  : "no subjectAltName with a Cascade URI");
  }
  std::vector<absl::string_view> uris;
  for (int i = 0; i < sk_GENERAL_NAME_num(names.get()); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(names.get(), i);
    if (name->type != GEN_URI) continue;
    const ASN1_IA5STRING* value = name->d.uniformResourceIdentifier;
    uris.emplace_back(
        reinterpret_cast<const char*>(ASN1_STRING_get0_data(value)),
        static_cast<size_t>(ASN1_STRING_length(value)));
  }
  if (uris.empty()) return Invalid("no URI SAN, so no Cascade identity");
  if (uris.size() > kMaxNodesPerCertificate) {
    return Invalid(absl::StrCat(uris.size(), " URI SANs, more than ",
                                kMaxNodesPerCertificate));
  }
  absl::StatusOr<Identity> identity = ParseIdentityUri(uris[0]);
  if (!identity.ok()) return Invalid(identity.status().message());
  for (size_t i = 1; i < uris.size(); ++i) {
    absl::StatusOr<Identity> more = ParseIdentityUri(uris[i]);
    if (!more.ok()) return Invalid(more.status().message());
    if (identity->kind != IdentityKind::kNode ||
        more->kind != IdentityKind::kNode) {
      return Invalid(
          absl::StrCat(uris.size(),
                       " URI SANs; only a node's certificate names several "
                       "(nodes), an operator's names one"));
    }
    identity->more_nodes.push_back(std::move(more->name));
  }
  if (identity->kind == IdentityKind::kNode) {
    if (absl::Status valid = ValidateIdentity(*identity); !valid.ok()) {
      return Invalid(valid.message());
    }
    return identity;
  }

  absl::StatusOr<std::string> ou = OrganizationalUnit(certificate);
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

}  // namespace

absl::StatusOr<Identity> IdentityFromPem(absl::string_view pem) {
  absl::StatusOr<std::unique_ptr<X509, X509Free>> certificate = ReadPem(pem);
  if (!certificate.ok()) return certificate.status();
  return IdentityOf(certificate->get());
}

absl::StatusOr<CertificateInfo> CertificateInfoFromPem(absl::string_view pem) {
  absl::StatusOr<std::unique_ptr<X509, X509Free>> certificate = ReadPem(pem);
  if (!certificate.ok()) return certificate.status();
  X509* x509 = certificate->get();
  absl::StatusOr<Identity> identity = IdentityOf(x509);
  if (!identity.ok()) return identity.status();
  CertificateInfo info;
  info.identity = *std::move(identity);

  std::unique_ptr<BIGNUM, BignumFree> serial(
      ASN1_INTEGER_to_BN(X509_get0_serialNumber(x509), nullptr));
  char* hex = serial == nullptr ? nullptr : BN_bn2hex(serial.get());
  if (hex == nullptr) return Invalid("its serial number cannot be read");
  absl::StatusOr<std::string> normal = NormalizeSerial(hex);
  OPENSSL_free(hex);
  if (!normal.ok()) return Invalid(normal.status().message());
  info.serial = *std::move(normal);

  struct tm expiry = {};
  if (ASN1_TIME_to_tm(X509_get0_notAfter(x509), &expiry) != 1) {
    return Invalid("its notAfter is not a valid time");
  }
  info.not_after = absl::FromTM(expiry, absl::UTCTimeZone());
  return info;
}

absl::StatusOr<std::string> NormalizeSerial(absl::string_view serial) {
  absl::string_view text = absl::StripAsciiWhitespace(serial);
  if (!absl::ConsumePrefix(&text, "0x")) absl::ConsumePrefix(&text, "0X");
  std::string digits;
  for (char c : text) {
    if (c == ':') continue;
    if (!absl::ascii_isxdigit(static_cast<unsigned char>(c))) {
      return absl::InvalidArgumentError(
          absl::StrCat("a serial number is hex digits (colons allowed), not \"",
                       absl::CHexEscape(serial.substr(0, 64)), "\""));
    }
    digits.push_back(absl::ascii_tolower(static_cast<unsigned char>(c)));
  }
  const size_t first = digits.find_first_not_of('0');
  if (digits.empty()) {
    return absl::InvalidArgumentError("an empty serial number");
  }
  digits = first == std::string::npos ? "0" : digits.substr(first);
  if (digits.size() > 40) {
    return absl::InvalidArgumentError(
        absl::StrCat("a serial number of ", (digits.size() + 1) / 2,
                     " bytes; RFC 5280 allows at most 20"));
  }
  return digits;
}

}  // namespace cascade::security
