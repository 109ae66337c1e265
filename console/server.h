// topologyd's console (issue 22): the page at /console and its API, on
// --console=IP:PORT, HTTPS with topologyd's certificate when it has one
// (plain HTTP only on a loopback address).
//
// Every API request passes the Admin gate itself: the console calls this
// process's Admin service over gRPC's in-process channel with the
// request's `Authorization: Bearer ...`, the client certificate the TLS
// handshake verified (if any) and its address, so who may see and do what,
// the rate limits, the audit records and the refusals' events are exactly
// relayctl's (topology/admin_gate.h). A refusal is answered with its HTTP
// equivalent (401, 403, 429, 503) and no data.
//
//   GET  /console                 the page (and /console/console.{js,css})
//   GET  /console/api/tree        the whole tree (ConsoleTree JSON; Admin
//                                 GetTopology)
//   GET  /console/api/node?id=ID  one node's full view (NodeView; GetNode)
//   GET  /console/api/stream      server-sent events: "tree", then "delta"
//                                 at most every 500 ms (hub.h), and "event"
//                                 (Admin Events: the audit trail's last 50,
//                                 the controller's KIND_LEADER included,
//                                 then live)
//   GET  /console/api/leader      which console leads (group.h), for a page
//                                 whose controller stopped leading: JSON
//                                 {leading, leader: URL, consoles: [URL]};
//                                 no credential (a page asks the other
//                                 consoles of its group when its own is
//                                 gone), readable from any origin
//   POST /console/api/ACTION?node=ID   drain, restore, failover, select,
//                                 release (DrainNode, Restore, Failover,
//                                 SelectUpstream, ReleaseUpstream), and
//                                 move with &parent=ID (MoveNode):
//                                 ChangeResponse JSON
//   POST /console/api/watch?node=SITE  the center's WHEP link to SITE's
//                                 upstream stream at the national relay
//                                 (MintEdgeToken, center): its JSON
#ifndef CASCADE_CONSOLE_SERVER_H_
#define CASCADE_CONSOLE_SERVER_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>
#include <thread>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "console/group.h"
#include "console/hub.h"
#include "proto/controller.grpc.pb.h"

namespace httplib {
class Server;
struct Request;
struct Response;
}  // namespace httplib

namespace cascade::console {

struct ConsoleOptions {
  // An IP address (loopback unless TLS is configured) and a port (0: the
  // kernel chooses).
  std::string host;
  int port = 0;
  // PEM files of the server's certificate and key; empty: plain HTTP.
  std::string tls_cert;
  std::string tls_key;
  // With TLS: the CA of operators' client certificates (topologyd's
  // --tls-client-ca). A browser may then present one instead of a token;
  // empty: none asked for.
  std::string tls_client_ca;
  // How often the open streams get the tree's changes.
  absl::Duration interval = absl::Milliseconds(500);
  // Streams open at once; more are refused 503.
  int max_streams = 32;
};

// "IP:PORT" ([IPv6]:PORT) checked: an error names --console, and refuses a
// non-loopback address without `tls`.
absl::StatusOr<ConsoleOptions> ParseConsoleListen(absl::string_view text,
                                                  bool tls);

class ConsoleServer {
 public:
  // `admin`: a channel to this process's Admin service; `snapshot`: the
  // controller's tree for the ticks.
  ConsoleServer(std::shared_ptr<grpc::Channel> admin, Hub::Snapshot snapshot,
                ConsoleOptions options);
  // Ends the streams and stops serving.
  ~ConsoleServer();
  ConsoleServer(const ConsoleServer&) = delete;
  ConsoleServer& operator=(const ConsoleServer&) = delete;

  // Binds and serves on a thread of its own.
  absl::Status Start();
  int port() const { return port_; }
  // "console=PORT\n" for topologyd's port file.
  std::string PortFileLine() const;
  // This console's URL as browsers reach it: `url` when not empty (e.g.
  // https://NAME:PORT/console behind a wildcard address), else the bound
  // address's.
  void SetUrl(std::string url);
  std::string Url() const;
  // The group this console belongs to (a controller on etcd); null: a
  // group of one, which leads.
  void SetGroup(GroupProbe probe);

 private:
  class Stream;

  void Route();
  // The group as last probed, at most kGroupProbe ago.
  Group CurrentGroup();
  void ServeLeader(httplib::Response& res);
  void ServePage(const httplib::Request& req, httplib::Response& res);
  void ServeStream(const httplib::Request& req, httplib::Response& res);
  void ServeAction(const httplib::Request& req, httplib::Response& res);

  const ConsoleOptions options_;
  const std::unique_ptr<cascade::v1::Admin::Stub> admin_;
  Hub hub_;
  mutable absl::Mutex group_mu_;
  std::string url_ ABSL_GUARDED_BY(group_mu_);
  GroupProbe group_probe_ ABSL_GUARDED_BY(group_mu_);
  Group group_ ABSL_GUARDED_BY(group_mu_);
  absl::Time group_at_ ABSL_GUARDED_BY(group_mu_) = absl::InfinitePast();
  std::unique_ptr<httplib::Server> http_;
  std::thread thread_;
  int port_ = 0;
  std::atomic<int> streams_{0};
};

}  // namespace cascade::console

#endif  // CASCADE_CONSOLE_SERVER_H_
