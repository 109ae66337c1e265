#include "console/group.h"

#include <glog/logging.h>

#include <map>

#include "absl/strings/match.h"

namespace cascade::console {

GroupProbe ElectionGroup(const topology::etcd::LeaderElection* election) {
  return [election] {
    Group group;
    const topology::etcd::LeaderStatus status = election->Status();
    group.leading = status.leading;
    absl::StatusOr<std::map<std::string, std::string>> members =
        election->Members();
    if (!members.ok()) {
      LOG_EVERY_N(WARNING, 20)
          << "console: the group's consoles: " << members.status();
      return group;
    }
    for (const auto& [address, url] : *members) {
      group.consoles.push_back(url);
      if (address == status.leader) group.leader = url;
    }
    return group;
  };
}

std::string OriginOf(const std::string& url) {
  if (!absl::StartsWith(url, "http://") && !absl::StartsWith(url, "https://")) {
    return "";
  }
  const size_t host = url.find("://") + 3;
  const size_t path = url.find('/', host);
  return url.substr(0, path == std::string::npos ? url.size() : path);
}

}  // namespace cascade::console
