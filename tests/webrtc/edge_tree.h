// What the browser-edge tests share: a tree of real processes (topologyd,
// a relayd per relay, relay-source), URLs minted by relayctl, metrics, and
// headless Chromium opened on a relay's page.
#ifndef CASCADE_TESTS_WEBRTC_EDGE_TREE_H_
#define CASCADE_TESTS_WEBRTC_EDGE_TREE_H_

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "base/subprocess.h"
#include "proto/controller.pb.h"
#include "tests/browser/chromium.h"
#include "tests/media/process.h"
#include "tests/topology/harness.h"
#include "tests/topology/test_pki.h"

namespace cascade::testing {

// relayd in controller mode; killed -9 when destroyed.
struct Relayd {
  std::unique_ptr<Subprocess> process;
  int udp_port = 0;
  int metrics_port = 0;
  int edge_port = 0;  // with --edge
  std::string address() const;
  std::string edge() const;  // "127.0.0.1:EDGE_PORT"
};

// A UDP port on 127.0.0.1 the kernel just handed out and took back.
int FreeUdpPort();

class EdgeTree {
 public:
  // Under a fresh test directory, with a PKI that issued `edge_relays`
  // certificates (their HTTPS: the test's browsers accept any).
  static absl::StatusOr<std::unique_ptr<EdgeTree>> Create(
      const std::vector<std::string>& edge_relays);

  std::string Path(const std::string& name) const;
  // topologyd --insecure on a kernel-chosen port, with `flags` added
  // (fatal failures: wrap in ASSERT_NO_FATAL_FAILURE, as for StartRelay and
  // StartSource).
  void StartController(std::vector<std::string> flags = {});
  // relayd ID under the controller with `args` added; `edge`: with
  // --edge=127.0.0.1:0 over HTTPS.
  void StartRelay(const std::string& id, bool edge,
                  std::vector<std::string> args = {});
  // relay-source sending H.264 + Opus (the given SSRCs) to `relay`'s
  // socket from 127.0.0.1:bind_port, until the tree is destroyed.
  void StartSource(const std::string& relay, int bind_port, uint32_t video_ssrc,
                   uint32_t audio_ssrc);
  // The publishing-site tree under the running controller: nat (with an
  // edge, fed by relay-source: the program, video SSRC 4369 and audio 8738)
  // -> p1 -> d1 (with an edge) -> s1, a plain site whose camera is a browser
  // publishing to d1 as s1's upstream stream ("s1-camera", SSRC 500).
  // `relayctl_flags` go before `apply` (a token, say). Returns once d1
  // receives from p1.
  void StartPublishingSiteTree(const std::vector<std::string>& relayctl_flags);
  // Two national roots under the running controller, nat and nat-sb
  // standing by, each with an edge and no source: nat -> p1 (nat-sb its
  // standby parent) -> d1 -> s1, a plain site. The program ("program",
  // video SSRC 4369 and audio 8738) is the center's WHIP feed.
  void StartNationalPairTree();
  // relayctl --insecure ARGS against the controller.
  CommandResult Relayctl(std::vector<std::string> args);
  // relayctl --json url ARGS, parsed (failures are test failures).
  cascade::v1::MintEdgeTokenResponse Url(std::vector<std::string> args);
  // Waits (bounded) until `id` acks an assignment and receives from
  // `parent` (empty: from anyone).
  ::testing::AssertionResult WaitReceiving(const std::string& id,
                                           const std::string& parent);
  // One sample of `relay`'s /metrics, -1 if absent.
  double Metric(const std::string& relay, const std::string& sample);

  Relayd& relay(const std::string& id) { return relays_[id]; }
  const std::string& dir() const { return dir_; }
  std::string controller_address() const;
  // `relay`'s stderr, for a failure's message.
  std::string Log(const std::string& relay) const;

 private:
  explicit EdgeTree(std::string dir) : dir_(std::move(dir)) {}

  const std::string dir_;
  std::unique_ptr<topology::testing::TestPki> pki_;
  std::unique_ptr<topology::testing::Topologyd> controller_;
  std::map<std::string, Relayd> relays_;
  std::vector<std::unique_ptr<Subprocess>> sources_;
};

// Headless Chromium that accepts the relays' certificates, with `flags`.
absl::StatusOr<std::unique_ptr<browser::Chromium>> OpenBrowser(
    std::vector<std::string> flags = {});
// What the page printed, one line each.
std::string ConsoleOf(const browser::Chromium& chromium);
// A number the page computes (-1 and a test failure when it throws).
double PageNumber(browser::Chromium& chromium, const std::string& expression);

}  // namespace cascade::testing

#endif  // CASCADE_TESTS_WEBRTC_EDGE_TREE_H_
