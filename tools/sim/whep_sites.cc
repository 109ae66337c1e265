#include "tools/sim/whep_sites.h"

#include <algorithm>
#include <optional>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"

namespace cascade::sim {
namespace {

// A group's private address: 127.4.X.Y, Y from 1, 250 groups per X.
std::string GroupHost(size_t index) {
  return absl::StrCat("127.4.", index / 250, ".", index % 250 + 1);
}

// The number at `key` of `fields`, or none when it is missing or null.
std::optional<double> Number(const google::protobuf::Struct& fields,
                             const std::string& key) {
  auto it = fields.fields().find(key);
  if (it == fields.fields().end() ||
      it->second.kind_case() != google::protobuf::Value::kNumberValue) {
    return std::nullopt;
  }
  return it->second.number_value();
}

}  // namespace

absl::StatusOr<std::vector<WhepSiteGroup>> PlanWhepSites(
    const NetworkPlan& plan, const std::vector<std::string>& edges,
    int per_edge) {
  if (edges.empty()) {
    return absl::InvalidArgumentError(
        "needs --browser_edge (WHEP sites watch at its districts)");
  }
  if (per_edge < 1 || per_edge > kMaxWhepSitesPerEdge) {
    return absl::InvalidArgumentError(
        absl::StrCat("WHEP sites per browser edge must be within 1..",
                     kMaxWhepSitesPerEdge, ", not ", per_edge));
  }
  // The plan's media port (every address of the network has it).
  int port = 5000;
  if (!plan.relays.empty()) {
    const std::string& address = plan.relays[0].address;
    if (!absl::SimpleAtoi(address.substr(address.rfind(':') + 1), &port)) {
      return absl::InternalError("a relay address without a port: " + address);
    }
  }
  std::vector<WhepSiteGroup> groups;
  for (size_t g = 0; g < edges.size(); ++g) {
    WhepSiteGroup group;
    group.name = "whep-" + edges[g];
    group.edge = edges[g];
    const std::string host = GroupHost(g);
    group.listen = absl::StrCat(host, ":", port);
    for (int i = 0; i < per_edge; ++i) {
      std::string id = absl::StrCat(edges[g], "-whep", i + 1);
      if (plan.site_index.contains(id) || plan.relay(id) != nullptr) {
        return absl::InvalidArgumentError(
            absl::StrCat("the WHEP site id ", id, " is taken by the topology"));
      }
      group.site_ids.push_back(std::move(id));
      group.addresses.push_back(absl::StrCat(host, ":", port + i));
    }
    groups.push_back(std::move(group));
  }
  return groups;
}

NetworkPlan WithWhepSites(const NetworkPlan& plan,
                          const std::vector<WhepSiteGroup>& groups) {
  NetworkPlan with = plan;
  for (const WhepSiteGroup& group : groups) {
    for (size_t i = 0; i < group.site_ids.size(); ++i) {
      with.site_index[group.site_ids[i]] = static_cast<int>(with.sites.size());
      with.sites.push_back(
          PlanSite{group.site_ids[i], {group.edge}, group.addresses[i]});
    }
  }
  return with;
}

absl::StatusOr<std::string> InsideWatchUrl(
    const cascade::v1::MintEdgeTokenResponse& minted,
    const std::string& listen) {
  const std::string https =
      absl::StrCat("https://", minted.edge_address(), "/");
  if (minted.edge_address().empty() || !absl::StartsWith(minted.url(), https)) {
    return absl::InternalError(absl::StrCat("topologyd minted \"", minted.url(),
                                            "\", not a URL at https://",
                                            minted.edge_address()));
  }
  return absl::StrCat("http://", listen, "/",
                      minted.url().substr(https.size()));
}

std::string WhepSummary(const WhepSiteGroup& group, const std::string& log,
                        double offset_s, std::vector<std::string>* problems) {
  absl::string_view final_json;
  for (absl::string_view text : absl::StrSplit(log, '\n')) {
    if (absl::StartsWith(text, "{\"type\":\"final\"")) final_json = text;
  }
  google::protobuf::Struct line;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = true;
  if (final_json.empty() ||
      !google::protobuf::util::JsonStringToMessage(std::string(final_json),
                                                   &line, options)
           .ok() ||
      !line.fields().contains("whep")) {
    problems->push_back(absl::StrCat("WHEP sites ", group.name,
                                     ": no final report of their sessions"));
    return "";
  }
  const google::protobuf::Struct& whep =
      line.fields().at("whep").struct_value();
  std::vector<std::string> pictures;
  int connected = 0;
  auto sessions = whep.fields().find("sessions");
  if (sessions != whep.fields().end()) {
    const auto& list = sessions->second.list_value().values();
    for (int i = 0; i < list.size(); ++i) {
      const google::protobuf::Struct& session = list[i].struct_value();
      if (Number(session, "connected_ms").has_value()) ++connected;
      const std::optional<double> first = Number(session, "first_frame_ms");
      const std::string who = i < static_cast<int>(group.site_ids.size())
                                  ? group.site_ids[i]
                                  : absl::StrCat(group.name, " viewer ", i);
      if (!first.has_value()) {
        problems->push_back(
            absl::StrCat("WHEP site ", who, " never showed a picture"));
        pictures.push_back("none");
        continue;
      }
      pictures.push_back(
          absl::StrFormat("%.0f", std::max(0.0, *first + 1000 * offset_s)));
    }
  }
  return absl::StrCat(group.name, ": ", connected, "/", group.site_ids.size(),
                      " WHEP sites connected, first picture ",
                      absl::StrJoin(pictures, ", "),
                      " ms after relay-source started");
}

}  // namespace cascade::sim
