// Every page relayd serves is its source file byte for byte, under its
// content type, and fit for "Content-Security-Policy: default-src 'self'":
// nothing from another origin, no inline script, style or event handler.
#include "webrtc/edge/pages/pages.h"

#include <regex>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "base/files.h"
#include "gtest/gtest.h"

namespace cascade::edge {
namespace {

constexpr char kHtml[] = "text/html; charset=utf-8";
constexpr char kJs[] = "text/javascript; charset=utf-8";
constexpr char kCss[] = "text/css; charset=utf-8";

struct Served {
  const char* path;
  const char* file;
  const char* content_type;
};

constexpr Served kServed[] = {
    {"/watch", "watch.html", kHtml},
    {"/watch.html", "watch.html", kHtml},
    {"/publish", "publish.html", kHtml},
    {"/publish.html", "publish.html", kHtml},
    {"/session.js", "session.js", kJs},
    {"/watch.js", "watch.js", kJs},
    {"/publish.js", "publish.js", kJs},
    {"/style.css", "style.css", kCss},
};

// The source file, a data dependency (the test runs in its runfiles).
std::string Source(const std::string& file) {
  absl::StatusOr<std::string> text =
      ReadFile(absl::StrCat("webrtc/edge/pages/", file));
  EXPECT_TRUE(text.ok()) << text.status();
  return text.ok() ? *text : "";
}

TEST(PagesTest, EveryPageIsItsSourceFile) {
  for (const Served& served : kServed) {
    const Page* page = FindPage(served.path);
    ASSERT_NE(page, nullptr) << served.path;
    EXPECT_EQ(page->content_type, served.content_type) << served.path;
    const std::string source = Source(served.file);
    EXPECT_FALSE(source.empty()) << served.file;
    EXPECT_TRUE(page->body == source)
        << served.path << " differs from " << served.file;
  }
}

TEST(PagesTest, QueryStringIsIgnored) {
  EXPECT_EQ(FindPage("/watch?v=2"), FindPage("/watch"));
  EXPECT_EQ(FindPage("/session.js?"), FindPage("/session.js"));
}

TEST(PagesTest, UnknownPathsAreNotFound) {
  for (const char* path :
       {"", "/", "watch", "/watch/", "/WATCH", "/watch.htm", "/index.html",
        "/whep/program", "/pages.cc", "/pages_test.cc", "/../watch",
        "/style.css/", "//watch", "/watch#stream=x"}) {
    EXPECT_EQ(FindPage(path), nullptr) << path;
  }
}

std::vector<std::string> Matches(const std::string& text, const char* re) {
  std::vector<std::string> found;
  const std::regex pattern(re, std::regex::icase);
  for (auto it = std::sregex_iterator(text.begin(), text.end(), pattern);
       it != std::sregex_iterator(); ++it) {
    found.push_back(it->size() > 1 ? (*it)[1].str() : it->str());
  }
  return found;
}

TEST(PagesTest, NothingFromAnotherOrigin) {
  for (const Served& served : kServed) {
    const std::string body = std::string(FindPage(served.path)->body);
    const std::string lower = absl::AsciiStrToLower(body);
    EXPECT_FALSE(absl::StrContains(lower, "http://")) << served.path;
    EXPECT_FALSE(absl::StrContains(lower, "https://")) << served.path;
    // Protocol-relative URLs and CSS imports reach other origins too.
    EXPECT_TRUE(Matches(body, R"((src|href)\s*=\s*["']?//)").empty())
        << served.path;
    EXPECT_FALSE(absl::StrContains(lower, "@import")) << served.path;
    EXPECT_FALSE(absl::StrContains(lower, "style=")) << served.path;
  }
}

TEST(PagesTest, HtmlIsSafeUnderTheCsp) {
  for (const char* path : {"/watch", "/publish"}) {
    const std::string body = std::string(FindPage(path)->body);
    // Every script is an empty element with a src.
    const std::vector<std::string> scripts =
        Matches(body, R"(<script\b[^>]*>[^<]*)");
    EXPECT_EQ(scripts.size(), 2u) << path;
    for (const std::string& script : scripts) {
      EXPECT_TRUE(std::regex_match(
          script, std::regex(R"(<script src="[a-z]+\.js" defer>)")))
          << path << ": " << script;
    }
    EXPECT_EQ(Matches(body, R"(<script\b)").size(), scripts.size()) << path;
    EXPECT_TRUE(Matches(body, R"(<style\b)").empty()) << path;
    // Inline event handlers (onclick=...) and javascript: URLs.
    EXPECT_TRUE(Matches(body, R"(\son[a-z]+\s*=)").empty()) << path;
    EXPECT_TRUE(Matches(body, R"(javascript:)").empty()) << path;
    // Everything the page loads is served beside it.
    const std::vector<std::string> refs =
        Matches(body, R"re((?:src|href)="([^"]*)")re");
    // The style sheet and the two scripts.
    EXPECT_EQ(refs.size(), 3u) << path;
    for (const std::string& ref : refs) {
      EXPECT_NE(FindPage(absl::StrCat("/", ref)), nullptr)
          << path << " loads " << ref;
    }
  }
}

}  // namespace
}  // namespace cascade::edge
