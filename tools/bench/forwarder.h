// What the forwarding benchmark measures: "a process started with a listen
// address and a list of children". One implementation per kind.
#ifndef CASCADE_TOOLS_BENCH_FORWARDER_H_
#define CASCADE_TOOLS_BENCH_FORWARDER_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "base/subprocess.h"
#include "tools/impair/socket_address.h"

namespace cascade::bench {

struct ForwarderSetup {
  SocketAddress listen;  // where the blaster sends
  SocketAddress source;  // the blaster's own address (the relay's parent)
  std::vector<SocketAddress> children;
  std::string work_dir;  // for config files and logs
};

class Forwarder {
 public:
  virtual ~Forwarder() = default;

  // Short name used in tables and JSON ("gso", "gstreamer", "relayd").
  virtual std::string name() const = 0;
  // What this forwarder is and its version, for the machine record; empty
  // when it cannot run here (with the reason in unavailable_reason()).
  virtual std::string version() const = 0;
  virtual std::string unavailable_reason() const { return ""; }

  // Starts the process; it must forward from setup.listen to every child.
  // Its stdout and stderr go to LogPath(setup).
  absl::StatusOr<std::unique_ptr<Subprocess>> Start(
      const ForwarderSetup& setup) const;
  std::string LogPath(const ForwarderSetup& setup) const;

 protected:
  // The command line for `setup` (may write files into setup.work_dir).
  virtual absl::StatusOr<std::vector<std::string>> Command(
      const ForwarderSetup& setup) const = 0;
};

// The harness's own bare loops (tools/bench:fanout-baseline).
std::unique_ptr<Forwarder> MakeBaselineForwarder(const std::string& binary,
                                                 const std::string& mode);
// gst-launch-1.0 udpsrc ! multiudpsink, from Debian's GStreamer packages.
std::unique_ptr<Forwarder> MakeGStreamerForwarder();
// Cascade's relayd with a static-push config (proto/relay_config.proto),
// sending on `threads` threads (relayd --threads), with sendmmsg or, for
// `uring`, io_uring (relayd --send_path).
std::unique_ptr<Forwarder> MakeRelaydForwarder(const std::string& binary,
                                               int threads, bool uring);
// "relayd" for one thread (the single-loop relay every older figure is
// of), "relayd-tN" for N; "relayd-uring" and "relayd-uring-tN" on io_uring.
std::string RelaydForwarderName(int threads, bool uring = false);

}  // namespace cascade::bench

#endif  // CASCADE_TOOLS_BENCH_FORWARDER_H_
