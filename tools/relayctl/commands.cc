#include "tools/relayctl/commands.h"

#include "absl/strings/str_cat.h"
#include "tools/relayctl/relayctl.h"

namespace cascade::relayctl {

const std::map<std::string, Command>& Commands() {
  static const auto* commands = new std::map<std::string, Command>{
      {"tree",
       {"[NODE]", 0, 1,
        "Prints the tree (or the subtree under NODE) by active parent, "
        "indented, with each node's tier and status. Orphans (no usable "
        "parent) are listed at the end."}},
      {"nodes",
       {"", 0, 0,
        "Lists every node: id, tier, status, effective parents (active "
        "first). --json prints {\"nodes\": [{\"id\", \"tier\", \"status\", "
        "\"parents\", ...}]}."}},
      {"show", {"NODE", 1, 1, "Shows one node: configuration and live state."}},
      {"apply",
       {"FILE", 1, 1,
        "Validates the topology FILE (text cascade.v1.Topology) and replaces "
        "the controller's topology with it atomically. An invalid file is "
        "refused whole (exit 4), naming the node and line."}},
      {"add",
       {"'NODE TEXT'", 1, 1,
        "Adds a node given as text cascade.v1.Node, e.g. 'id: \"s9\" tier: "
        "TIER_SITE parent: \"d1\" media_address: \"127.10.0.9:5004\"'."}},
      {"remove",
       {"NODE", 1, 1,
        "Removes a node; refused (exit 4) while it is another node's "
        "desired parent."}},
      {"move",
       {"NODE --parent P", 1, 1, "Makes P the desired parent of NODE."}},
      {"drain",
       {"NODE [--wait=false] [--timeout=D]", 1, 1,
        "Moves NODE's children to their next parents; NODE keeps receiving "
        "but serves no children until restored. Then (unless --wait=false) "
        "waits until NODE reports no active children and every child it had "
        "reports receiving from its new parent, and prints \"NODE is "
        "empty\": it can be restarted. Children that do not report (plain "
        "endpoints, nodes down) are listed but not waited for. --timeout "
        "bounds the whole wait. Exit 0 empty, 5 not empty within --timeout "
        "(the drain stays in force), 3 no such node, 1 controller "
        "unreachable. --json prints {\"node\", \"empty\", \"waited_ms\", "
        "\"state_sequence\", \"assignments_changed\", \"active_children\", "
        "\"children\": [{\"id\", \"parent\", \"receiving_from\", "
        "\"confirmed\", \"note\"}]}, also on a timeout."}},
      {"failover",
       {"NODE", 1, 1,
        "Treats NODE as down (children move to their next parents) until "
        "restored."}},
      {"restore",
       {"NODE [--policy=revertive|non-revertive]", 1, 1,
        "Ends a drain or failover. revertive: children whose desired parent "
        "is NODE move back; non-revertive: they stay and NODE becomes their "
        "standby. Default: the controller's --reintegration."}},
      {"select",
       {"SITE", 1, 1,
        "Selects SITE's upstream stream: every relay on its path forwards it "
        "up."}},
      {"release", {"SITE", 1, 1, "Releases SITE's upstream stream."}},
      {"stats", {"", 0, 0, "Controller counters: nodes by status, journal."}},
      {"events",
       {"[--count=N] [--history=N]", 0, 0,
        "Follows the controller's event feed, one line per event, until "
        "interrupted or N events. --history=N first prints the last N "
        "audited Admin calls from the journal (they survive restarts): each "
        "accepted change and each refused call, who made it (operator and "
        "role, or node), from where, what and when. With several "
        "controllers it follows the leader: when the leader goes, the feed "
        "goes on from the new one (noted on stderr; events in between may "
        "be missing)."}},
      {"token revoke",
       {"[ID] [--operator=NAME]", 0, 1,
        "Revokes one token by its ID (relayctl token issue prints it), or "
        "with --operator=NAME every token of NAME issued so far (tokens "
        "issued later are good). Needs the admin role. Journaled: a revoked "
        "token stays refused across restarts (and in etcd). Certificates "
        "are not revoked by this."}},
      {"pki revoke",
       {"CERT.pem | --serial=HEX", 0, 1,
        "Has topologyd refuse a client certificate from now on, though the "
        "CA signed it: a lost or stolen relay's, site's or operator's. Give "
        "the certificate's file (relayctl pki issue wrote it), or its serial "
        "number when the file is lost (openssl x509 -serial shows it; colons "
        "allowed). Every call made with it is refused (permission denied, "
        "an event), its open Watch streams end, a relay holding it loses "
        "its lease and its children move to their standbys. A node's "
        "revocation also has topologyd replace the stream keys at once "
        "(used after the overlap), so a revoked site cannot decrypt what "
        "follows. Journaled: it survives restarts (and is in etcd) until "
        "the certificate expires. Issue the node a new certificate to bring "
        "it back. Needs the admin role. Exit 4 for a file that is not a "
        "certificate or a serial that is not its."}},
      {"url",
       {"SITE [--publish] [--ttl=D] | --center [--publish] [SITE]", 0, 1,
        "Prints the URL a browser opens at SITE: "
        "https://EDGE/watch#stream=S&token=T to watch the program at the "
        "site's relay (its active parent), or with --publish "
        "https://EDGE/publish#... to send the site's camera into its "
        "upstream stream there. --center: the command center's, at the "
        "national relay: --publish sends the program, SITE watches that "
        "site's upstream stream, and neither watches the program. The token "
        "(signed by the "
        "controller's edge key, checked by the relay) is good for that "
        "relay, stream and direction until --ttl is over (default 24h, at "
        "most 31 days) or the edge key is rotated twice. The relay needs an "
        "edge_address in the topology. Needs the operator role; each URL "
        "minted is in the audit trail (events --history). --json prints "
        "{\"token\", \"relay\", \"edge_address\", \"stream\", "
        "\"expires_unix_ms\", \"url\", \"token_id\", \"note\"}. Exit 3 "
        "no such node, 4 not a site, no edge_address or no such stream."}},
      {"rotate-edge-key",
       {"", 0, 0,
        "Makes a new edge key: URLs minted from now on are signed with it; "
        "those of the key before stay good until the next rotation (relays "
        "accept the newest two), older ones stop working at once. Needs "
        "the admin role."}},
      {"rotate-keys",
       {"[NODE]", 0, 1,
        "Gives NODE (a relay), or every relay when none is named, a new "
        "node key, hence new link keys (the keys a child signs its "
        "activation at its parent with) on its links to its parents. Both "
        "ends get the new key at once and keep accepting the key before for "
        "10 minutes, so no child drops; then it is refused. Sites and plain "
        "endpoints are not rotated (their keys are configured where they "
        "run): naming one is refused (exit 4); an unknown NODE exits 3. "
        "Needs the admin role; no key is ever shown."}},
      {"stream-key rotate",
       {"[STREAM]", 0, 1,
        "Has topologyd make a new SRTP key for STREAM (the program, or a "
        "site's upstream stream), or for each downstream stream when none "
        "is named. The sites and the source fetch it within a quarter of "
        "the overlap (they poll GetStreamKeys), and the sender encrypts "
        "under it once "
        "topologyd's "
        "--stream-key-overlap (2 min) has passed, so no site drops. Refused "
        "(exit 4) while the stream's last rotation is in that overlap, exit "
        "3 for no such stream. topologyd also rotates every 24 h by itself "
        "(--stream-key-rotation). Needs the admin role; no key is ever "
        "shown. docs/security.md, \"Stream keys from topologyd\"."}},
      {"sdp",
       {"SITE [--out=FILE]", 1, 1,
        "Writes the SDP a plain RTP player opens to play the meeting at "
        "SITE, a plain endpoint (ffplay -protocol_whitelist file,udp,rtp "
        "-i FILE, or VLC): video at its media_address, audio at its "
        "audio_address (the relay sends each there, RTCP on the same port), "
        "with the tracks' SSRCs, payload types and codecs. A player binds "
        "one port per m= line and the one above it for RTCP, so SITE needs "
        "an audio_address at least 2 ports from its media_address when the "
        "stream has audio. To stdout, or replaces FILE whole. Exit 3 no such "
        "node, 4 not a plain endpoint or no audio_address for its audio."}},
      {"prometheus",
       {"--out=DIR [--controller-metrics=HOST:PORT,...] "
        "[--scrape-interval=D] [--rules=FILE,...]",
        0, 0,
        "Writes a Prometheus configuration for the whole network into DIR: "
        "prometheus.yml (JSON, which YAML reads; scrape and evaluation every "
        "--scrape-interval, default 15s, loading --rules, e.g. "
        "observability/rules.yml) with the jobs cascade-relays and "
        "cascade-controllers, whose targets Prometheus reads from "
        "relays.json and controllers.json beside it (file_sd: run it again "
        "after a change of topology, Prometheus rereads them). A relay is "
        "scraped at its metrics_address (HOST:PORT, or HOST:PORT/PATH), "
        "labelled node, tier, role and its topology labels; nodes without "
        "one are listed and left out. Controllers at --controller-metrics "
        "(their --metrics). docs/observability.md."}},
  };
  return *commands;
}

bool IsCommand(const std::string& word) { return Commands().count(word) > 0; }

std::string CommandHelp(const std::string& command) {
  auto it = Commands().find(command);
  if (it == Commands().end()) return "";
  return absl::StrCat(
      "usage: relayctl [--controller=HOST:PORT[,...]] [--json] ", command,
      it->second.usage.empty() ? "" : " ", it->second.usage, "\n\n",
      it->second.help, "\n");
}

std::string CommandSummary() {
  std::string summary;
  for (const auto& [name, command] : Commands()) {
    absl::StrAppend(&summary, "  ", name,
                    command.usage.empty() ? "" : " " + command.usage, "\n");
  }
  return summary;
}

}  // namespace cascade::relayctl
