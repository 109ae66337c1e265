// tcp-delay: a TCP proxy that holds every chunk a client sends for --delay
// before the target gets it (a slow link, a slow server); relay-sim's
// --store-delay puts it between topologyd and etcd.
#include <signal.h>
#include <uv.h>

#include <cstdio>
#include <cstring>
#include <iostream>
#include <memory>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/reflection.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "base/files.h"
#include "base/flags.h"
#include "tools/impair/tcp_delay/tcp_delay_proxy.h"

ABSL_FLAG(std::string, listen, "127.0.0.1:0",
          "IP:PORT clients connect to; port 0 lets the kernel choose (the "
          "address is printed on the first line of stdout, and written to "
          "--port-file)");
ABSL_FLAG(std::string, target, "",
          "IP:PORT every accepted connection is forwarded to (required)");
ABSL_FLAG(absl::Duration, delay, absl::ZeroDuration(),
          "how long each chunk read from a client is held before it is "
          "written to the target, e.g. 2s or 250ms; 0s..1h. Each chunk is "
          "timed from its own read, so a request arrives --delay late and "
          "the delays do not add up");
ABSL_FLAG(bool, delay_responses, false,
          "also hold what the target sends back for --delay (a round trip "
          "then takes twice --delay); by default responses pass at once");
ABSL_FLAG(int64_t, max_held_bytes, int64_t{64} << 20,
          "bytes one connection may hold (waiting for their time or for the "
          "kernel, both directions); a connection above it is closed, both "
          "sides, and counted (closed_over_limit). At least 65536");
ABSL_FLAG(int, max_connections, 1024,
          "connections open at once; more are accepted and closed at once "
          "(refused_connections)");
ABSL_FLAG(std::string, port_file, "",
          "once listening, write the bound port here (written whole, then "
          "renamed)");

namespace cascade {
namespace {

constexpr int kExitFailed = 1;
constexpr int kExitUsage = 2;

int Usage(const std::string& message) {
  std::cerr << "tcp-delay: " << message << "\n";
  return kExitUsage;
}

// absl's parser exits 1 on an unknown flag or a malformed value: checked
// first, so that every bad flag is one line and exit code 2.
bool CheckFlags(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--") break;
    if (arg.size() < 2 || arg[0] != '-') continue;
    const std::string body = arg.substr(arg[1] == '-' ? 2 : 1);
    const size_t equals = body.find('=');
    std::string name =
        absl::StrReplaceAll(body.substr(0, equals), {{"-", "_"}});
    // --help and its kin: ParseFlags answers them.
    if (name.rfind("help", 0) == 0 || name == "version") continue;
    absl::CommandLineFlag* flag = absl::FindCommandLineFlag(name);
    if (flag == nullptr && name.rfind("no", 0) == 0 &&
        equals == std::string::npos) {
      flag = absl::FindCommandLineFlag(name.substr(2));
      if (flag != nullptr && flag->IsOfType<bool>()) continue;
      flag = nullptr;
    }
    if (flag == nullptr) {
      Usage("unknown flag --" + name + " (--help lists the flags)");
      return false;
    }
    std::string value;
    if (equals != std::string::npos) {
      value = body.substr(equals + 1);
    } else if (flag->IsOfType<bool>()) {
      continue;
    } else if (i + 1 < argc) {
      value = argv[++i];
    } else {
      Usage("--" + name + " needs a value");
      return false;
    }
    std::string error;
    if (!flag->ParseFrom(value, &error)) {
      Usage("--" + name + ": \"" + value + "\" is not valid: " + error);
      return false;
    }
  }
  return true;
}

struct Signals {
  uv_signal_t interrupt;
  uv_signal_t terminate;
};

int Run(const TcpDelayOptions& options) {
  uv_loop_t* loop = uv_default_loop();
  absl::StatusOr<std::unique_ptr<TcpDelayProxy>> proxy =
      TcpDelayProxy::Create(loop, options);
  if (!proxy.ok()) {
    std::cerr << "tcp-delay: --listen: " << proxy.status().message() << "\n";
    return kExitFailed;
  }
  std::printf(
      "tcp-delay: listening on %s forwarding to %s, requests held %s, "
      "responses held %s\n",
      (*proxy)->listen_address().ToString().c_str(),
      options.target.ToString().c_str(),
      absl::FormatDuration(options.to_target_delay).c_str(),
      absl::FormatDuration(options.to_client_delay).c_str());
  std::fflush(stdout);
  const std::string port_file = absl::GetFlag(FLAGS_port_file);
  if (!port_file.empty()) {
    if (absl::Status written = WriteFileAtomically(
            port_file, absl::StrCat((*proxy)->listen_address().port(), "\n"));
        !written.ok()) {
      std::cerr << "tcp-delay: --port-file: " << written.message() << "\n";
      return kExitFailed;
    }
  }
  Signals signals;
  for (auto [handle, number] :
       {std::pair{&signals.interrupt, SIGINT}, {&signals.terminate, SIGTERM}}) {
    uv_signal_init(loop, handle);
    uv_signal_start(
        handle, [](uv_signal_t* signal, int) { uv_stop(signal->loop); },
        number);
  }
  uv_run(loop, UV_RUN_DEFAULT);
  std::printf("tcp-delay: %s\n", FormatCounters((*proxy)->counters()).c_str());
  std::fflush(stdout);
  return 0;
}

}  // namespace
}  // namespace cascade

int main(int argc, char** argv) {
  using cascade::Usage;
  cascade::AcceptDashedFlagNames(argc, argv);
  if (!cascade::CheckFlags(argc, argv)) return cascade::kExitUsage;
  cascade::ParseFlags(
      argc, argv,
      "tcp-delay --target=IP:PORT --delay=DURATION [--listen=IP:PORT] "
      "[--delay-responses] [--port-file=FILE]\n"
      "A TCP proxy: every connection accepted on --listen gets its own "
      "connection to --target, and bytes go both ways; each chunk a client "
      "sends is held for --delay before the target gets it (what the target "
      "sends back passes at once, or is held as long with "
      "--delay-responses). Memory is bounded per connection "
      "(--max-held-bytes). SIGINT/SIGTERM: prints the counters and exits 0. "
      "Bad flags: one line on stderr, exit code 2.");

  cascade::TcpDelayOptions options;
  absl::StatusOr<cascade::SocketAddress> listen =
      cascade::SocketAddress::Parse(absl::GetFlag(FLAGS_listen));
  if (!listen.ok()) {
    return Usage("--listen: " + std::string(listen.status().message()));
  }
  options.listen = *listen;
  if (absl::GetFlag(FLAGS_target).empty()) {
    return Usage("--target is required (IP:PORT to forward to)");
  }
  absl::StatusOr<cascade::SocketAddress> target =
      cascade::SocketAddress::Parse(absl::GetFlag(FLAGS_target));
  if (!target.ok()) {
    return Usage("--target: " + std::string(target.status().message()));
  }
  if (target->port() == 0) return Usage("--target: port 0 is not a port");
  options.target = *target;
  const absl::Duration delay = absl::GetFlag(FLAGS_delay);
  if (delay < absl::ZeroDuration() || delay > absl::Hours(1)) {
    return Usage("--delay must be within 0s..1h, not " +
                 absl::FormatDuration(delay));
  }
  options.to_target_delay = delay;
  if (absl::GetFlag(FLAGS_delay_responses)) options.to_client_delay = delay;
  const int64_t held = absl::GetFlag(FLAGS_max_held_bytes);
  if (held < 65536) {
    return Usage("--max-held-bytes must be at least 65536, not " +
                 std::to_string(held));
  }
  options.max_held_bytes = static_cast<size_t>(held);
  options.max_connections = absl::GetFlag(FLAGS_max_connections);
  if (options.max_connections < 1) {
    return Usage("--max-connections must be at least 1");
  }
  options.log = [](const std::string& line) {
    std::cerr << "tcp-delay: "
              << absl::FormatTime("%H:%M:%E3S ", absl::Now(),
                                  absl::UTCTimeZone())
              << line << "\n";
  };
  if (absl::Status valid = cascade::ValidateTcpDelayOptions(options);
      !valid.ok()) {
    return Usage(std::string(valid.message()));
  }
  signal(SIGPIPE, SIG_IGN);
  return cascade::Run(options);
}
