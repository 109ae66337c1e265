// Pieces for tests that run topologyd as a real process: the daemon on a
// kernel-chosen loopback port, relayctl runs, and relays played in-process
// by the client library that report stats the way relayd does.
#ifndef CASCADE_TESTS_TOPOLOGY_HARNESS_H_
#define CASCADE_TESTS_TOPOLOGY_HARNESS_H_

#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "base/subprocess.h"
#include "control/relay_client.h"
#include "proto/controller.pb.h"
#include "tests/common/wait.h"
#include "tests/media/process.h"

namespace cascade::topology::testing {

// A relay without media: applies each assignment, and reports what relayd
// would. receiving_from is its active parent once it has "switched" (at
// once, or never while a test holds it back with ReceiveFrom), and
// active_children counts the assigned children plus removed ones still in
// their grace, as relayd serves them.
class FakeRelay : public control::AssignmentListener {
 public:
  // Null `credentials`: plaintext.
  FakeRelay(const std::string& controller, const std::string& id,
            absl::Duration removed_child_grace = absl::Milliseconds(300),
            std::shared_ptr<grpc::ChannelCredentials> credentials = nullptr);
  ~FakeRelay() override;

  void Start();
  // The lease then lapses.
  void Stop();

  absl::Status OnAssignment(const cascade::v1::Assignment& a) override;

  // Waits (bounded) until `check` holds for the newest assignment.
  bool WaitFor(const std::function<bool(const cascade::v1::Assignment&)>& check,
               absl::Duration timeout = absl::Seconds(15));
  bool WaitForParent(const std::string& parent);
  cascade::v1::Assignment last();
  // Assignments handed to the relay (equal content is not handed again).
  int applied();
  int sessions() const { return client_->sessions(); }
  // The controller of the current (or last) session.
  std::string controller() const { return client_->controller(); }
  // Reports `parent` as where media comes from, whatever the assignment
  // says; empty follows the assignment again.
  void ReceiveFrom(const std::string& parent);

 private:
  cascade::v1::RelayStats Stats();

  const absl::Duration grace_;
  std::unique_ptr<control::RelayClient> client_;
  absl::Mutex mu_;
  cascade::v1::Assignment last_ ABSL_GUARDED_BY(mu_);
  int applied_ ABSL_GUARDED_BY(mu_) = 0;
  std::string receive_from_ ABSL_GUARDED_BY(mu_);
  // Children an assignment removed, until their grace ends.
  std::map<std::string, absl::Time> leaving_ ABSL_GUARDED_BY(mu_);
};

// topologyd as a process, killed (-9) when destroyed.
class Topologyd {
 public:
  // Starts it on 127.0.0.1 with `flags` (TLS flags, or --insecure): port 0
  // lets the kernel choose; a restart passes the previous port so the
  // relays find it again. `name` keeps the output files of each start apart.
  static absl::StatusOr<std::unique_ptr<Topologyd>> Start(
      const std::string& dir, const std::string& name,
      const std::vector<std::string>& flags, int port = 0);

  const std::string& address() const { return address_; }
  int port() const { return port_; }
  const std::string& stderr_path() const { return stderr_path_; }

 private:
  std::unique_ptr<cascade::Subprocess> process_;
  std::string address_, stderr_path_;
  int port_ = 0;
};

// A fresh directory for the running test under TEST_TMPDIR.
std::string TestDir();

// A UDP socket on 127.0.0.1 with a port the kernel chose: a test's media
// source or site.
class Udp {
 public:
  Udp();
  ~Udp();
  Udp(const Udp&) = delete;
  Udp& operator=(const Udp&) = delete;
  std::string address() const;
  int port() const { return port_; }
  void SendTo(int port, const std::vector<uint8_t>& bytes);
  // One datagram, or empty after `timeout`.
  std::vector<uint8_t> Receive(absl::Duration timeout);

 private:
  int fd_;
  int port_ = 0;
};

// RTP (payload type `payload_type`, SSRC `ssrc`) every 5 ms from `source`
// to `relay_port`, and what `site` receives, on threads of their own so
// control actions never pause the media.
class MediaRun {
 public:
  MediaRun(Udp* source, int relay_port, Udp* site, uint8_t payload_type,
           uint32_t ssrc);
  ~MediaRun();
  // Packets sent in [from, to - 200 ms) that the site never got, and the
  // longest silence at the site within [from, to].
  struct Window {
    int sent = 0;
    int lost = 0;
    absl::Duration longest_gap;
  };
  Window Measure(absl::Time from, absl::Time to);
  // The site received something within the last 100 ms.
  bool Flowing();
  // The site received a packet sent at or after `sent_at`: the stream has
  // carried on past that moment.
  bool Delivered(absl::Time sent_at);

 private:
  void Send();
  void Receive();

  Udp* const source_;
  const int relay_port_;
  Udp* const site_;
  const uint8_t payload_type_;
  const uint32_t ssrc_;
  std::atomic<bool> stop_{false};
  absl::Mutex mu_;
  std::vector<absl::Time> sent_at_ ABSL_GUARDED_BY(mu_);
  std::vector<bool> got_ ABSL_GUARDED_BY(mu_);
  std::vector<absl::Time> arrivals_ ABSL_GUARDED_BY(mu_);
  std::thread sender_;
  std::thread receiver_;
};

// Runs relayctl against `controller` (output files under `dir`).
cascade::testing::CommandResult Relayctl(const std::string& dir,
                                         const std::string& controller,
                                         std::vector<std::string> args);

// relayctl --insecure --json show ID, parsed: a plaintext controller's.
cascade::v1::NodeView ShowNode(const std::string& dir,
                               const std::string& controller,
                               const std::string& id);

// Shows node `id` (ShowNode) until `check` holds for the view, for at most
// `timeout`; a timeout names `what`. `last`, if given, gets the view last
// shown.
::testing::AssertionResult WaitForNode(
    const std::string& dir, const std::string& controller,
    const std::string& id, absl::string_view what,
    const std::function<bool(const cascade::v1::NodeView&)>& check,
    cascade::v1::NodeView* last = nullptr,
    absl::Duration timeout = cascade::testing::kWaitTimeout);

// The node acknowledged its newest assignment, and that one is newer than
// `version`.
bool AckedNewerThan(const cascade::v1::NodeView& view, uint64_t version = 0);

}  // namespace cascade::topology::testing

#endif  // CASCADE_TESTS_TOPOLOGY_HARNESS_H_
