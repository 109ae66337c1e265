#include "tools/probe/config.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/files.h"

namespace cascade {
namespace probe {
namespace {

media::Endpoint At(const char* text) { return *media::Endpoint::Parse(text); }

TEST(ParseParentsTest, OneKeyServesEveryParent) {
  auto parents = ParseParents("10.0.0.1:6000,10.0.0.2:6001", "0a0b");
  ASSERT_TRUE(parents.ok()) << parents.status();
  ASSERT_EQ(parents->size(), 2u);
  EXPECT_EQ((*parents)[0].address, At("10.0.0.1:6000"));
  EXPECT_EQ((*parents)[1].address, At("10.0.0.2:6001"));
  EXPECT_EQ((*parents)[0].key, std::string("\x0a\x0b"));
  EXPECT_EQ((*parents)[1].key, std::string("\x0a\x0b"));
}

TEST(ParseParentsTest, OneKeyPerParentInOrder) {
  // As read from a key file: a trailing newline is fine.
  auto parents = ParseParents("10.0.0.1:6000,10.0.0.2:6001", "0102,0304\n");
  ASSERT_TRUE(parents.ok()) << parents.status();
  EXPECT_EQ((*parents)[0].key, std::string("\x01\x02"));
  EXPECT_EQ((*parents)[1].key, std::string("\x03\x04"));
  auto single = ParseParents("10.0.0.1:6000", "0102");
  ASSERT_TRUE(single.ok());
  EXPECT_EQ(single->size(), 1u);
}

TEST(ParseParentsTest, BadInputSaysWhatIsWrong) {
  const struct {
    const char* parents;
    const char* keys;
    const char* error;
  } cases[] = {
      {"10.0.0.1:6000,10.0.0.2:6001,10.0.0.3:6002", "01,02", "2 keys for 3"},
      {"10.0.0.1:6000", "01,02", "2 keys for 1"},
      {"10.0.0.1:6000,nowhere", "01", "parent 2: "},
      {"10.0.0.1:6000,", "01", "parent 2: "},
      {"10.0.0.1:0", "01", "port 0"},
      {"10.0.0.1:6000,10.0.0.2:6001", "01,xyz0", "parent 2: hex key"},
      {"10.0.0.1:6000,10.0.0.2:6001", "01,", "parent 2: hex key"},
      {"10.0.0.1:6000,10.0.0.1:6000", "01", "listed twice"},
  };
  for (const auto& c : cases) {
    auto parents = ParseParents(c.parents, c.keys);
    ASSERT_FALSE(parents.ok()) << c.parents << " / " << c.keys;
    EXPECT_NE(parents.status().message().find(c.error), std::string::npos)
        << parents.status();
  }
}

TEST(CheckNodeIdTest, OneToSixtyFourBytes) {
  EXPECT_TRUE(CheckNodeId("site-1").ok());
  EXPECT_TRUE(CheckNodeId(std::string(64, 'a')).ok());
  EXPECT_FALSE(CheckNodeId("").ok());
  EXPECT_FALSE(CheckNodeId(std::string(65, 'a')).ok());
}

TEST(ParseSitesTest, OldAndNewLineFormsTogether) {
  SiteOptions base;
  base.decode = false;
  auto sites =
      ParseSites("sites.txt",
                 "# listen parent node key [standby key]...\n"
                 "127.0.0.2:0\n"
                 "\n"
                 "127.0.0.3:0 10.0.0.1:6000 site-3 0a\n"
                 "127.0.0.4:0\t10.0.0.1:6000 site-4 0b 10.0.0.2:6001 0c "
                 "10.0.0.3:6002 0d\r\n",
                 base);
  ASSERT_TRUE(sites.ok()) << sites.status();
  ASSERT_EQ(sites->size(), 3u);
  const SiteOptions& push = (*sites)[0];
  EXPECT_EQ(push.listen, At("127.0.0.2:0"));
  EXPECT_TRUE(push.parents.empty());
  EXPECT_FALSE(push.decode);  // from base
  const SiteOptions& one = (*sites)[1];
  EXPECT_EQ(one.node_id, "site-3");
  ASSERT_EQ(one.parents.size(), 1u);
  EXPECT_EQ(one.parents[0].address, At("10.0.0.1:6000"));
  EXPECT_EQ(one.parents[0].key, "\x0a");
  const SiteOptions& three = (*sites)[2];
  EXPECT_EQ(three.node_id, "site-4");
  ASSERT_EQ(three.parents.size(), 3u);
  EXPECT_EQ(three.parents[0].address, At("10.0.0.1:6000"));
  EXPECT_EQ(three.parents[0].key, "\x0b");
  EXPECT_EQ(three.parents[1].address, At("10.0.0.2:6001"));
  EXPECT_EQ(three.parents[1].key, "\x0c");
  EXPECT_EQ(three.parents[2].address, At("10.0.0.3:6002"));
  EXPECT_EQ(three.parents[2].key, "\x0d");
}

TEST(ParseSitesTest, UpstreamSsrcEndsAChildsLine) {
  auto sites = ParseSites("sites.txt",
                          "127.0.0.3:0 10.0.0.1:6000 site-3 0a upstream=7\n"
                          "127.0.0.4:0 10.0.0.1:6000 site-4 0b 10.0.0.2:6001 "
                          "0c upstream=4294967295\n"
                          "127.0.0.5:0 10.0.0.1:6000 site-5 0d\n",
                          SiteOptions());
  ASSERT_TRUE(sites.ok()) << sites.status();
  ASSERT_EQ(sites->size(), 3u);
  EXPECT_EQ((*sites)[0].upstream_ssrc, 7u);
  EXPECT_EQ((*sites)[0].parents.size(), 1u);
  EXPECT_EQ((*sites)[1].upstream_ssrc, 4294967295u);
  EXPECT_EQ((*sites)[1].parents.size(), 2u);
  EXPECT_EQ((*sites)[2].upstream_ssrc, 0u);
}

TEST(ParseSitesTest, StreamKeysFromAKeyFile) {
  const std::string keys = std::string(std::getenv("TEST_TMPDIR")) + "/k";
  ASSERT_TRUE(
      WriteFileAtomically(
          keys,
          "01 000102030405060708090a0b0c0d0e0f101112131415161718191a1b\n"
          "02 1f1e1d1c1b1a191817161514131211100f0e0d0c0b0a090807060504\n")
          .ok());
  auto sites = ParseSites(
      "sites.txt",
      absl::StrCat("127.0.0.3:0 srtp_key_file=", keys, "\n",
                   "127.0.0.4:0 10.0.0.1:6000 site-4 0b srtp_key_file=", keys,
                   " upstream=9\n", "127.0.0.5:0\n"),
      SiteOptions());
  ASSERT_TRUE(sites.ok()) << sites.status();
  ASSERT_EQ(sites->size(), 3u);
  ASSERT_EQ((*sites)[0].srtp_keys.size(), 2u);
  EXPECT_EQ((*sites)[0].srtp_keys[1].id, std::vector<uint8_t>{2});
  EXPECT_EQ((*sites)[1].srtp_keys.size(), 2u);
  EXPECT_EQ((*sites)[1].upstream_ssrc, 9u);
  EXPECT_EQ((*sites)[1].parents.size(), 1u);
  EXPECT_TRUE((*sites)[2].srtp_keys.empty());

  const std::string bad = std::string(std::getenv("TEST_TMPDIR")) + "/bad";
  ASSERT_TRUE(WriteFileAtomically(bad, "01 00\n").ok());
  for (const auto& [line, error] :
       std::vector<std::pair<std::string, std::string>>{
           {"127.0.0.1:0 srtp_key_file=" + bad,
            "f:1: srtp_key_file: " + bad + ": line 1: key must be 28 bytes"},
           {"127.0.0.1:0 srtp_key_file=/nonexistent/k",
            "f:1: srtp_key_file: /nonexistent/k: no such file"},
           {"127.0.0.1:0 color=red", "f:1: unknown option \"color=red\""}}) {
    auto parsed = ParseSites("f", line, SiteOptions());
    ASSERT_FALSE(parsed.ok()) << line;
    EXPECT_NE(parsed.status().message().find(error), std::string::npos)
        << parsed.status();
  }
}

TEST(ParseUpstreamSsrcTest, DecimalOneToTwoToTheThirtyTwoMinusOne) {
  EXPECT_EQ(*ParseUpstreamSsrc("1"), 1u);
  for (const char* bad : {"0", "", "-1", "4294967296", "0x10", "7a"}) {
    EXPECT_FALSE(ParseUpstreamSsrc(bad).ok()) << bad;
  }
}

TEST(ParseSitesTest, BadLinesNameFileAndLine) {
  const struct {
    const char* contents;
    const char* error;
  } cases[] = {
      {"127.0.0.1:0 10.0.0.1:6000\n", "f:1: 2 fields"},
      {"127.0.0.1:0\n127.0.0.1:0 10.0.0.1:6000 id\n", "f:2: 3 fields"},
      {"127.0.0.1:0 10.0.0.1:6000 id 0a 10.0.0.2:6001\n", "f:1: 5 fields"},
      {"# c\nbad 10.0.0.1:6000 id 0a\n", "f:2: LISTEN: "},
      {"127.0.0.1:0 10.0.0.1 id 0a\n", "f:1: parent 1: "},
      {"127.0.0.1:0 10.0.0.1:6000 id 0a 10.0.0.2:6001 0z\n",
       "f:1: parent 2: hex key"},
      {"127.0.0.1:0 10.0.0.1:6000 id 0a 10.0.0.1:6000 0b\n", "f:1: parent "},
      {"127.0.0.1:0 10.0.0.1:6000 "
       "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa "
       "0a\n",
       "f:1: NODE_ID: "},
      {"# only a comment\n\n", "f lists no sites"},
      {"127.0.0.1:0 10.0.0.1:6000 id 0a upstream=0\n",
       "f:1: upstream: SSRC must be"},
      {"127.0.0.1:0 10.0.0.1:6000 id 0a upstream=x\n",
       "f:1: upstream: SSRC must be"},
      {"127.0.0.1:0 upstream=5\n", "f:1: upstream= needs a parent"},
      {"127.0.0.1:0 10.0.0.1:6000 id 0a upstream=5 10.0.0.2:6001 0b\n",
       "f:1: 7 fields"},
  };
  for (const auto& c : cases) {
    auto sites = ParseSites("f", c.contents, SiteOptions());
    ASSERT_FALSE(sites.ok()) << c.contents;
    EXPECT_NE(sites.status().message().find(c.error), std::string::npos)
        << sites.status();
  }
}

}  // namespace
}  // namespace probe
}  // namespace cascade
