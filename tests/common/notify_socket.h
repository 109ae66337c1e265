// The service manager's end of systemd's Type=notify protocol (sd_notify(3)),
// for tests that run a daemon as systemd would: a datagram socket of the
// test's own, named to the daemon in $NOTIFY_SOCKET, and what it was told.
#ifndef CASCADE_TESTS_COMMON_NOTIFY_SOCKET_H_
#define CASCADE_TESTS_COMMON_NOTIFY_SOCKET_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace cascade::testing {

class NotifySocket {
 public:
  // Bound on a path short enough for sun_path (Bazel's TEST_TMPDIR may not
  // be), unique to this process.
  NotifySocket();
  ~NotifySocket();
  NotifySocket(const NotifySocket&) = delete;
  NotifySocket& operator=(const NotifySocket&) = delete;

  bool bound() const { return bound_; }
  // NOTIFY_SOCKET=PATH, for the daemon's environment.
  std::string env() const { return "NOTIFY_SOCKET=" + path_; }

  // Reads messages until one contains `line` (true) or `timeout` passes;
  // every message read is kept in messages().
  bool WaitFor(absl::string_view line, absl::Duration timeout);
  // Reads until `count` messages in all contain `line` (true), bounded by
  // `timeout`.
  bool WaitForCount(absl::string_view line, int count, absl::Duration timeout);
  // Messages read so far that contain `line`.
  int Count(absl::string_view line) const;
  const std::vector<std::string>& messages() const { return messages_; }

 private:
  std::string path_;
  int fd_ = -1;
  bool bound_ = false;
  std::vector<std::string> messages_;
};

}  // namespace cascade::testing

#endif  // CASCADE_TESTS_COMMON_NOTIFY_SOCKET_H_
