// fanout-baseline: a bare UDP fan-out loop (sendmmsg or UDP GSO) that the
// benchmark harness measures real forwarders against.
#include <signal.h>

#include <atomic>
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/str_split.h"
#include "base/flags.h"
#include "tools/bench/fanout_loop.h"

ABSL_FLAG(std::string, mode, "sendmmsg",
          "sendmmsg (one entry per packet and child) or gso (one UDP_SEGMENT "
          "message per burst of equal packets and child)");
ABSL_FLAG(std::string, listen, "127.0.0.1:0",
          "IP:PORT to receive on; port 0 lets the kernel choose (printed on "
          "the first line of stdout)");
ABSL_FLAG(std::string, children, "",
          "comma-separated IP:PORT list every datagram is sent to");

namespace {

std::atomic<bool> stop_requested{false};

int Fail(const std::string& message) {
  std::cerr << "fanout-baseline: " << message << "\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  cascade::ParseFlags(
      argc, argv,
      "fanout-baseline --mode=sendmmsg|gso --listen=IP:PORT "
      "--children=IP:PORT,...\nSIGTERM/SIGINT: print counters and exit.");
  absl::StatusOr<cascade::bench::FanoutMode> mode =
      cascade::bench::ParseFanoutMode(absl::GetFlag(FLAGS_mode));
  if (!mode.ok())
    return Fail("--mode: " + std::string(mode.status().message()));
  absl::StatusOr<cascade::SocketAddress> listen =
      cascade::SocketAddress::Parse(absl::GetFlag(FLAGS_listen));
  if (!listen.ok()) {
    return Fail("--listen: " + std::string(listen.status().message()));
  }
  std::vector<cascade::SocketAddress> children;
  for (absl::string_view text :
       absl::StrSplit(absl::GetFlag(FLAGS_children), ',', absl::SkipEmpty())) {
    absl::StatusOr<cascade::SocketAddress> child =
        cascade::SocketAddress::Parse(text);
    if (!child.ok()) {
      return Fail("--children: " + std::string(child.status().message()));
    }
    children.push_back(*child);
  }
  if (children.empty()) return Fail("--children: at least one IP:PORT");

  absl::StatusOr<std::unique_ptr<cascade::bench::FanoutLoop>> loop =
      cascade::bench::FanoutLoop::Create(*mode, *listen, std::move(children));
  if (!loop.ok()) {
    std::cerr << "fanout-baseline: " << loop.status().message() << "\n";
    return 1;
  }
  struct sigaction action = {};
  action.sa_handler = [](int) { stop_requested.store(true); };
  sigaction(SIGTERM, &action, nullptr);
  sigaction(SIGINT, &action, nullptr);
  std::printf("fanout-baseline: listening on %s\n",
              (*loop)->listen_address().ToString().c_str());
  std::fflush(stdout);
  (*loop)->Run(stop_requested);
  const cascade::bench::FanoutCounters& c = (*loop)->counters();
  std::printf(
      "received=%llu sent=%llu truncated=%llu send_errors=%llu "
      "send_calls=%llu\n",
      static_cast<unsigned long long>(c.received),
      static_cast<unsigned long long>(c.sent),
      static_cast<unsigned long long>(c.truncated),
      static_cast<unsigned long long>(c.send_errors),
      static_cast<unsigned long long>(c.send_calls));
  return 0;
}
