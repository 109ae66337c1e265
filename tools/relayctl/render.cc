#include "tools/relayctl/render.h"

#include <arpa/inet.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <ostream>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "base/files.h"
#include "control/link_key.h"
#include "google/protobuf/struct.pb.h"
#include "proto/topology.pb.h"
#include "security/identity.h"
#include "security/pki.h"
#include "security/pki_files.h"
#include "tools/relayctl/json_line.h"
#include "tools/relayctl/relayctl.h"
#include "tools/relayctl/render_inventory.h"
#include "topology/topology_file.h"

namespace cascade::relayctl {
namespace {

using cascade::v1::Node;
using cascade::v1::Topology;

constexpr char kDefaultMetrics[] = "127.0.0.1:9464";

// A plain endpoint (a player, the command center) or a site (relay-probe,
// a browser) runs no relayd.
bool IsRelay(const Node& node) {
  return !node.plain_endpoint() && node.tier() != cascade::v1::TIER_SITE;
}

// A site that activates at its parents (relay-probe, relay-record), not a
// plain endpoint pushed to: it needs its link keys.
bool IsSite(const Node& node) {
  return !node.plain_endpoint() && node.tier() == cascade::v1::TIER_SITE;
}

// Values are written unquoted, and a node id names files and the unit's
// instance: only characters systemd's EnvironmentFile= and ExecStart= take
// literally.
bool IsPlainWord(absl::string_view value, bool file_name) {
  if (value.empty() || (file_name && value[0] == '.')) return false;
  for (const char c : value) {
    if (absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '.' ||
        c == '_' || c == '-') {
      continue;
    }
    if (file_name || !absl::StrContains(":,/[]%@+", c)) return false;
  }
  return true;
}

// "HOST" of HOST:PORT (brackets of an IPv6 literal removed), and whether
// it is an IP address rather than a name.
std::pair<std::string, bool> HostOf(absl::string_view address) {
  std::string host(address.substr(0, address.rfind(':')));
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  unsigned char buffer[16];
  const bool ip = inet_pton(AF_INET, host.c_str(), buffer) == 1 ||
                  inet_pton(AF_INET6, host.c_str(), buffer) == 1;
  return {host, ip};
}

// mkdir -p, new directories `mode`.
absl::Status MakeDirectories(const std::string& dir, mode_t mode) {
  for (size_t slash = dir.find('/', 1);; slash = dir.find('/', slash + 1)) {
    const std::string prefix = dir.substr(0, slash);
    if (mkdir(prefix.c_str(), mode) != 0 && errno != EEXIST) {
      return ErrnoStatus("cannot create directory", prefix);
    }
    if (slash == std::string::npos) return absl::OkStatus();
  }
}

// The port of HOST:PORT (the topology checked it is one).
int PortOf(absl::string_view address) {
  int port = 0;
  (void)absl::SimpleAtoi(address.substr(address.rfind(':') + 1), &port);
  return port;
}

class Render {
 public:
  Render(const RenderOptions& options, std::ostream& out, std::ostream& err)
      : options_(options), out_(out), err_(err) {}

  int Run(const std::vector<std::string>& args) {
    const std::vector<std::string> nodes(args.begin() + 1, args.end());
    if (nodes.empty() == !options_.all) {
      return Fail(kExitUsage, absl::StrCat("name NODEs or give --all; usage: "
                                           "relayctl ",
                                           kRenderUsage));
    }
    if (options_.ansible_inventory && !options_.all) {
      return Fail(kExitUsage,
                  "--ansible-inventory is the whole tree's: it needs --all");
    }
    if (options_.topology.empty()) {
      return Fail(kExitUsage,
                  absl::StrCat("--topology is required; usage: relayctl ",
                               kRenderUsage));
    }
    if (options_.out.empty() && (options_.all || nodes.size() > 1 ||
                                 !options_.ca.empty() || options_.json)) {
      return Fail(kExitUsage,
                  "--out=DIR is needed for --all, several nodes, --ca or "
                  "--json (without it one NODE's file goes to stdout)");
    }
    for (const auto& [flag, value] :
         {std::pair{"--controller", options_.controller},
          {"--certs-dir", options_.certs_dir}}) {
      // No controller is fine until a relay needs one (below).
      if (value.empty() && std::string(flag) == "--controller") continue;
      if (!IsPlainWord(value, false)) {
        return Fail(kExitUsage,
                    absl::StrCat(flag, " \"", value,
                                 "\": only letters, digits and .:,/_-@+%[] "
                                 "(the file is read by systemd unquoted)"));
      }
    }
    absl::StatusOr<topology::TopologyText> text =
        topology::ReadTopologyFile(options_.topology);
    if (!text.ok()) {
      return Fail(absl::IsNotFound(text.status()) ? kExitFailed : kExitRefused,
                  absl::StrCat("--topology: ", text.status().message()));
    }
    topology_ = std::move(text->topology);
    if (absl::Status valid = topology::ValidateTopology(
            topology_, options_.topology, text->node_lines);
        !valid.ok()) {
      return Fail(kExitRefused,
                  absl::StrCat("--topology: invalid: ", valid.message()));
    }
    for (const Node& node : topology_.nodes()) by_id_[node.id()] = &node;

    std::vector<const Node*> chosen;
    if (options_.all) {
      for (const Node& node : topology_.nodes()) {
        if (IsRelay(node) || IsSite(node)) chosen.push_back(&node);
      }
      if (chosen.empty()) {
        return Fail(kExitNotFound,
                    absl::StrCat(options_.topology, " has no relay"));
      }
    } else {
      for (const std::string& id : nodes) {
        auto it = by_id_.find(id);
        if (it == by_id_.end()) {
          return Fail(kExitNotFound, absl::StrCat("no node \"", id, "\" in ",
                                                  options_.topology));
        }
        if (it->second->plain_endpoint()) {
          return Fail(kExitRefused,
                      absl::StrCat("node \"", id,
                                   "\" is a plain endpoint: it is pushed to "
                                   "and needs no settings of its own"));
        }
        chosen.push_back(it->second);
      }
    }

    const bool relays = std::any_of(chosen.begin(), chosen.end(),
                                    [](const Node* n) { return IsRelay(*n); });
    if (relays && options_.controller.empty()) {
      return Fail(kExitUsage,
                  absl::StrCat("--controller is required for a relay's file; "
                               "usage: relayctl ",
                               kRenderUsage));
    }
    std::vector<std::pair<std::string, std::string>> files;  // path, data
    std::vector<std::pair<std::string, security::Credentials>> credentials;
    for (const Node* node : chosen) {
      absl::StatusOr<std::string> env =
          IsSite(*node) ? SiteEnvFile(*node) : EnvFile(*node);
      if (!env.ok()) return Fail(kExitRefused, env.status());
      if (options_.out.empty()) {
        out_ << *env;
        return kExitDone;
      }
      files.emplace_back(EnvPath(*node), *std::move(env));
    }
    security::Credentials ca;
    if (!options_.ca.empty()) {
      absl::StatusOr<security::Credentials> read =
          security::ReadCredentials(options_.ca, security::kCaName);
      if (!read.ok()) {
        return Fail(
            absl::IsNotFound(read.status()) ? kExitNotFound : kExitFailed,
            absl::StrCat("--ca: ", read.status().message(),
                         " (relayctl pki init --out=DIR makes a CA)"));
      }
      ca = *std::move(read);
      for (const Node* node : chosen) {
        // A site talks to no controller: no certificate.
        if (IsSite(*node)) continue;
        absl::StatusOr<security::Credentials> issued = Issue(ca, *node);
        if (!issued.ok()) return Fail(kExitRefused, issued.status());
        credentials.emplace_back(node->id(), *std::move(issued));
      }
    }
    if (int code = RefuseExisting(files, credentials); code != kExitDone) {
      return code;
    }
    return Write(files, credentials, ca);
  }

 private:
  std::string EnvPath(const Node& node) const {
    return absl::StrCat(options_.out, IsSite(node) ? "/sites/" : "/relayd/",
                        node.id(), ".env");
  }
  std::string CertsDir() const { return options_.out + "/certs"; }
  std::string InventoryPath() const { return options_.out + "/inventory.json"; }

  // The root's source: the media_address of the plain endpoint (the command
  // center) a downstream stream enters the tree at. Empty when no stream
  // names one.
  absl::StatusOr<std::string> SourceOf(const Node& node) const {
    if (!node.parent().empty()) return std::string();
    std::string source;
    for (const cascade::v1::Stream& stream : topology_.streams()) {
      if (stream.direction() != cascade::v1::DIRECTION_DOWNSTREAM) continue;
      auto it = by_id_.find(stream.source_node());
      if (it == by_id_.end() || !it->second->plain_endpoint()) continue;
      const std::string& address = it->second->media_address();
      if (!source.empty() && source != address) {
        return absl::InvalidArgumentError(absl::StrCat(
            "node \"", node.id(), "\": downstream streams enter at ", source,
            " and ", address, ", but relayd takes one --source"));
      }
      source = address;
    }
    return source;
  }

  absl::StatusOr<std::string> EnvFile(const Node& node) const {
    const std::string& id = node.id();
    if (!IsPlainWord(id, true)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "node id \"", id,
          "\" cannot name a unit's file: only letters, digits, '.', '_' and "
          "'-' (not starting with '.')"));
    }
    // A name is bound on every address: it may name a public address the
    // machine does not hold (NAT).
    const auto [host, is_ip] = HostOf(node.media_address());
    const std::string listen =
        is_ip ? node.media_address()
              : absl::StrCat("0.0.0.0", node.media_address().substr(
                                            node.media_address().rfind(':')));
    absl::StatusOr<std::string> source = SourceOf(node);
    if (!source.ok()) return source.status();
    std::string metrics = kDefaultMetrics;
    if (!node.metrics_address().empty()) {
      // HOST:PORT/PATH is for a relayd running several relays; one relay's
      // relayd also serves /metrics/ID.
      metrics = std::string(
          node.metrics_address().substr(0, node.metrics_address().find('/')));
    }
    absl::StatusOr<std::vector<std::string>> edge = EdgeFlags(node, is_ip);
    if (!edge.ok()) return edge.status();
    const std::vector<std::pair<std::string, std::string>> variables = {
        {"CONTROLLER", options_.controller},
        {"CONFIG", ""},
        {"LISTEN", listen},
        {"SOURCE", *source},
        {"METRICS", metrics},
        {"TLS_CA", options_.certs_dir + "/ca.pem"},
        {"TLS_CERT", absl::StrCat(options_.certs_dir, "/", id, ".pem")},
        {"TLS_KEY", absl::StrCat(options_.certs_dir, "/", id, ".key")},
        {"RELAYD_OPTS", absl::StrJoin(*edge, " ")},
    };
    std::string text = absl::StrCat(
        "# /etc/cascade/relayd/", id,
        ".env: the environment of cascade-relayd@", id,
        ".service.\n# Generated from ", options_.topology, " by\n#   ",
        Command(id),
        "\n# Rendering again overwrites this file: change the topology or the "
        "command,\n# not this file. Each variable: "
        "/etc/cascade/relayd/NODE.env.example.\n",
        "# Node ", id, ": ", cascade::v1::Tier_Name(node.tier()),
        node.parent().empty() ? ", the root"
                              : absl::StrCat(", parent ", node.parent()),
        ".\n");
    if (node.parent().empty() && source->empty()) {
      absl::StrAppend(&text,
                      "# No downstream stream names a plain endpoint as its "
                      "source_node: SOURCE is\n# empty (set it to the command "
                      "center's IP:PORT, or add it to the topology).\n");
    }
    if (!edge->empty()) {
      absl::StrAppend(
          &text, "# A browser edge at ", node.edge_address(),
          " (relayctl url): RELAYD_OPTS has relayd's --edge flags.\n");
      if (edge->size() > 1) {
        absl::StrAppend(
            &text,
            "# Its certificate is one the sites' browsers trust (a public or "
            "your own CA,\n# not Cascade's node PKI): put it and its key at "
            "the paths of --edge_tls_cert\n# and --edge_tls_key, readable by "
            "the user cascade.\n");
      }
      if (const int port = PortOf(node.edge_address()); port < 1024) {
        absl::StrAppend(&text, "# Port ", port,
                        " is below 1024: the unit needs "
                        "CAP_NET_BIND_SERVICE (a drop-in: see the unit's "
                        "comment).\n");
      }
    }
    for (const auto& [name, value] : variables) {
      // RELAYD_OPTS: flags made of the checked parts (EdgeFlags).
      if (name == "RELAYD_OPTS") {
        absl::StrAppend(&text, name, "=", value, "\n");
        continue;
      }
      if (!value.empty() && !IsPlainWord(value, false)) {
        return absl::InvalidArgumentError(
            absl::StrCat("node \"", id, "\": ", name, " \"", value,
                         "\": only letters, digits and .:,/_-@+%[] (the file "
                         "is read by systemd unquoted)"));
      }
      absl::StrAppend(&text, name, "=", value, "\n");
    }
    return text;
  }

  // relayd's flags for a relay's browser edge (Node.edge_address): none
  // without one. A name binds every address, as LISTEN does. Plain HTTP on
  // loopback only (relayd refuses it elsewhere): a TLS proxy in front.
  absl::StatusOr<std::vector<std::string>> EdgeFlags(const Node& node,
                                                     bool listen_is_ip) const {
    const std::string& address = node.edge_address();
    if (address.empty()) return std::vector<std::string>();
    // Browsers' ICE candidates are relayd's --listen by default: a name
    // listens on 0.0.0.0, which no browser can reach.
    if (!listen_is_ip) {
      return absl::InvalidArgumentError(absl::StrCat(
          "node \"", node.id(),
          "\" has a browser edge but its media_address \"",
          node.media_address(),
          "\" is a name: browsers send media to the relay's UDP socket at "
          "an IP address (relayd --edge_candidates), so give media_address "
          "as IP:PORT"));
    }
    const auto [host, is_ip] = HostOf(address);
    in_addr ipv4;
    const bool v4 = inet_pton(AF_INET, host.c_str(), &ipv4) == 1;
    if (is_ip && !v4) {
      return absl::InvalidArgumentError(
          absl::StrCat("node \"", node.id(), "\": edge_address \"", address,
                       "\": relayd's browser edge is IPv4 only"));
    }
    const int port = PortOf(address);
    std::vector<std::string> flags = {
        absl::StrCat("--edge=", v4 ? host : "0.0.0.0", ":", port)};
    if (v4 && (ntohl(ipv4.s_addr) >> 24) == 127) return flags;
    flags.push_back(absl::StrCat("--edge_tls_cert=", options_.certs_dir,
                                 "/edge-", node.id(), ".pem"));
    flags.push_back(absl::StrCat("--edge_tls_key=", options_.certs_dir,
                                 "/edge-", node.id(), ".key"));
    return flags;
  }

  // A site's settings for relay-probe or relay-record: its parents in order
  // and the link key toward each, derived from its node key (a site has no
  // controller link to be handed them).
  absl::StatusOr<std::string> SiteEnvFile(const Node& node) const {
    const std::string& id = node.id();
    if (!IsPlainWord(id, true)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "node id \"", id,
          "\" cannot name a file: only letters, digits, '.', '_' and '-' "
          "(not starting with '.')"));
    }
    if (node.key().empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("site \"", id,
                       "\" has no key in the topology: its link keys derive "
                       "from it (give it a key: 32 random bytes)"));
    }
    std::vector<std::string> parents, keys;
    std::vector<std::string> ids = {node.parent()};
    ids.insert(ids.end(), node.standby_parents().begin(),
               node.standby_parents().end());
    for (const std::string& parent : ids) {
      auto it = by_id_.find(parent);
      if (parent.empty() || it == by_id_.end()) continue;
      parents.push_back(it->second->media_address());
      keys.push_back(
          absl::BytesToHexString(control::LinkKey(node.key(), parent)));
    }
    const auto [host, is_ip] = HostOf(node.media_address());
    const std::string listen =
        is_ip ? node.media_address()
              : absl::StrCat("0.0.0.0", node.media_address().substr(
                                            node.media_address().rfind(':')));
    std::string text = absl::StrCat(
        "# Site ", id,
        ": its settings for relay-probe or relay-record, e.g.\n"
        "#   relay-probe --node-id=$NODE_ID --listen=$LISTEN "
        "--parent=$PARENTS --key=$KEYS\n"
        "# KEYS are its link keys, one per parent: keep this file readable "
        "by whoever\n# runs the site only (mode 0600).\n# Generated from ",
        options_.topology, " by\n#   ", Command(id),
        "\n# Rendering again overwrites this file.\n");
    for (const auto& [name, value] :
         std::vector<std::pair<std::string, std::string>>{
             {"NODE_ID", id},
             {"LISTEN", listen},
             {"PARENTS", absl::StrJoin(parents, ",")},
             {"KEYS", absl::StrJoin(keys, ",")}}) {
      if (!value.empty() && !IsPlainWord(value, false)) {
        return absl::InvalidArgumentError(
            absl::StrCat("node \"", id, "\": ", name, " \"", value,
                         "\": only letters, digits and .:,/_-@+%[]"));
      }
      absl::StrAppend(&text, name, "=", value, "\n");
    }
    return text;
  }

  // The command that renders this node's file again.
  std::string Command(const std::string& id) const {
    std::string command =
        absl::StrCat("relayctl render --topology=", options_.topology,
                     " --controller=", options_.controller);
    if (options_.certs_dir != RenderOptions().certs_dir) {
      absl::StrAppend(&command, " --certs-dir=", options_.certs_dir);
    }
    return absl::StrCat(command, " ", id);
  }

  // The node's identity, and its media address as an IP SAN (a DNS SAN
  // when it is a name): relayd serves there too.
  absl::StatusOr<security::Credentials> Issue(const security::Credentials& ca,
                                              const Node& node) const {
    security::IssueOptions issue;
    issue.identity = {security::IdentityKind::kNode, node.id(),
                      security::Role::kNone};
    const auto [host, is_ip] = HostOf(node.media_address());
    (is_ip ? issue.ip_addresses : issue.dns_names).push_back(host);
    absl::StatusOr<security::Credentials> issued = security::Issue(ca, issue);
    if (!issued.ok()) {
      return absl::Status(issued.status().code(),
                          absl::StrCat("node \"", node.id(),
                                       "\": ", issued.status().message()));
    }
    return issued;
  }

  // Nothing is written when any file exists (without --force).
  int RefuseExisting(
      const std::vector<std::pair<std::string, std::string>>& files,
      const std::vector<std::pair<std::string, security::Credentials>>&
          credentials) {
    if (options_.force) return kExitDone;
    std::vector<std::string> paths;
    for (const auto& [path, data] : files) paths.push_back(path);
    for (const auto& [id, unused] : credentials) {
      const security::CredentialFiles issued =
          security::FilesOf(CertsDir(), id);
      paths.push_back(issued.certificate);
      paths.push_back(issued.key);
    }
    if (!credentials.empty()) paths.push_back(CertsDir() + "/ca.pem");
    if (options_.ansible_inventory) paths.push_back(InventoryPath());
    for (const std::string& path : paths) {
      if (access(path.c_str(), F_OK) == 0) {
        return Fail(kExitRefused,
                    absl::StrCat(path, " exists (--force replaces it)"));
      }
    }
    return kExitDone;
  }

  int Write(const std::vector<std::pair<std::string, std::string>>& files,
            const std::vector<std::pair<std::string, security::Credentials>>&
                credentials,
            const security::Credentials& ca) {
    google::protobuf::Struct result;
    google::protobuf::ListValue* written =
        (*result.mutable_fields())["files"].mutable_list_value();
    for (const auto& [path, data] : files) {
      // A site's file holds its link keys: its owner's only.
      const bool site = absl::StrContains(path, "/sites/");
      if (absl::Status made = MakeDirectories(path.substr(0, path.rfind('/')),
                                              site ? 0700 : 0755);
          !made.ok()) {
        return Fail(kExitFailed, made);
      }
      if (absl::Status s = WriteFileAtomically(path, data, site ? 0600 : 0644);
          !s.ok()) {
        return Fail(kExitFailed, s);
      }
      written->add_values()->set_string_value(path);
    }
    for (const auto& [id, issued] : credentials) {
      if (absl::Status s = security::WriteCredentials(CertsDir(), id, issued,
                                                      /*overwrite=*/true);
          !s.ok()) {
        return Fail(kExitFailed, s);
      }
      const security::CredentialFiles paths = security::FilesOf(CertsDir(), id);
      written->add_values()->set_string_value(paths.certificate);
      written->add_values()->set_string_value(paths.key);
    }
    if (!credentials.empty()) {
      // The CA's certificate only: its key stays where it is.
      const std::string path = CertsDir() + "/ca.pem";
      if (absl::Status s = WriteFileAtomically(path, ca.certificate, 0644);
          !s.ok()) {
        return Fail(kExitFailed, s);
      }
      written->add_values()->set_string_value(path);
    }
    if (options_.ansible_inventory) {
      if (int code = WriteInventory(); code != kExitDone) return code;
      written->add_values()->set_string_value(InventoryPath());
    }
    if (options_.json) {
      PrintJsonLine(result, out_);
    } else {
      for (const auto& value : written->values()) {
        out_ << "wrote " << value.string_value() << "\n";
      }
    }
    return kExitDone;
  }

  // The playbook copies from the inventory's paths: absolute ones.
  int WriteInventory() {
    char out[PATH_MAX], topology[PATH_MAX];
    for (const auto& [path, resolved] :
         {std::pair{&options_.out, out}, {&options_.topology, topology}}) {
      if (realpath(path->c_str(), resolved) == nullptr) {
        return Fail(kExitFailed, ErrnoStatus("cannot resolve", *path));
      }
    }
    absl::StatusOr<std::string> inventory =
        AnsibleInventory(topology_, topology, options_.controller, out);
    if (!inventory.ok()) return Fail(kExitFailed, inventory.status());
    if (absl::Status s =
            WriteFileAtomically(InventoryPath(), *inventory + "\n", 0644);
        !s.ok()) {
      return Fail(kExitFailed, s);
    }
    return kExitDone;
  }

  int Fail(int code, const absl::Status& status) {
    return Fail(code, std::string(status.message()));
  }
  int Fail(int code, const std::string& message) {
    err_ << "relayctl: render: " << message << "\n";
    return code;
  }

  const RenderOptions& options_;
  std::ostream& out_;
  std::ostream& err_;
  Topology topology_;
  absl::flat_hash_map<std::string, const Node*> by_id_;
};

}  // namespace

int RunRender(const RenderOptions& options,
              const std::vector<std::string>& args, std::ostream& out,
              std::ostream& err) {
  return Render(options, out, err).Run(args);
}

std::string RenderSummary() { return absl::StrCat("  ", kRenderUsage, "\n"); }

}  // namespace cascade::relayctl
