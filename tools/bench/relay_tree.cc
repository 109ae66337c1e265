#include "tools/bench/relay_tree.h"

#include <sys/stat.h>

#include <fstream>
#include <sstream>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"

namespace cascade::bench {
namespace {

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

absl::StatusOr<TreeBinaries> FindTreeBinaries(const std::string& argv0) {
  TreeBinaries binaries{FindBuiltBinary(argv0, "relay/relayd"),
                        FindBuiltBinary(argv0, "tools/source/relay-source"),
                        FindBuiltBinary(argv0, "tools/probe/relay-probe")};
  if (binaries.relayd.empty() || binaries.source.empty() ||
      binaries.probe.empty()) {
    return absl::FailedPreconditionError(
        "relayd, relay-source and relay-probe must be built beside "
        "relay-bench");
  }
  return binaries;
}

std::vector<std::string> SiteIds(int count) {
  std::vector<std::string> ids;
  for (int i = 0; i < count; ++i) ids.push_back(absl::StrCat("site-", i));
  return ids;
}

std::string TreeKeyOf(const std::string& node) {
  const std::string owner = absl::StartsWith(node, "site-") ? "site" : node;
  return absl::BytesToHexString(std::string(16, 'k') + owner);
}

RelayTree::RelayTree(std::string relayd, std::string work_dir)
    : relayd_(std::move(relayd)), work_dir_(std::move(work_dir)) {
  mkdir(work_dir_.c_str(), 0755);
}

absl::StatusOr<std::string> RelayTree::ReserveSource() {
  absl::StatusOr<int> port = ReserveLoopbackPort();
  if (!port.ok()) return port.status();
  source_ = absl::StrCat("127.0.0.1:", *port);
  return source_;
}

absl::Status RelayTree::StartRelay(const std::string& id,
                                   const std::vector<std::string>& parents,
                                   const std::vector<std::string>& children,
                                   bool h264) {
  std::string config =
      absl::StrCat("node_id: \"", id, "\" listen: \"127.0.0.1:0\"\n");
  for (const std::string& p : parents) {
    const bool source = p == "source";
    absl::StrAppend(
        &config, "parents { id: \"", p, "\" address: \"",
        source ? source_ : addresses_.at(p), "\"",
        source ? "" : absl::StrCat(" key_hex: \"", TreeKeyOf(id), "\""),
        " }\n");
  }
  for (const std::string& c : children) {
    absl::StrAppend(&config, "children { id: \"", c, "\" key_hex: \"",
                    TreeKeyOf(c), "\" }\n");
  }
  absl::StrAppend(&config, "streams { ssrc: ", kTreeVideoSsrc,
                  " direction: DOWN h264: ", h264 ? "true" : "false",
                  " }\nstreams { ssrc: ", kTreeAudioSsrc,
                  " direction: DOWN }\n");
  const std::string base = absl::StrCat(work_dir_, "/", id);
  std::ofstream(base + ".textproto") << config;
  absl::StatusOr<std::unique_ptr<Subprocess>> relay =
      Subprocess::Start({relayd_, "--config=" + base + ".textproto",
                         "--port_file=" + base + ".ports"},
                        {base + ".log", base + ".log"});
  if (!relay.ok()) return relay.status();
  processes_[id] = *std::move(relay);
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (absl::Now() < deadline) {
    const std::string ports = ReadAll(base + ".ports");
    int port = 0;
    if (absl::StartsWith(ports, "udp=") &&
        absl::SimpleAtoi(ports.substr(4, ports.find('\n') - 4), &port) &&
        port > 0) {
      addresses_[id] = absl::StrCat("127.0.0.1:", port);
      return absl::OkStatus();
    }
    absl::SleepFor(absl::Milliseconds(20));
  }
  return absl::DeadlineExceededError(
      absl::StrCat(id, " did not bind: ", FileTail(base + ".log")));
}

absl::Status RelayTree::WaitForChildren(const std::string& id,
                                        const std::string& prefix,
                                        int count) const {
  const std::string log = absl::StrCat(work_dir_, "/", id, ".log");
  const std::string needle = "] child " + prefix;
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  int active = 0;
  while (absl::Now() < deadline) {
    const std::string text = ReadAll(log);
    active = 0;
    for (size_t at = text.find(needle); at != std::string::npos;
         at = text.find(needle, at + 1)) {
      ++active;
    }
    if (active >= count) return absl::OkStatus();
    absl::SleepFor(absl::Milliseconds(50));
  }
  return absl::DeadlineExceededError(absl::StrCat(
      active, " of ", count, " children ", prefix, "* joined ", id));
}

std::string LineStartingWith(const std::string& path,
                             const std::string& prefix) {
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (absl::StartsWith(line, prefix)) return line;
  }
  return "";
}

std::optional<double> JsonField(const std::string& json,
                                const std::string& key) {
  google::protobuf::Struct object;
  if (!google::protobuf::util::JsonStringToMessage(json, &object).ok()) {
    return std::nullopt;
  }
  const auto field = object.fields().find(key);
  if (field == object.fields().end() ||
      field->second.kind_case() != google::protobuf::Value::kNumberValue) {
    return std::nullopt;
  }
  return field->second.number_value();
}

}  // namespace cascade::bench
