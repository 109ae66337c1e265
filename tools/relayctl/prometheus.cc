#include "tools/relayctl/prometheus.h"

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>
#include <sys/stat.h>

#include <cerrno>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/files.h"

namespace cascade::relayctl {
namespace {

using google::protobuf::ListValue;
using google::protobuf::Struct;
using google::protobuf::Value;

constexpr char kRelaysFile[] = "relays.json";
constexpr char kControllersFile[] = "controllers.json";

// HOST:PORT[/PATH] split into the target and its metrics path (empty: the
// default /metrics).
absl::Status SplitAddress(const std::string& address, std::string* target,
                          std::string* path) {
  const size_t slash = address.find('/');
  *target = address.substr(0, slash);
  *path = slash == std::string::npos ? "" : address.substr(slash);
  const size_t colon = target->rfind(':');
  int port = 0;
  if (colon == std::string::npos || colon == 0 ||
      !absl::SimpleAtoi(target->substr(colon + 1), &port) || port <= 0 ||
      port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat(
        "metrics address \"", address, "\" is not HOST:PORT[/PATH]"));
  }
  return absl::OkStatus();
}

// Prometheus label names: [a-zA-Z_][a-zA-Z0-9_]*, "__" reserved.
bool IsLabelName(const std::string& name) {
  if (name.empty() || absl::StartsWith(name, "__") ||
      absl::ascii_isdigit(name[0])) {
    return false;
  }
  for (char c : name) {
    if (!absl::ascii_isalnum(c) && c != '_') return false;
  }
  return true;
}

// "TIER_DISTRICT" -> "district", as topologyd's /metrics writes it.
std::string Lower(const std::string& enum_name) {
  return absl::AsciiStrToLower(enum_name.substr(enum_name.find('_') + 1));
}

// Prometheus writes durations as 1s, 500ms, 1m30s: whole milliseconds.
absl::StatusOr<std::string> PrometheusDuration(absl::Duration d) {
  if (d < absl::Milliseconds(1) || d != absl::Trunc(d, absl::Milliseconds(1))) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--scrape-interval must be whole milliseconds, at least 1ms, not ",
        absl::FormatDuration(d)));
  }
  return absl::FormatDuration(d);
}

Value Strings(const std::vector<std::string>& values) {
  Value list;
  for (const std::string& v : values) {
    list.mutable_list_value()->add_values()->set_string_value(v);
  }
  return list;
}

Struct Job(const std::string& name, const std::string& file) {
  Struct job;
  (*job.mutable_fields())["job_name"].set_string_value(name);
  Struct sd;
  *(*sd.mutable_fields())["files"].mutable_list_value() =
      Strings({file}).list_value();
  (*job.mutable_fields())["file_sd_configs"]
      .mutable_list_value()
      ->add_values()
      ->mutable_struct_value()
      ->Swap(&sd);
  return job;
}

absl::StatusOr<std::string> Json(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  options.preserve_proto_field_names = true;
  std::string json;
  const auto status =
      google::protobuf::util::MessageToJsonString(message, &json, options);
  if (!status.ok()) return absl::InternalError(status.ToString());
  return json;
}

}  // namespace

absl::StatusOr<PrometheusFiles> MakePrometheusFiles(
    const cascade::v1::GetTopologyResponse& topology,
    const std::vector<std::string>& controller_metrics,
    absl::Duration scrape_interval, const std::vector<std::string>& rules,
    std::vector<std::string>* unscraped) {
  absl::StatusOr<std::string> interval = PrometheusDuration(scrape_interval);
  if (!interval.ok()) return interval.status();

  // One target group per relay: its own labels.
  ListValue relays;
  for (const cascade::v1::NodeView& node : topology.nodes()) {
    if (node.metrics_address().empty()) {
      unscraped->push_back(node.id());
      continue;
    }
    std::string target, path;
    if (absl::Status s = SplitAddress(node.metrics_address(), &target, &path);
        !s.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("node ", node.id(), ": ", s.message()));
    }
    Struct group;
    *(*group.mutable_fields())["targets"].mutable_list_value() =
        Strings({target}).list_value();
    auto& labels = *(*group.mutable_fields())["labels"]
                        .mutable_struct_value()
                        ->mutable_fields();
    for (const auto& [name, value] : node.labels()) {
      if (!IsLabelName(name)) {
        return absl::InvalidArgumentError(absl::StrCat(
            "node ", node.id(), ": label \"", name,
            "\" is not a Prometheus label name ([a-zA-Z_][a-zA-Z0-9_]*)"));
      }
      labels[name].set_string_value(value);
    }
    // Ours win over a topology label of the same name.
    labels["node"].set_string_value(node.id());
    labels["tier"].set_string_value(Lower(cascade::v1::Tier_Name(node.tier())));
    labels["role"].set_string_value(
        node.role() == cascade::v1::ROLE_STANDBY ? "standby" : "active");
    if (!path.empty()) labels["__metrics_path__"].set_string_value(path);
    relays.add_values()->mutable_struct_value()->Swap(&group);
  }

  ListValue controllers;
  if (!controller_metrics.empty()) {
    for (const std::string& address : controller_metrics) {
      std::string target, path;
      if (absl::Status s = SplitAddress(address, &target, &path); !s.ok()) {
        return absl::InvalidArgumentError(
            absl::StrCat("--controller-metrics: ", s.message()));
      }
      if (!path.empty()) {
        return absl::InvalidArgumentError(
            "--controller-metrics: HOST:PORT, topologyd serves /metrics");
      }
      Struct group;
      *(*group.mutable_fields())["targets"].mutable_list_value() =
          Strings({target}).list_value();
      controllers.add_values()->mutable_struct_value()->Swap(&group);
    }
  }

  Struct config;
  Struct global;
  (*global.mutable_fields())["scrape_interval"].set_string_value(*interval);
  (*global.mutable_fields())["evaluation_interval"].set_string_value(*interval);
  (*config.mutable_fields())["global"].mutable_struct_value()->Swap(&global);
  if (!rules.empty()) (*config.mutable_fields())["rule_files"] = Strings(rules);
  ListValue* jobs =
      (*config.mutable_fields())["scrape_configs"].mutable_list_value();
  *jobs->add_values()->mutable_struct_value() =
      Job("cascade-relays", kRelaysFile);
  *jobs->add_values()->mutable_struct_value() =
      Job("cascade-controllers", kControllersFile);

  PrometheusFiles files;
  for (const auto& [name, message] :
       std::vector<std::pair<std::string, const google::protobuf::Message*>>{
           {"prometheus.yml", &config},
           {kRelaysFile, &relays},
           {kControllersFile, &controllers}}) {
    absl::StatusOr<std::string> json = Json(*message);
    if (!json.ok()) return json.status();
    files[name] = *std::move(json);
  }
  return files;
}

int WritePrometheus(const Options& options,
                    const cascade::v1::GetTopologyResponse& topology,
                    std::ostream& out, std::ostream& err) {
  if (options.out.empty()) {
    err << "relayctl: prometheus: --out=DIR is required\n";
    return kExitUsage;
  }
  std::vector<std::string> unscraped;
  absl::StatusOr<PrometheusFiles> files =
      MakePrometheusFiles(topology, options.controller_metrics,
                          options.scrape_interval, options.rules, &unscraped);
  if (!files.ok()) {
    err << "relayctl: prometheus: " << files.status().message() << "\n";
    return kExitUsage;
  }
  if (mkdir(options.out.c_str(), 0755) != 0 && errno != EEXIST) {
    err << "relayctl: prometheus: "
        << ErrnoStatus("mkdir", options.out).message() << "\n";
    return kExitFailed;
  }
  // The target files first: Prometheus reloading the configuration finds
  // them whole.
  for (const char* name : {kRelaysFile, kControllersFile, "prometheus.yml"}) {
    const std::string path = absl::StrCat(options.out, "/", name);
    if (absl::Status s = WriteFileAtomically(path, files->at(name)); !s.ok()) {
      err << "relayctl: prometheus: " << s.message() << "\n";
      return kExitFailed;
    }
  }
  const int scraped =
      topology.nodes_size() - static_cast<int>(unscraped.size());
  out << "wrote " << options.out << "/prometheus.yml: " << scraped
      << " nodes and " << options.controller_metrics.size()
      << " controllers to scrape\n";
  if (!unscraped.empty()) {
    out << unscraped.size() << " nodes without metrics_address, not scraped: "
        << absl::StrJoin(unscraped.size() > 10
                             ? std::vector<std::string>(unscraped.begin(),
                                                        unscraped.begin() + 10)
                             : unscraped,
                         ", ")
        << (unscraped.size() > 10 ? ", ..." : "") << "\n";
  }
  return kExitDone;
}

}  // namespace cascade::relayctl
