// relayctl render --help.
#include <string>

#include "absl/strings/str_cat.h"
#include "tools/relayctl/render.h"

namespace cascade::relayctl {

std::string RenderHelp() {
  return absl::StrCat(
      "usage: relayctl ", kRenderUsage,
      "\n\n"
      "Writes each relay's /etc/cascade/relayd/NODE.env, the environment of "
      "cascade-relayd@NODE.service, from the topology FILE, offline (no "
      "controller is called): OUT/relayd/NODE.env for each NODE, or for "
      "every relay with --all. Without --out, one NODE's file goes to "
      "stdout.\n\n"
      "A site (relay-probe, relay-record: no controller link) gets "
      "OUT/sites/NODE.env instead, mode 0600: NODE_ID, LISTEN, PARENTS (its "
      "parent and standbys' media addresses, in order) and KEYS (its link "
      "key toward each, hex, from its node key in the topology), for "
      "relay-probe --node-id=$NODE_ID --listen=$LISTEN --parent=$PARENTS "
      "--key=$KEYS. --all renders the sites too; a plain endpoint is "
      "refused. --controller is needed only for relays.\n\n"
      "CONTROLLER is --controller; LISTEN the node's media_address (a host "
      "name: 0.0.0.0 at its port); METRICS its metrics_address (HOST:PORT), "
      "else 127.0.0.1:9464; SOURCE, for the root (no parent), the "
      "media_address of the plain endpoint a downstream stream names as "
      "source_node (the command center), else empty; TLS_CA, TLS_CERT and "
      "TLS_KEY ca.pem, NODE.pem and NODE.key in --certs-dir (default "
      "/etc/cascade/certs). A header names the topology and the command; "
      "rendering again overwrites the file.\n\n"
      "A relay with an edge_address (a browser edge, relayctl url) gets "
      "RELAYD_OPTS=--edge=IP:PORT (a host name: 0.0.0.0 at its port) and, "
      "unless the address is loopback (plain HTTP behind a TLS proxy), "
      "--edge_tls_cert and --edge_tls_key at edge-NODE.pem and edge-NODE.key "
      "in --certs-dir: a certificate the sites' browsers trust, which the "
      "operator provides. Its media_address must be an IP address (browsers "
      "send media there); an IPv6 edge is refused.\n\n"
      "--ca=PKI_DIR (a CA from relayctl pki init): also issues each node's "
      "certificate, OUT/certs/NODE.pem and NODE.key (mode 0600), identity "
      "spiffe://cascade/node/NODE with the media address's IP as an IP SAN, "
      "and copies the CA's ca.pem there (never its key).\n\n"
      "Existing files are kept unless --force: then nothing is written. "
      "--json prints {\"files\": [PATH, ...]}, the files written.\n\n"
      "--ansible-inventory (with --all): also OUT/inventory.json, the "
      "inventory of deploy/ansible/site.yml: groups cascade_controllers (a "
      "host per --controller address) and cascade_relays (children "
      "cascade_national, cascade_provincial, cascade_district; a host per "
      "relay, named by its node id, ansible_host its media address's "
      "host), and the absolute paths of OUT and the topology.\n\n"
      "Exit codes: 0 written, 2 usage, 3 no such node (or no CA in --ca), "
      "4 refused (an invalid topology, a plain endpoint, a site without a "
      "key, a file that exists), 1 failed (e.g. the topology cannot be "
      "read).\n");
}

}  // namespace cascade::relayctl
