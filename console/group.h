// Which console leads, for a page that must find the new leader's when its
// controller stops leading (issue 22). topologyd's group on etcd keeps each
// controller's console URL under its election lease (topology/etcd/leader.h,
// member keys); a single controller's console is a group of one that leads.
// The URLs are what the controllers published in etcd, never a page's
// input: a page goes only where a console of its group sends it.
#ifndef CASCADE_CONSOLE_GROUP_H_
#define CASCADE_CONSOLE_GROUP_H_

#include <functional>
#include <string>
#include <vector>

#include "topology/etcd/leader.h"

namespace cascade::console {

struct Group {
  // This console's controller leads.
  bool leading = true;
  // The leader's console URL; empty: none known.
  std::string leader;
  // Every console of the group (this one's included), in the order of
  // their controllers' addresses.
  std::vector<std::string> consoles;
};

using GroupProbe = std::function<Group()>;

// `election`'s view: whether it leads, and the members' URLs (one etcd
// Range per call). `election` outlives the probe.
GroupProbe ElectionGroup(const topology::etcd::LeaderElection* election);

// "scheme://host:port" of an http(s) URL; empty for anything else.
std::string OriginOf(const std::string& url);

}  // namespace cascade::console

#endif  // CASCADE_CONSOLE_GROUP_H_
