// A real headless Chromium for integration tests: one page, driven over the
// DevTools protocol on --remote-debugging-pipe, so a test can open a page
// (relayd's WebRTC player) and read its state (getStats()) as JSON values.
#ifndef CASCADE_TESTS_BROWSER_CHROMIUM_H_
#define CASCADE_TESTS_BROWSER_CHROMIUM_H_

#include <google/protobuf/struct.pb.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "base/subprocess.h"

namespace cascade::browser {

struct ChromiumOptions {
  // The browser: a path, or a name looked up on $PATH. Empty: the
  // environment's $CASCADE_CHROMIUM when set, else "chromium".
  std::string binary;
  // Flags after the defaults, e.g. --use-fake-device-for-media-stream and
  // --use-fake-ui-for-media-stream for a fake camera and microphone.
  std::vector<std::string> extra_flags;
  // Bound on starting the browser and opening its page.
  absl::Duration launch_timeout = absl::Seconds(30);
};

// One browser process with one page. Messages from the browser are read
// only while a call runs, so console output and events are collected then.
// One thread drives it. Errors from the browser's side (it ended, a call
// timed out) name its log: stdout and stderr, in $TEST_UNDECLARED_OUTPUTS_DIR
// when set, else beside the profile in $TEST_TMPDIR (or $TMPDIR, or /tmp),
// kept after the browser ends.
class Chromium {
 public:
  // Starts `chromium --headless=new --remote-debugging-pipe` with a fresh
  // profile directory (removed on destruction), --no-sandbox only as root
  // (Chromium refuses root otherwise), no GPU, no first-run UI, muted audio
  // and autoplay without a gesture, then `extra_flags`; opens a blank page.
  // NotFound for a missing binary; Unavailable, with the exit and the log,
  // when the browser ends before its page is open; DeadlineExceeded past
  // `launch_timeout`. The browser runs in its own process group, killed
  // with it, and dies with the thread that launched it.
  static absl::StatusOr<std::unique_ptr<Chromium>> Launch(
      const ChromiumOptions& options = {});

  Chromium(const Chromium&) = delete;
  Chromium& operator=(const Chromium&) = delete;
  // Browser.close, a kill if the browser has not exited 2 s later, and the
  // profile removed.
  ~Chromium();

  // Loads `url` in the page and waits for its load event. A failed
  // navigation (no server, or an HTTP error status with an empty body) is
  // Unavailable with Chromium's reason (net::ERR_...).
  absl::Status Navigate(absl::string_view url, absl::Duration timeout);

  // Evaluates `expression` in the page, awaiting it when it is a promise,
  // and returns its result as JSON (undefined as null; NaN, Infinity, -0
  // and BigInts as their text, e.g. "5n"). A thrown exception or rejected
  // promise is Aborted with the exception's text (message and stack);
  // DeadlineExceeded when no result comes within `timeout`.
  absl::StatusOr<google::protobuf::Value> Evaluate(absl::string_view expression,
                                                   absl::Duration timeout);

  // Evaluates `expression` about every 50 ms until it gives true. An
  // exception ends the wait at once (as Evaluate's error); after `timeout`,
  // DeadlineExceeded with the last value.
  absl::Status WaitFor(absl::string_view expression, absl::Duration timeout);

  // What the page printed and threw, in order, one line each:
  // "console.TYPE: ARGS" (console.log and the like), "uncaught: TEXT"
  // (exceptions nothing caught) and "log.LEVEL: TEXT (URL)" (the browser's
  // own entries, such as a resource that failed to load).
  const std::vector<std::string>& ConsoleLog() const { return console_; }

  // The browser's stdout and stderr.
  const std::string& log_path() const { return log_path_; }

 private:
  Chromium(std::string profile_dir, std::string log_path)
      : profile_dir_(std::move(profile_dir)), log_path_(std::move(log_path)) {}

  // Creates the page, attaches to it and enables the domains whose events
  // are followed.
  absl::Status OpenPage(absl::Time deadline);
  // Sends `method` with `params` (to the page unless `to_browser`) and
  // waits for its answer: the result, or the protocol's error.
  absl::StatusOr<google::protobuf::Struct> Call(absl::string_view method,
                                                google::protobuf::Struct params,
                                                absl::Time deadline,
                                                bool to_browser = false);
  absl::Status Send(const google::protobuf::Struct& message,
                    absl::Time deadline);
  // Handles messages from the browser until `done` holds (OK), `deadline`
  // passes (DeadlineExceeded) or the browser is gone.
  absl::Status ReceiveUntil(absl::Time deadline,
                            const std::function<bool()>& done);
  void Handle(google::protobuf::Struct message);
  // The browser closed the pipe: how it ended, with its log (remembered).
  absl::Status Lost(absl::string_view why);

  const std::string profile_dir_;
  const std::string log_path_;
  std::unique_ptr<Subprocess> process_;
  int socket_ = -1;         // our end of the pipe
  std::string received_;    // bytes of messages not handled yet
  std::string session_id_;  // the page's
  int64_t next_id_ = 1;
  int64_t awaited_id_ = 0;  // the one call in flight
  std::optional<google::protobuf::Struct> answer_;
  absl::flat_hash_set<std::string> loaded_;  // loader ids whose load fired
  absl::Status gone_;                        // the browser or page is gone: why
  std::vector<std::string> console_;
};

}  // namespace cascade::browser

#endif  // CASCADE_TESTS_BROWSER_CHROMIUM_H_
