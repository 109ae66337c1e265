// udp-impair: a userspace UDP impairment proxy (loss, bursts, delay, jitter,
// reordering, duplication, cut) between clients and one forward address.
#include <uv.h>

#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "base/flags.h"
#include "tools/impair/udp_impair_proxy.h"

ABSL_FLAG(std::string, listen, "127.0.0.1:0",
          "IP:PORT clients send to; port 0 lets the kernel choose (the chosen "
          "address is printed on the first line of stdout)");
ABSL_FLAG(std::string, forward, "", "IP:PORT datagrams are forwarded to");
ABSL_FLAG(double, loss, 0, "independent loss probability, 0..1");
ABSL_FLAG(std::string, burst_loss, "",
          "Gilbert-Elliott bursts as ENTER,EXIT: per datagram, the chance to "
          "enter a burst and to leave it (mean burst length 1/EXIT); every "
          "datagram in a burst is lost; empty for none");
ABSL_FLAG(double, delay, 0, "added delay in milliseconds");
ABSL_FLAG(double, jitter, 0,
          "uniform jitter in milliseconds around --delay (can reorder)");
ABSL_FLAG(double, reorder, 0,
          "probability that a datagram is held and sent after the next one");
ABSL_FLAG(double, duplicate, 0, "probability that a datagram is sent twice");
ABSL_FLAG(std::string, direction, "both",
          "which direction is impaired: both, forward (client to forward "
          "address) or reverse (replies to clients)");
ABSL_FLAG(uint64_t, seed, 1, "seed of the random decisions (deterministic)");
ABSL_FLAG(int, max_clients, 64,
          "distinct client source addresses served, each with its own "
          "upstream socket");

namespace cascade {
namespace {

constexpr int kBadFlags = 2;

int Fail(const std::string& message) {
  std::cerr << "udp-impair: " << message << "\n";
  return kBadFlags;
}

struct Signals {
  UdpImpairProxy* proxy;
  uv_signal_t cut, uncut, interrupt, terminate;
};

int Run(const ImpairProxyOptions& options) {
  uv_loop_t* loop = uv_default_loop();
  absl::StatusOr<std::unique_ptr<UdpImpairProxy>> proxy =
      UdpImpairProxy::Create(loop, options);
  if (!proxy.ok()) {
    std::cerr << "udp-impair: " << proxy.status().message() << "\n";
    return 1;
  }
  std::printf("udp-impair: listening on %s forwarding to %s\n",
              (*proxy)->listen_address().ToString().c_str(),
              options.forward.ToString().c_str());
  std::fflush(stdout);

  Signals signals{proxy->get(), {}, {}, {}, {}};
  for (auto [handle, number] : {std::pair{&signals.cut, SIGUSR1},
                                {&signals.uncut, SIGUSR2},
                                {&signals.interrupt, SIGINT},
                                {&signals.terminate, SIGTERM}}) {
    uv_signal_init(loop, handle);
    handle->data = &signals;
    uv_signal_start(
        handle,
        [](uv_signal_t* signal, int signum) {
          auto* s = static_cast<Signals*>(signal->data);
          if (signum == SIGUSR1 || signum == SIGUSR2) {
            s->proxy->SetCut(signum == SIGUSR1);
            std::printf("udp-impair: %s\n",
                        signum == SIGUSR1 ? "cut" : "uncut");
            std::fflush(stdout);
          } else {
            uv_stop(signal->loop);
          }
        },
        number);
  }
  uv_run(loop, UV_RUN_DEFAULT);
  std::printf("%s", FormatCounters((*proxy)->counters()).c_str());
  std::fflush(stdout);
  return 0;
}

}  // namespace
}  // namespace cascade

int main(int argc, char** argv) {
  using cascade::Fail;
  cascade::ParseFlags(
      argc, argv,
      "udp-impair --listen=IP:PORT --forward=IP:PORT [--loss=P] "
      "[--burst-loss=ENTER,EXIT] [--delay=MS --jitter=MS] [--reorder=P] "
      "[--duplicate=P] [--seed=N]\n"
      "SIGUSR1 cuts the link (everything dropped), SIGUSR2 restores it; "
      "SIGINT/SIGTERM exit after printing the counters.");

  cascade::ImpairProxyOptions options;
  absl::StatusOr<cascade::SocketAddress> listen =
      cascade::SocketAddress::Parse(absl::GetFlag(FLAGS_listen));
  if (!listen.ok())
    return Fail("--listen: " + std::string(listen.status().message()));
  options.listen = *listen;
  if (absl::GetFlag(FLAGS_forward).empty())
    return Fail("--forward is required");
  absl::StatusOr<cascade::SocketAddress> forward =
      cascade::SocketAddress::Parse(absl::GetFlag(FLAGS_forward));
  if (!forward.ok()) {
    return Fail("--forward: " + std::string(forward.status().message()));
  }
  options.forward = *forward;
  options.seed = absl::GetFlag(FLAGS_seed);
  options.max_clients = absl::GetFlag(FLAGS_max_clients);

  cascade::ImpairmentOptions impairment;
  impairment.loss = absl::GetFlag(FLAGS_loss);
  const std::string burst = absl::GetFlag(FLAGS_burst_loss);
  if (!burst.empty()) {
    std::vector<std::string> parts = absl::StrSplit(burst, ',');
    if (parts.size() != 2 ||
        !absl::SimpleAtod(parts[0], &impairment.burst_enter) ||
        !absl::SimpleAtod(parts[1], &impairment.burst_exit)) {
      return Fail("--burst-loss: expected ENTER,EXIT probabilities, got '" +
                  burst + "'");
    }
  }
  for (auto [name, value] : {std::pair{"--delay", absl::GetFlag(FLAGS_delay)},
                             {"--jitter", absl::GetFlag(FLAGS_jitter)}}) {
    if (!(value >= 0 && value <= 3600e3)) {
      return Fail(std::string(name) + ": milliseconds in [0, 3600000]");
    }
  }
  impairment.delay = absl::Milliseconds(absl::GetFlag(FLAGS_delay));
  impairment.jitter = absl::Milliseconds(absl::GetFlag(FLAGS_jitter));
  impairment.reorder = absl::GetFlag(FLAGS_reorder);
  impairment.duplicate = absl::GetFlag(FLAGS_duplicate);
  if (absl::Status status = cascade::ValidateImpairment(impairment);
      !status.ok()) {
    return Fail("--" + std::string(status.message()));
  }
  const std::string direction = absl::GetFlag(FLAGS_direction);
  if (direction != "both" && direction != "forward" && direction != "reverse") {
    return Fail("--direction: expected both, forward or reverse, got '" +
                direction + "'");
  }
  if (direction != "reverse") options.to_forward = impairment;
  if (direction != "forward") options.to_client = impairment;
  if (options.max_clients < 1) return Fail("--max_clients: at least 1");
  return cascade::Run(options);
}
