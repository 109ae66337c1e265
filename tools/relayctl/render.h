// relayctl render: each relay machine's /etc/cascade/relayd/NODE.env (the
// environment of cascade-relayd@NODE.service) from the topology file, and
// with --ca its certificate, offline: no controller is called.
#ifndef CASCADE_TOOLS_RELAYCTL_RENDER_H_
#define CASCADE_TOOLS_RELAYCTL_RENDER_H_

#include <iosfwd>
#include <string>
#include <vector>

namespace cascade::relayctl {

struct RenderOptions {
  // The topology file (text cascade.v1.Topology).
  std::string topology;
  // CONTROLLER: HOST:PORT[,HOST:PORT...]; required.
  std::string controller;
  // Files go to OUT/relayd/NODE.env (and OUT/certs/); empty: one NODE's
  // file on stdout.
  std::string out;
  // A CA's directory (relayctl pki init): also issue OUT/certs/NODE.pem
  // and NODE.key, and copy its ca.pem (never its key).
  std::string ca;
  // Where the relay machine keeps the certificates (TLS_CA, TLS_CERT,
  // TLS_KEY).
  std::string certs_dir = "/etc/cascade/certs";
  // Every relay of the topology instead of named nodes.
  bool all = false;
  // Replace files that exist.
  bool force = false;
  bool json = false;
  // With --all: also OUT/inventory.json for deploy/ansible
  // (render_inventory.h).
  bool ansible_inventory = false;
};

// `args` starts with "render", then the NODEs. Returns relayctl's exit code:
// 2 usage, 3 no such node, 4 refused (an invalid topology, a node that is
// not a relay, a file that exists without --force), 1 anything else that
// failed.
int RunRender(const RenderOptions& options,
              const std::vector<std::string>& args, std::ostream& out,
              std::ostream& err);

inline constexpr char kRenderUsage[] =
    "render --topology=FILE [--controller=HOST:PORT[,HOST:PORT...]] "
    "[--out=DIR] [--ca=PKI_DIR] [--certs-dir=DIR] [--force] [--json] "
    "(NODE... | --all [--ansible-inventory])";

// For relayctl render --help (render_help.cc), and the line of the general
// usage.
std::string RenderHelp();
std::string RenderSummary();

}  // namespace cascade::relayctl

#endif  // CASCADE_TOOLS_RELAYCTL_RENDER_H_
