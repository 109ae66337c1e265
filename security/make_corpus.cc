// Writes identity_fuzz's seed corpus into the directory given: certificates
// the PKI issues (as PEM and as DER), and identity URIs.
//   bazel run //security:make_corpus -- "$PWD/security/corpus/identity_fuzz"
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <cstdio>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/files.h"
#include "security/identity.h"
#include "security/pki.h"

namespace cascade::security {
namespace {

std::string Der(const std::string& pem) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  unsigned char* der = nullptr;
  const int size = i2d_X509(cert, &der);
  std::string out(reinterpret_cast<const char*>(der),
                  static_cast<size_t>(size));
  OPENSSL_free(der);
  X509_free(cert);
  return out;
}

int Main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_corpus DIR\n");
    return 2;
  }
  const std::string dir = argv[1];
  absl::StatusOr<Credentials> ca = MakeCa(CaOptions{});
  if (!ca.ok()) return 1;
  std::vector<std::pair<std::string, std::string>> seeds;
  const std::vector<Identity> identities = {
      {IdentityKind::kNode, "p1-sb", Role::kNone},
      {IdentityKind::kNode, "odd/id%", Role::kNone},
      {IdentityKind::kOperator, "alice", Role::kAdmin},
      {IdentityKind::kOperator, "bob", Role::kViewer},
      {IdentityKind::kNode, "p1", Role::kNone, {"p1-d01", "p1-d02"}}};
  for (size_t i = 0; i < identities.size(); ++i) {
    IssueOptions options;
    options.identity = identities[i];
    if (identities[i].kind == IdentityKind::kNode) {
      options.ip_addresses = {"127.0.0.1"};
      options.dns_names = {"relay.example"};
    }
    absl::StatusOr<Credentials> issued = Issue(*ca, options);
    if (!issued.ok()) return 1;
    seeds.emplace_back(absl::StrCat("pem_", i),
                       std::string(1, '\0') + issued->certificate);
    seeds.emplace_back(absl::StrCat("der_", i),
                       std::string(1, '\1') + Der(issued->certificate));
    seeds.emplace_back(absl::StrCat("uri_", i),
                       std::string(1, '\2') + IdentityUri(identities[i]));
  }
  seeds.emplace_back("der_ca", std::string(1, '\1') + Der(ca->certificate));
  for (const auto& [name, data] : seeds) {
    if (!WriteFileAtomically(dir + "/" + name, data).ok()) return 1;
  }
  std::printf("wrote %zu seeds to %s\n", seeds.size(), dir.c_str());
  return 0;
}

}  // namespace
}  // namespace cascade::security

int main(int argc, char** argv) { return cascade::security::Main(argc, argv); }
