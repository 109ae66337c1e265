// The headless Chromium driver against the real browser: pages from a local
// HTTP server, JavaScript results and exceptions, console capture, bounded
// waits, the fake camera, and WebRTC decoding video inside one page.
#include "tests/browser/chromium.h"

#include <gtest/gtest.h>
#include <httplib.h>
#include <stdlib.h>

#include <map>
#include <memory>
#include <string>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "base/files.h"
#include "tests/common/runfile.h"
#include "tests/common/wait.h"

namespace cascade::browser {
namespace {

using google::protobuf::Value;

constexpr absl::Duration kTimeout = absl::Seconds(20);

// Serves fixed pages on 127.0.0.1 at a port the kernel chose (a potentially
// trustworthy origin: getUserMedia and WebRTC need one).
class PageServer {
 public:
  // Path to HTML.
  using Pages = std::map<std::string, std::string>;

  explicit PageServer(const Pages& pages) {
    for (const auto& [path, html] : pages) {
      server_.Get(
          path, [html = html](const httplib::Request&, httplib::Response& res) {
            res.set_content(html, "text/html");
          });
    }
    port_ = server_.bind_to_any_port("127.0.0.1");
    if (port_ <= 0) return;
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    // stop() before the thread runs would be lost, and join() would hang.
    running_ = testing::WaitUntil("the page server runs", kTimeout,
                                  [this] { return server_.is_running(); });
  }
  ~PageServer() {
    server_.stop();
    if (thread_.joinable()) thread_.join();
  }

  bool ok() const { return port_ > 0 && running_; }
  std::string Url(absl::string_view path) const {
    return absl::StrCat("http://127.0.0.1:", port_, path);
  }

 private:
  httplib::Server server_;
  int port_ = -1;
  std::thread thread_;
  bool running_ = false;
};

// The flags the WebRTC tests launch with: a fake camera and microphone,
// granted without a prompt.
ChromiumOptions FakeMedia() {
  ChromiumOptions options;
  options.extra_flags = {"--use-fake-device-for-media-stream",
                         "--use-fake-ui-for-media-stream"};
  return options;
}

std::string Console(const Chromium& chromium) {
  return absl::StrCat("console:\n", absl::StrJoin(chromium.ConsoleLog(), "\n"),
                      "\nbrowser log: ", chromium.log_path());
}

bool Logged(const Chromium& chromium, absl::string_view line) {
  for (const std::string& entry : chromium.ConsoleLog()) {
    if (entry == line) return true;
  }
  return false;
}

constexpr char kGreetingPage[] =
    "<!DOCTYPE html><title>greeting</title>"
    "<p id=greeting>hello from cascade</p>"
    "<script>console.info('page script ran', 1 + 1)</script>";

TEST(ChromiumTest, NavigatesAndEvaluates) {
  PageServer server(
      {{"/", kGreetingPage}, {"/broken", "<img src=/missing.png>"}});
  ASSERT_TRUE(server.ok());
  const absl::Time start = absl::Now();
  absl::StatusOr<std::unique_ptr<Chromium>> chromium = Chromium::Launch();
  ASSERT_TRUE(chromium.ok()) << chromium.status();
  const absl::Time launched = absl::Now();
  Chromium& page = **chromium;
  ASSERT_TRUE(page.Navigate(server.Url("/"), kTimeout).ok()) << Console(page);
  const absl::Time navigated = absl::Now();
  RecordProperty("launch_ms", absl::ToInt64Milliseconds(launched - start));
  RecordProperty("navigate_ms",
                 absl::ToInt64Milliseconds(navigated - launched));

  absl::StatusOr<Value> text = page.Evaluate(
      "document.getElementById('greeting').textContent", kTimeout);
  ASSERT_TRUE(text.ok()) << text.status();
  EXPECT_EQ(text->string_value(), "hello from cascade");

  // Objects come back by value; promises are awaited.
  absl::StatusOr<Value> object = page.Evaluate(
      "({title: document.title, list: [1, true, null]})", kTimeout);
  ASSERT_TRUE(object.ok()) << object.status();
  const auto& fields = object->struct_value().fields();
  ASSERT_EQ(fields.count("title"), 1u);
  EXPECT_EQ(fields.at("title").string_value(), "greeting");
  ASSERT_EQ(fields.count("list"), 1u);
  ASSERT_EQ(fields.at("list").list_value().values_size(), 3);
  EXPECT_EQ(fields.at("list").list_value().values(0).number_value(), 1);
  EXPECT_TRUE(fields.at("list").list_value().values(1).bool_value());
  EXPECT_TRUE(fields.at("list").list_value().values(2).has_null_value());
  absl::StatusOr<Value> awaited = page.Evaluate(
      "new Promise(resolve => setTimeout(() => resolve(6 * 7), 100))",
      kTimeout);
  ASSERT_TRUE(awaited.ok()) << awaited.status();
  EXPECT_EQ(awaited->number_value(), 42);
  absl::StatusOr<Value> nothing = page.Evaluate("undefined", kTimeout);
  ASSERT_TRUE(nothing.ok()) << nothing.status();
  EXPECT_TRUE(nothing->has_null_value());
  absl::StatusOr<Value> big = page.Evaluate("5n ** 30n", kTimeout);
  ASSERT_TRUE(big.ok()) << big.status();
  EXPECT_EQ(big->string_value(), "931322574615478515625n");

  // The page's own script and what an evaluation prints, in order; an
  // object argument as JSON.
  ASSERT_TRUE(page.Evaluate("console.log('from the test', {n: 1}, 'x'); "
                            "console.error('an error line')",
                            kTimeout)
                  .ok());
  EXPECT_TRUE(Logged(page, "console.info: page script ran 2")) << Console(page);
  EXPECT_TRUE(Logged(page, "console.log: from the test Object x"))
      << Console(page);
  EXPECT_TRUE(Logged(page, "console.error: an error line")) << Console(page);

  // A navigation that fails is an error with Chromium's reason; a page
  // that loads without one of its resources loads, the failure logged.
  absl::Status missing = page.Navigate(server.Url("/missing"), kTimeout);
  EXPECT_TRUE(absl::IsUnavailable(missing)) << missing;
  EXPECT_TRUE(absl::StrContains(missing.message(), "net::ERR_")) << missing;
  ASSERT_TRUE(page.Navigate(server.Url("/broken"), kTimeout).ok())
      << Console(page);
  EXPECT_TRUE(testing::WaitUntil("the missing image is logged", kTimeout, [&] {
    return page.Evaluate("0", kTimeout).ok() &&  // handles what came meanwhile
           absl::StrContains(absl::StrJoin(page.ConsoleLog(), "\n"),
                             "status of 404 (Not Found) (" +
                                 server.Url("/missing.png") + ")");
  })) << Console(page);
}

TEST(ChromiumTest, ExceptionsAreErrorsWithTheirText) {
  PageServer server(PageServer::Pages{{"/", kGreetingPage}});
  ASSERT_TRUE(server.ok());
  absl::StatusOr<std::unique_ptr<Chromium>> chromium = Chromium::Launch();
  ASSERT_TRUE(chromium.ok()) << chromium.status();
  Chromium& page = **chromium;
  ASSERT_TRUE(page.Navigate(server.Url("/"), kTimeout).ok()) << Console(page);

  absl::StatusOr<Value> thrown =
      page.Evaluate("throw new RangeError('boom from the page')", kTimeout);
  EXPECT_TRUE(absl::IsAborted(thrown.status())) << thrown.status();
  EXPECT_TRUE(absl::StrContains(thrown.status().message(),
                                "RangeError: boom from the page"))
      << thrown.status();
  absl::StatusOr<Value> rejected = page.Evaluate(
      "(async () => { await null; return no_such_variable; })()", kTimeout);
  EXPECT_TRUE(absl::IsAborted(rejected.status())) << rejected.status();
  EXPECT_TRUE(
      absl::StrContains(rejected.status().message(),
                        "ReferenceError: no_such_variable is not defined"))
      << rejected.status();
  absl::StatusOr<Value> not_an_error =
      page.Evaluate("Promise.reject('plain text')", kTimeout);
  EXPECT_TRUE(absl::IsAborted(not_an_error.status())) << not_an_error.status();
  EXPECT_TRUE(absl::StrContains(not_an_error.status().message(), "plain text"))
      << not_an_error.status();

  // An exception no evaluation caught is in the console log.
  ASSERT_TRUE(page.Evaluate("setTimeout(() => { window.thrown = true; "
                            "throw new Error('late boom'); })",
                            kTimeout)
                  .ok());
  ASSERT_TRUE(page.WaitFor("window.thrown === true", kTimeout).ok());
  EXPECT_TRUE(absl::StrContains(absl::StrJoin(page.ConsoleLog(), "\n"),
                                "uncaught: Error: late boom"))
      << Console(page);

  // The page still answers after all that.
  absl::StatusOr<Value> after = page.Evaluate("1 + 1", kTimeout);
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(after->number_value(), 2);
}

TEST(ChromiumTest, WaitForIsBounded) {
  absl::StatusOr<std::unique_ptr<Chromium>> chromium = Chromium::Launch();
  ASSERT_TRUE(chromium.ok()) << chromium.status();
  Chromium& page = **chromium;

  const absl::Duration timeout = absl::Milliseconds(500);
  const absl::Time start = absl::Now();
  absl::Status never = page.WaitFor("document.title === 'never'", timeout);
  const absl::Duration took = absl::Now() - start;
  EXPECT_TRUE(absl::IsDeadlineExceeded(never)) << never;
  EXPECT_TRUE(absl::StrContains(never.message(), "still false after 500ms"))
      << never;
  EXPECT_GE(took, timeout);
  EXPECT_LT(took, timeout + absl::Seconds(5)) << "not bounded by its timeout";
  // A promise that never settles is bounded the same way.
  absl::StatusOr<Value> pending =
      page.Evaluate("new Promise(() => {})", timeout);
  EXPECT_TRUE(absl::IsDeadlineExceeded(pending.status())) << pending.status();

  // What becomes true is waited for; what throws ends the wait at once.
  ASSERT_TRUE(page.Evaluate("setTimeout(() => { window.ready = 'yes'; }, 200)",
                            kTimeout)
                  .ok());
  EXPECT_TRUE(page.WaitFor("window.ready === 'yes'", kTimeout).ok());
  const absl::Time thrown_start = absl::Now();
  absl::Status thrown = page.WaitFor("no_such_thing.ready", kTimeout);
  EXPECT_TRUE(absl::IsAborted(thrown)) << thrown;
  EXPECT_LT(absl::Now() - thrown_start, kTimeout / 2);
}

TEST(ChromiumTest, FakeCameraGivesAVideoTrack) {
  PageServer server(PageServer::Pages{{"/", kGreetingPage}});
  ASSERT_TRUE(server.ok());
  absl::StatusOr<std::unique_ptr<Chromium>> chromium =
      Chromium::Launch(FakeMedia());
  ASSERT_TRUE(chromium.ok()) << chromium.status();
  Chromium& page = **chromium;
  ASSERT_TRUE(page.Navigate(server.Url("/"), kTimeout).ok()) << Console(page);
  absl::StatusOr<Value> tracks = page.Evaluate(
      "navigator.mediaDevices.getUserMedia({video: true, audio: true})"
      ".then(stream => stream.getTracks().map(track => "
      "`${track.kind} ${track.readyState}`).sort())",
      kTimeout);
  ASSERT_TRUE(tracks.ok()) << tracks.status() << "\n" << Console(page);
  ASSERT_EQ(tracks->list_value().values_size(), 2) << tracks->DebugString();
  EXPECT_EQ(tracks->list_value().values(0).string_value(), "audio live");
  EXPECT_EQ(tracks->list_value().values(1).string_value(), "video live");
}

// Opens the loopback page and starts its two peer connections
// (startLoopback(`argument`)), once they are connected.
void StartLoopback(Chromium& page, const PageServer& server,
                   absl::string_view argument) {
  ASSERT_TRUE(page.Navigate(server.Url("/loopback.html"), kTimeout).ok())
      << Console(page);
  absl::Status started =
      page.Evaluate(absl::StrCat("startLoopback(", argument, ")"), kTimeout)
          .status();
  ASSERT_TRUE(started.ok()) << started << "\n" << Console(page);
  absl::Status connected =
      page.WaitFor("receiver.connectionState === 'connected'", kTimeout);
  ASSERT_TRUE(connected.ok()) << connected << "\n" << Console(page);
}

class LoopbackTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::string> page =
        ReadFile(testing::Runfile("tests/browser/loopback.html"));
    ASSERT_TRUE(page.ok()) << page.status();
    server_ = std::make_unique<PageServer>(
        PageServer::Pages{{"/loopback.html", *page}});
    ASSERT_TRUE(server_->ok());
  }

  std::unique_ptr<PageServer> server_;
};

TEST_F(LoopbackTest, PeerConnectionDecodesVideo) {
  absl::StatusOr<std::unique_ptr<Chromium>> chromium =
      Chromium::Launch(FakeMedia());
  ASSERT_TRUE(chromium.ok()) << chromium.status();
  Chromium& page = **chromium;
  ASSERT_NO_FATAL_FAILURE(StartLoopback(page, *server_, ""));

  // Frames keep coming, decoded at the fake camera's size.
  absl::Status decoded = page.WaitFor(
      "inboundVideo().then(stats => stats !== null && "
      "stats.framesDecoded >= 10 && stats.frameWidth > 0)",
      kTimeout);
  ASSERT_TRUE(decoded.ok()) << decoded << "\n" << Console(page);
  absl::StatusOr<Value> decoder = page.Evaluate(
      "inboundVideo().then(stats => `${stats.decoderImplementation} "
      "${stats.frameWidth}x${stats.frameHeight}`)",
      kTimeout);
  ASSERT_TRUE(decoder.ok()) << decoder.status();
  RecordProperty("decoder", decoder->string_value());
}

// The situation of a browser test against a relay on 127.0.0.1: the peer
// that sends offers only 127.0.0.1 (Chromium gathers such candidates only
// with --allow-loopback-in-peer-connection, so the stand-in needs it), the
// receiving browser reaches it from whichever address it picks.
TEST_F(LoopbackTest, ReachesAPeerOnlyOnLoopback) {
  ChromiumOptions options = FakeMedia();
  options.extra_flags.push_back("--allow-loopback-in-peer-connection");
  absl::StatusOr<std::unique_ptr<Chromium>> chromium =
      Chromium::Launch(options);
  ASSERT_TRUE(chromium.ok()) << chromium.status();
  Chromium& page = **chromium;
  ASSERT_NO_FATAL_FAILURE(StartLoopback(page, *server_, "true"));
  absl::StatusOr<Value> path = page.Evaluate("selectedPath()", kTimeout);
  ASSERT_TRUE(path.ok()) << path.status();
  EXPECT_TRUE(absl::EndsWith(path->string_value(), " -> 127.0.0.1"))
      << path->string_value();
  RecordProperty("loopback_path", path->string_value());
  absl::Status decoded = page.WaitFor(
      "inboundVideo().then(stats => stats !== null && "
      "stats.framesDecoded >= 10)",
      kTimeout);
  EXPECT_TRUE(decoded.ok()) << decoded << "\n" << Console(page);
}

TEST(ChromiumTest, LaunchFailuresAreClearAndQuick) {
  const absl::Time start = absl::Now();
  ChromiumOptions missing;
  missing.binary = "/nonexistent/chromium";
  absl::StatusOr<std::unique_ptr<Chromium>> absent = Chromium::Launch(missing);
  EXPECT_TRUE(absl::IsNotFound(absent.status())) << absent.status();
  EXPECT_TRUE(
      absl::StrContains(absent.status().message(), "/nonexistent/chromium"))
      << absent.status();

  // $CASCADE_CHROMIUM names the browser when the options do not.
  ASSERT_EQ(setenv("CASCADE_CHROMIUM", "cascade-no-such-browser", 1), 0);
  absl::StatusOr<std::unique_ptr<Chromium>> from_env = Chromium::Launch();
  ASSERT_EQ(unsetenv("CASCADE_CHROMIUM"), 0);
  EXPECT_TRUE(absl::IsNotFound(from_env.status())) << from_env.status();
  EXPECT_TRUE(absl::StrContains(from_env.status().message(),
                                "cascade-no-such-browser not found on PATH"))
      << from_env.status();

  // A program that runs but never speaks the protocol: its exit and its
  // log, not a hang.
  ChromiumOptions mute;
  mute.binary = "/bin/false";
  absl::StatusOr<std::unique_ptr<Chromium>> ended = Chromium::Launch(mute);
  EXPECT_TRUE(absl::IsUnavailable(ended.status())) << ended.status();
  EXPECT_TRUE(absl::StrContains(ended.status().message(), "exit code 1"))
      << ended.status();
  EXPECT_TRUE(absl::StrContains(ended.status().message(), "its log: "))
      << ended.status();
  EXPECT_LT(absl::Now() - start, absl::Seconds(10));
}

}  // namespace
}  // namespace cascade::browser
