#include "topology/server_tls.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "base/files.h"

namespace cascade::topology {
namespace {

// Each refusal is one line naming what to give or the flag at fault; the
// TLS path itself runs in the integration tests (tests/topology).
TEST(ServerTlsTest, RefusalsNameWhatToGive) {
  const std::string dir = std::getenv("TEST_TMPDIR");
  const std::string pem = dir + "/x.pem";
  ASSERT_TRUE(WriteFileAtomically(pem, "-----BEGIN X-----\n").ok());
  struct Case {
    ServerTlsFiles files;
    std::string error;
  };
  const std::vector<Case> cases = {
      {{},
       "refusing to serve without TLS: give --tls-cert and --tls-key (and "
       "--tls-client-ca for mutual TLS), or --insecure for a test bed"},
      {{pem, pem, "", "required", true},
       "--insecure serves plaintext: it does not go with --tls-cert"},
      {{pem, "", "", "required", false},
       "--tls-cert and --tls-key go together"},
      {{"", "", pem, "required", true},
       "--tls-client-ca needs --tls-cert and --tls-key"},
      {{pem, pem, pem, "maybe", false},
       "--client-cert must be required or optional, not \"maybe\""},
      {{pem, pem, "", "optional", false},
       "--client-cert=optional needs --tls-client-ca"},
      {{pem, dir + "/none.key", "", "required", false},
       "--tls-key: " + dir + "/none.key"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<ServerTls> tls = MakeServerTls(c.files);
    ASSERT_FALSE(tls.ok()) << c.error;
    EXPECT_EQ(tls.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(tls.status().message().substr(0, c.error.size()), c.error);
  }
}

TEST(ServerTlsTest, InsecureIsPlaintextWithoutIdentities) {
  ServerTlsFiles files;
  files.insecure = true;
  absl::StatusOr<ServerTls> tls = MakeServerTls(files);
  ASSERT_TRUE(tls.ok()) << tls.status();
  EXPECT_NE(tls->credentials, nullptr);
  EXPECT_FALSE(tls->peer_identity);
  EXPECT_EQ(tls->token_verifier, nullptr);
}

}  // namespace
}  // namespace cascade::topology
