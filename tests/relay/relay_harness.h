// Test harness for relayd integration tests: starts real relayd processes
// with generated configs on kernel-chosen loopback ports, reads their
// metrics, and plays sources, children and attackers with plain UDP sockets.
#ifndef CASCADE_TESTS_RELAY_RELAY_HARNESS_H_
#define CASCADE_TESTS_RELAY_RELAY_HARNESS_H_

#include <gtest/gtest.h>
#include <sys/types.h>
#include <uv.h>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "base/subprocess.h"
#include "media/endpoint.h"
#include "tools/impair/udp_impair_proxy.h"

namespace cascade::relay::testing {

using Bytes = std::vector<uint8_t>;

// A UDP socket on 127.0.0.1 with a kernel-chosen port.
class UdpPeer {
 public:
  UdpPeer();
  ~UdpPeer();
  UdpPeer(const UdpPeer&) = delete;
  UdpPeer& operator=(const UdpPeer&) = delete;

  const media::Endpoint& address() const { return address_; }
  void SendTo(const media::Endpoint& to, absl::Span<const uint8_t> bytes);
  // The next datagram, or nothing after `timeout`.
  std::optional<Bytes> Receive(absl::Duration timeout,
                               media::Endpoint* from = nullptr);

 private:
  int fd_;
  media::Endpoint address_;
};

// One relayd process.
class RelayProcess {
 public:
  // Writes `config` (textproto) to a file and starts relayd on it with
  // --metrics, --port-file and `extra_args`; waits (bounded) until it has
  // bound. An empty `config` starts relayd without --config (controller
  // mode: --controller, --id and --listen go in `extra_args`). `env`:
  // "NAME=VALUE" entries added to its environment.
  static absl::StatusOr<std::unique_ptr<RelayProcess>> Start(
      const std::string& name, const std::string& config,
      const std::vector<std::string>& extra_args = {},
      const std::vector<std::string>& env = {});

  const media::Endpoint& address() const { return address_; }
  // With --relays: the address of relay `id` (the port file's udp.ID).
  media::Endpoint address(const std::string& id) const;
  const std::string& config_path() const { return config_path_; }
  pid_t pid() const { return process_->pid(); }

  // Every sample of /metrics (with --relays: /metrics/ID),
  // "name{labels}" -> value; empty on failure.
  std::map<std::string, double> Metrics(
      const std::string& path = "/metrics") const;
  // One sample, 0 when absent.
  double Metric(const std::string& sample) const;
  // The sum of every sample whose name is `name` (any labels).
  double MetricSum(const std::string& name) const;
  // Waits (bounded) until `sample` >= value; a timeout names the sample.
  ::testing::AssertionResult WaitForMetric(const std::string& sample,
                                           double value,
                                           absl::Duration timeout) const;

  // Nothing happens once the process has ended.
  void Signal(int signum) const;
  // Its exit code, as base/subprocess.h's Wait(): DeadlineExceeded while it
  // runs. Destroying a RelayProcess kills a process still running.
  absl::StatusOr<int> Wait(absl::Duration timeout);

 private:
  RelayProcess() = default;
  // Reads the ports relayd bound from its port file; false until written.
  bool ReadPortFile(const std::string& path);

  std::string name_;
  std::unique_ptr<Subprocess> process_;
  media::Endpoint address_;
  std::map<std::string, media::Endpoint> relay_addresses_;
  int metrics_port_ = 0;
  std::string config_path_;
};

// A udp-impair proxy (tools/impair) on its own libuv loop and thread: send
// to listen() to reach `forward` through it, `loss` each way.
class ProxyThread {
 public:
  ProxyThread(const media::Endpoint& forward, double loss, uint64_t seed);
  ~ProxyThread();
  ProxyThread(const ProxyThread&) = delete;
  ProxyThread& operator=(const ProxyThread&) = delete;

  const media::Endpoint& listen() const { return listen_; }
  ImpairCounters counters() const { return proxy_->counters(); }
  // A dead link while true.
  void SetCut(bool cut) { proxy_->SetCut(cut); }
  // No loss while true.
  void SetBypass(bool bypass) { proxy_->SetBypass(bypass); }

 private:
  uv_loop_t loop_;
  uv_async_t stop_;
  std::unique_ptr<UdpImpairProxy> proxy_;
  media::Endpoint listen_;
  std::thread thread_;
};

// Path of the relayd binary in the test's runfiles.
std::string RelaydPath();
// A fresh directory under TEST_TMPDIR.
std::string TempDir(const std::string& name);
// A link key (hex) made from the child's id: every child its own, as a
// relay's config and a site's --key need; tests need no more.
std::string TestLinkKey(const std::string& node);

Bytes MakeRtp(uint32_t ssrc, uint16_t seq, uint32_t timestamp,
              absl::Span<const uint8_t> payload);
// A signed activation (RTCP APP) for node `node` under `key`.
Bytes MakeActivation(const std::string& node, const std::string& key,
                     uint64_t nonce);
Bytes MakeNack(uint32_t media_ssrc, const std::vector<uint16_t>& seqs);
Bytes MakeReceiverReport();
bool IsRtp(absl::Span<const uint8_t> bytes);
uint16_t SeqOf(absl::Span<const uint8_t> rtp);

}  // namespace cascade::relay::testing

#endif  // CASCADE_TESTS_RELAY_RELAY_HARNESS_H_
