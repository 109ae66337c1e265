#include "tools/relayctl/render.h"

#include <gtest/gtest.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <climits>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "base/files.h"
#include "control/link_key.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "security/identity.h"
#include "security/pki.h"
#include "tools/relayctl/pki.h"

namespace cascade::relayctl {
namespace {

// The command center (a plain endpoint) feeds the root; sites: one plain,
// one activated.
constexpr char kTopology[] = R"txt(
streams { id: "command" direction: DIRECTION_DOWNSTREAM bitrate_kbps: 64
  source_node: "center"
  tracks { ssrc: 1 media: "audio" payload_type: 111 encoding: "opus/48000/2" } }
nodes { id: "center" tier: TIER_NATIONAL plain_endpoint: true
  media_address: "10.0.0.9:6000" }
nodes { id: "nat" tier: TIER_NATIONAL media_address: "10.0.0.1:5004"
  capacity { max_children: 8 } }
nodes { id: "p1" tier: TIER_PROVINCIAL parent: "nat"
  media_address: "relay-p1.example.net:5004"
  metrics_address: "10.0.1.1:9500/metrics/p1" capacity { max_children: 8 } }
nodes { id: "d1" tier: TIER_DISTRICT parent: "p1" media_address: "10.0.2.1:5006"
  capacity { max_children: 8 } }
nodes { id: "s1" tier: TIER_SITE parent: "d1" media_address: "10.0.3.1:5004"
  plain_endpoint: true }
nodes { id: "s2" tier: TIER_SITE parent: "d1" standby_parents: "p1"
  media_address: "10.0.3.2:5004" key: "0123456789abcdef0123456789abcdef" }
)txt";
constexpr char kSiteKey[] = "0123456789abcdef0123456789abcdef";

struct Result {
  int code;
  std::string out, err;
};

// KEY=VALUE lines of an environment file.
std::map<std::string, std::string> Variables(const std::string& text) {
  std::map<std::string, std::string> variables;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (line.empty() || line[0] == '#') continue;
    std::pair<std::string, std::string> kv =
        absl::StrSplit(line, absl::MaxSplits('=', 1));
    variables.insert(kv);
  }
  return variables;
}

class RenderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::string(std::getenv("TEST_TMPDIR")) + "/renderXXXXXX";
    ASSERT_NE(mkdtemp(dir_.data()), nullptr);
    topology_ = dir_ + "/topology.textproto";
    std::ofstream(topology_) << kTopology;
    options_.topology = topology_;
    options_.controller = "c1.example.net:7700,c2.example.net:7700";
  }

  Result Run(const RenderOptions& options, std::vector<std::string> nodes) {
    nodes.insert(nodes.begin(), "render");
    std::ostringstream out, err;
    const int code = RunRender(options, nodes, out, err);
    return {code, out.str(), err.str()};
  }

  std::string MakeCa() {
    PkiOptions pki;
    pki.out = dir_ + "/ca";
    std::ostringstream out, err;
    EXPECT_EQ(RunPki(pki, {"pki", "init"}, out, err), 0) << err.str();
    return pki.out;
  }

  std::string dir_, topology_;
  RenderOptions options_;
};

TEST_F(RenderTest, OneNodeToStdoutHasTheTopologysValues) {
  Result root = Run(options_, {"nat"});
  ASSERT_EQ(root.code, 0) << root.err;
  std::map<std::string, std::string> env = Variables(root.out);
  EXPECT_EQ(env, (std::map<std::string, std::string>{
                     {"CONTROLLER", "c1.example.net:7700,c2.example.net:7700"},
                     {"CONFIG", ""},
                     {"LISTEN", "10.0.0.1:5004"},
                     {"SOURCE", "10.0.0.9:6000"},
                     {"METRICS", "127.0.0.1:9464"},
                     {"TLS_CA", "/etc/cascade/certs/ca.pem"},
                     {"TLS_CERT", "/etc/cascade/certs/nat.pem"},
                     {"TLS_KEY", "/etc/cascade/certs/nat.key"},
                     {"RELAYD_OPTS", ""},
                 }));
  // The header says where it came from and how to make it again.
  EXPECT_NE(root.out.find("Generated from " + topology_), std::string::npos);
  EXPECT_NE(root.out.find("relayctl render --topology=" + topology_ +
                          " --controller=c1.example.net:7700,"
                          "c2.example.net:7700 nat"),
            std::string::npos)
      << root.out;
  EXPECT_NE(root.out.find("overwrites"), std::string::npos);

  // Below the root no SOURCE; a host name listens on every address; the
  // topology's metrics address without its path.
  Result p1 = Run(options_, {"p1"});
  ASSERT_EQ(p1.code, 0) << p1.err;
  env = Variables(p1.out);
  EXPECT_EQ(env["LISTEN"], "0.0.0.0:5004");
  EXPECT_EQ(env["SOURCE"], "");
  EXPECT_EQ(env["METRICS"], "10.0.1.1:9500");

  options_.certs_dir = "/srv/certs";
  Result d1 = Run(options_, {"d1"});
  ASSERT_EQ(d1.code, 0) << d1.err;
  env = Variables(d1.out);
  EXPECT_EQ(env["LISTEN"], "10.0.2.1:5006");
  EXPECT_EQ(env["TLS_KEY"], "/srv/certs/d1.key");
  EXPECT_NE(d1.out.find("--certs-dir=/srv/certs d1"), std::string::npos);
}

TEST_F(RenderTest, AllWritesEveryRelayAndSiteAndSkipsEndpoints) {
  options_.out = dir_ + "/out";
  options_.all = true;
  options_.json = true;
  Result all = Run(options_, {});
  ASSERT_EQ(all.code, 0) << all.err;
  google::protobuf::Struct json;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(all.out, &json).ok())
      << all.out;
  std::vector<std::string> files;
  for (const auto& value : json.fields().at("files").list_value().values()) {
    files.push_back(value.string_value());
  }
  const std::string relayd = options_.out + "/relayd/";
  EXPECT_EQ(files, (std::vector<std::string>{
                       relayd + "nat.env", relayd + "p1.env", relayd + "d1.env",
                       options_.out + "/sites/s2.env"}));
  for (const char* skipped : {"center", "s1", "s2"}) {
    EXPECT_FALSE(ReadFile(relayd + skipped + ".env").ok()) << skipped;
  }
  EXPECT_FALSE(ReadFile(options_.out + "/sites/s1.env").ok())
      << "a plain endpoint is pushed to: no settings";
  absl::StatusOr<std::string> d1 = ReadFile(relayd + "d1.env");
  ASSERT_TRUE(d1.ok());
  EXPECT_EQ(Variables(*d1)["CONTROLLER"], options_.controller);
  // No CA: no certificates.
  EXPECT_FALSE(ReadFile(options_.out + "/certs/ca.pem").ok());
}

TEST_F(RenderTest, AnsibleInventoryGroupsControllersAndRelaysByTier) {
  options_.out = dir_ + "/out";
  options_.all = true;
  options_.ansible_inventory = true;
  Result all = Run(options_, {});
  ASSERT_EQ(all.code, 0) << all.err;
  EXPECT_NE(all.out.find("wrote " + options_.out + "/inventory.json"),
            std::string::npos)
      << all.out;
  absl::StatusOr<std::string> text = ReadFile(options_.out + "/inventory.json");
  ASSERT_TRUE(text.ok());
  google::protobuf::Value inventory;
  ASSERT_TRUE(
      google::protobuf::util::JsonStringToMessage(*text, &inventory).ok())
      << *text;
  // The value at `path` (keys from the top), or a null value.
  auto at = [&](const std::vector<std::string>& path) {
    const google::protobuf::Value* value = &inventory;
    for (const std::string& key : path) {
      const auto& fields = value->struct_value().fields();
      auto it = fields.find(key);
      if (it == fields.end()) return std::string("(none)");
      value = &it->second;
    }
    return value->string_value();
  };
  char resolved[PATH_MAX];
  ASSERT_NE(realpath(options_.out.c_str(), resolved), nullptr);
  EXPECT_EQ(at({"all", "vars", "cascade_render_dir"}), resolved);
  EXPECT_EQ(at({"all", "vars", "cascade_topology"}), topology_);
  EXPECT_EQ(at({"all", "vars", "cascade_controller"}), options_.controller);
  for (const std::string host : {"c1.example.net", "c2.example.net"}) {
    const std::vector<std::string> path = {
        "all", "children", "cascade_controllers", "hosts", host};
    std::vector<std::string> field = path;
    field.push_back("ansible_host");
    EXPECT_EQ(at(field), host) << *text;
    field.back() = "cascade_listen_port";
    EXPECT_EQ(at(field), "7700") << *text;
  }
  auto relay = [&](const std::string& tier, const std::string& id,
                   const std::string& name) {
    return at({"all", "children", "cascade_relays", "children", tier, "hosts",
               id, name});
  };
  EXPECT_EQ(relay("cascade_national", "nat", "ansible_host"), "10.0.0.1");
  EXPECT_EQ(relay("cascade_provincial", "p1", "ansible_host"),
            "relay-p1.example.net");
  EXPECT_EQ(relay("cascade_district", "d1", "cascade_node"), "d1");
  // Endpoints and sites run no relayd.
  for (const char* skipped : {"center", "s1", "s2"}) {
    EXPECT_EQ(text->find(absl::StrCat("\"", skipped, "\"")), std::string::npos)
        << skipped;
  }

  // The whole tree's only; it is a file like the others.
  options_.all = false;
  EXPECT_EQ(Run(options_, {"d1"}).code, 2);
  options_.all = true;
  EXPECT_EQ(Run(options_, {}).code, 4);
  options_.force = true;
  EXPECT_EQ(Run(options_, {}).code, 0);
}

TEST_F(RenderTest, ASiteGetsItsParentsAndLinkKeysInAFileOnlyItsOwnerReads) {
  // No --controller: a site talks to none.
  options_.controller.clear();
  Result printed = Run(options_, {"s2"});
  ASSERT_EQ(printed.code, 0) << printed.err;
  std::map<std::string, std::string> site = Variables(printed.out);
  EXPECT_EQ(site["NODE_ID"], "s2");
  EXPECT_EQ(site["LISTEN"], "10.0.3.2:5004");
  // Its parent, then its standby, each with the key the relay expects.
  EXPECT_EQ(site["PARENTS"], "10.0.2.1:5006,relay-p1.example.net:5004");
  EXPECT_EQ(site["KEYS"],
            absl::StrCat(
                absl::BytesToHexString(control::LinkKey(kSiteKey, "d1")), ",",
                absl::BytesToHexString(control::LinkKey(kSiteKey, "p1"))));

  options_.out = dir_ + "/out";
  ASSERT_EQ(Run(options_, {"s2"}).code, 0);
  struct stat file;
  ASSERT_EQ(stat((options_.out + "/sites/s2.env").c_str(), &file), 0);
  EXPECT_EQ(file.st_mode & 0777, 0600);
  EXPECT_EQ(*ReadFile(options_.out + "/sites/s2.env"), printed.out);
  // A relay still needs its controller.
  EXPECT_EQ(Run(options_, {"d1"}).code, 2);
}

TEST_F(RenderTest, ExistingFilesAreKeptUnlessForced) {
  options_.out = dir_ + "/out";
  ASSERT_EQ(Run(options_, {"d1"}).code, 0);
  const std::string path = options_.out + "/relayd/d1.env";
  ASSERT_TRUE(WriteFileAtomically(path, "edited\n").ok());

  // Refused whole: p1's file is not written either.
  Result refused = Run(options_, {"p1", "d1"});
  EXPECT_EQ(refused.code, 4);
  EXPECT_EQ(refused.err,
            "relayctl: render: " + path + " exists (--force replaces it)\n");
  EXPECT_FALSE(ReadFile(options_.out + "/relayd/p1.env").ok());
  EXPECT_EQ(*ReadFile(path), "edited\n");

  options_.force = true;
  Result forced = Run(options_, {"p1", "d1"});
  ASSERT_EQ(forced.code, 0) << forced.err;
  EXPECT_EQ(forced.out,
            "wrote " + options_.out + "/relayd/p1.env\nwrote " + path + "\n");
  EXPECT_EQ(Variables(*ReadFile(path))["LISTEN"], "10.0.2.1:5006");
}

TEST_F(RenderTest, CertificatesVerifyAndNameTheNode) {
  options_.ca = MakeCa();
  options_.out = dir_ + "/out";
  Result rendered = Run(options_, {"d1", "p1"});
  ASSERT_EQ(rendered.code, 0) << rendered.err;
  const std::string certs = options_.out + "/certs/";
  absl::StatusOr<std::string> ca = ReadFile(certs + "ca.pem");
  ASSERT_TRUE(ca.ok());
  EXPECT_EQ(*ca, *ReadFile(options_.ca + "/ca.pem"));
  EXPECT_FALSE(ReadFile(certs + "ca.key").ok()) << "the CA key was copied";

  absl::StatusOr<std::string> pem = ReadFile(certs + "d1.pem");
  ASSERT_TRUE(pem.ok());
  EXPECT_TRUE(security::Verify(*pem, *ca, absl::Now()).ok());
  absl::StatusOr<security::Identity> identity = security::IdentityFromPem(*pem);
  ASSERT_TRUE(identity.ok()) << identity.status();
  EXPECT_EQ(*identity, security::Identity(security::IdentityKind::kNode, "d1",
                                          security::Role::kNone));
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(
      BIO_new_mem_buf(pem->data(), static_cast<int>(pem->size())), BIO_free);
  std::unique_ptr<X509, decltype(&X509_free)> cert(
      PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr), X509_free);
  ASSERT_NE(cert, nullptr);
  EXPECT_EQ(X509_check_ip_asc(cert.get(), "10.0.2.1", 0), 1);
  EXPECT_EQ(X509_check_ip_asc(cert.get(), "10.0.0.1", 0), 0);

  // p1's media address is a name: a DNS SAN.
  const std::string p1 = *ReadFile(certs + "p1.pem");
  bio.reset(BIO_new_mem_buf(p1.data(), static_cast<int>(p1.size())));
  cert.reset(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  ASSERT_NE(cert, nullptr);
  EXPECT_EQ(X509_check_host(cert.get(), "relay-p1.example.net", 0, 0, nullptr),
            1);

  struct stat st;
  ASSERT_EQ(stat((certs + "d1.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  // Again: the certificates are files that exist too.
  Result again = Run(options_, {"d1"});
  EXPECT_EQ(again.code, 4);
}

TEST_F(RenderTest, AnEdgeRelayGetsRelaydsEdgeFlags) {
  std::ofstream(topology_) << R"txt(
nodes { id: "nat" tier: TIER_NATIONAL media_address: "10.0.0.1:5004"
  edge_address: "127.0.0.1:8080" capacity { max_children: 8 } }
nodes { id: "d1" tier: TIER_DISTRICT parent: "nat" media_address: "10.0.2.1:5006"
  edge_address: "d1.example.org:443" capacity { max_children: 8 } }
nodes { id: "d2" tier: TIER_DISTRICT parent: "nat" media_address: "10.0.2.2:5006"
  edge_address: "10.0.2.2:8443" capacity { max_children: 8 } }
nodes { id: "d3" tier: TIER_DISTRICT parent: "nat" media_address: "10.0.2.3:5006"
  capacity { max_children: 8 } }
nodes { id: "p6" tier: TIER_PROVINCIAL parent: "nat"
  media_address: "[fd00::6]:5004" edge_address: "[fd00::6]:443"
  capacity { max_children: 8 } }
nodes { id: "pn" tier: TIER_PROVINCIAL parent: "nat"
  media_address: "relay-pn.example.net:5004" edge_address: "10.0.1.9:443"
  capacity { max_children: 8 } }
)txt";
  // A host name binds every address; its certificate is the operator's, in
  // --certs-dir; a port below 1024 needs a capability.
  Result d1 = Run(options_, {"d1"});
  ASSERT_EQ(d1.code, 0) << d1.err;
  EXPECT_EQ(Variables(d1.out)["RELAYD_OPTS"],
            "--edge=0.0.0.0:443 "
            "--edge_tls_cert=/etc/cascade/certs/edge-d1.pem "
            "--edge_tls_key=/etc/cascade/certs/edge-d1.key");
  EXPECT_NE(d1.out.find("CAP_NET_BIND_SERVICE"), std::string::npos) << d1.out;
  EXPECT_NE(d1.out.find("browsers trust"), std::string::npos) << d1.out;

  options_.certs_dir = "/srv/certs";
  Result d2 = Run(options_, {"d2"});
  ASSERT_EQ(d2.code, 0) << d2.err;
  EXPECT_EQ(Variables(d2.out)["RELAYD_OPTS"],
            "--edge=10.0.2.2:8443 --edge_tls_cert=/srv/certs/edge-d2.pem "
            "--edge_tls_key=/srv/certs/edge-d2.key");
  EXPECT_EQ(d2.out.find("CAP_NET_BIND_SERVICE"), std::string::npos) << d2.out;

  // Loopback: plain HTTP behind a proxy, no certificate.
  Result nat = Run(options_, {"nat"});
  ASSERT_EQ(nat.code, 0) << nat.err;
  EXPECT_EQ(Variables(nat.out)["RELAYD_OPTS"], "--edge=127.0.0.1:8080");
  EXPECT_EQ(nat.out.find("browsers trust"), std::string::npos) << nat.out;

  // No edge, no flags.
  Result d3 = Run(options_, {"d3"});
  ASSERT_EQ(d3.code, 0) << d3.err;
  EXPECT_EQ(Variables(d3.out)["RELAYD_OPTS"], "");

  for (const auto& [node, says] :
       std::vector<std::pair<std::string, std::string>>{
           {"pn",
            "node \"pn\" has a browser edge but its media_address "
            "\"relay-pn.example.net:5004\" is a name"},
           {"p6",
            "edge_address \"[fd00::6]:443\": relayd's browser edge is "
            "IPv4 only"}}) {
    Result refused = Run(options_, {node});
    EXPECT_EQ(refused.code, 4) << node << ": " << refused.err;
    EXPECT_NE(refused.err.find(says), std::string::npos) << refused.err;
    EXPECT_EQ(refused.out, "");
  }
}

TEST_F(RenderTest, ErrorsHaveTheirExitCodes) {
  struct Case {
    std::string name;
    std::function<void(RenderOptions*)> change;
    std::vector<std::string> nodes;
    int code;
    std::string says;
  };
  const std::string bad = dir_ + "/bad.textproto";
  std::ofstream(bad) << "nodes { id: \"x\" tier: TIER_BOGUS }\n";
  const std::string keyless = dir_ + "/keyless.textproto";
  std::ofstream(keyless) << "nodes { id: \"d9\" tier: TIER_NATIONAL "
                            "media_address: \"10.0.0.1:5004\" "
                            "capacity { max_children: 8 } }\n"
                            "nodes { id: \"s9\" tier: TIER_SITE parent: "
                            "\"d9\" media_address: \"10.0.0.2:5004\" }\n";
  const std::string invalid = dir_ + "/invalid.textproto";
  std::ofstream(invalid) << "nodes { id: \"x\" tier: TIER_DISTRICT "
                            "media_address: \"10.0.0.1:5004\" }\n";
  const std::vector<Case> cases = {
      {"no node", [](RenderOptions*) {}, {}, 2, "name NODEs or give --all"},
      {"nodes and --all",
       [](RenderOptions* o) { o->all = true; },
       {"d1"},
       2,
       "name NODEs or give --all"},
      {"no --controller",
       [](RenderOptions* o) { o->controller.clear(); },
       {"d1"},
       2,
       "--controller is required"},
      {"no --topology",
       [](RenderOptions* o) { o->topology.clear(); },
       {"d1"},
       2,
       "--topology is required"},
      {"--all to stdout",
       [](RenderOptions* o) { o->all = true; },
       {},
       2,
       "--out=DIR is needed"},
      {"a controller with a space",
       [](RenderOptions* o) { o->controller = "a:1 b:2"; },
       {"d1"},
       2,
       "--controller \"a:1 b:2\""},
      {"unknown node", [](RenderOptions*) {}, {"zz"}, 3, "no node \"zz\" in "},
      {"a plain site",
       [](RenderOptions*) {},
       {"s1"},
       4,
       "node \"s1\" is a plain endpoint"},
      {"the command center",
       [](RenderOptions*) {},
       {"center"},
       4,
       "node \"center\" is a plain endpoint"},
      {"a site without a key",
       [&](RenderOptions* o) { o->topology = keyless; },
       {"s9"},
       4,
       "site \"s9\" has no key in the topology"},
      {"unreadable topology",
       [&](RenderOptions* o) { o->topology = dir_ + "/none"; },
       {"d1"},
       1,
       "--topology: cannot read " + dir_ + "/none"},
      {"unparsable topology",
       [&](RenderOptions* o) { o->topology = bad; },
       {"x"},
       4,
       "--topology: " + bad + ":1:"},
      {"invalid topology",
       [&](RenderOptions* o) { o->topology = invalid; },
       {"x"},
       4,
       "--topology: invalid: " + invalid + ":1: node \"x\""},
      {"no CA",
       [&](RenderOptions* o) {
         o->out = dir_ + "/out";
         o->ca = dir_ + "/no-ca";
       },
       {"d1"},
       3,
       "--ca: "},
  };
  for (const Case& c : cases) {
    RenderOptions options = options_;
    c.change(&options);
    Result result = Run(options, c.nodes);
    EXPECT_EQ(result.code, c.code) << c.name << ": " << result.err;
    EXPECT_NE(result.err.find(c.says), std::string::npos)
        << c.name << ": " << result.err;
    EXPECT_EQ(result.out, "") << c.name;
  }
  EXPECT_FALSE(ReadFile(dir_ + "/out/relayd/d1.env").ok())
      << "a failed render wrote files";
}

}  // namespace
}  // namespace cascade::relayctl
