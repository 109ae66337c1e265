#include "tests/etcd/test_pki.h"

#include <sys/stat.h>

#include <fstream>

#include "absl/strings/str_cat.h"
#include "base/files.h"
#include "tests/media/process.h"

namespace cascade::testing {

absl::StatusOr<topology::etcd::EtcdTls> TestPki::ClientTls() const {
  topology::etcd::EtcdTls tls;
  for (const auto& [path, pem] :
       {std::pair(&ca, &tls.ca), std::pair(&client_cert, &tls.cert),
        std::pair(&client_key, &tls.key)}) {
    absl::StatusOr<std::string> text = cascade::ReadFile(*path);
    if (!text.ok()) return text.status();
    *pem = *std::move(text);
  }
  return tls;
}

absl::StatusOr<TestPki> MakeTestPki(const std::string& dir) {
  mkdir(dir.c_str(), 0700);
  // EC P-256, valid for two days. etcd's certificate is also a client
  // certificate: etcd 3.4's gateway dials etcd itself with it.
  const std::string script = dir + "/make.sh";
  std::ofstream(script)
      << "set -e\ncd '" << dir << "'\n"
      << "ec='-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes'\n"
      << "openssl req -x509 $ec -keyout ca.key -out ca.pem -days 2 "
         "-subj /CN=cascade-test-ca\n"
      << "printf 'subjectAltName=IP:127.0.0.1\\n"
         "extendedKeyUsage=serverAuth,clientAuth\\n' > server.ext\n"
      << "printf 'extendedKeyUsage=clientAuth\\n' > client.ext\n"
      << "for who in server client; do\n"
      << "  openssl req $ec -keyout $who.key -out $who.csr -subj /CN=$who\n"
      << "  openssl x509 -req -in $who.csr -CA ca.pem -CAkey ca.key "
         "-CAcreateserial -days 2 -extfile $who.ext -out $who.pem\n"
      << "done\n";
  CommandResult made =
      RunToCompletion({"/bin/bash", script}, dir + "/make", absl::Seconds(30));
  if (made.code != 0) {
    return absl::InternalError(absl::StrCat("cannot make test certificates in ",
                                            dir, " (exit ", made.code,
                                            "): ", made.err));
  }
  return TestPki{dir + "/ca.pem", dir + "/server.pem", dir + "/server.key",
                 dir + "/client.pem", dir + "/client.key"};
}

}  // namespace cascade::testing
