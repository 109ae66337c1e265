// relayctl render --ansible-inventory: the Ansible inventory of a rendered
// tree (deploy/ansible/site.yml), as YAML's subset JSON, which Ansible's
// yaml inventory plugin reads (inventory.json).
#ifndef CASCADE_TOOLS_RELAYCTL_RENDER_INVENTORY_H_
#define CASCADE_TOOLS_RELAYCTL_RENDER_INVENTORY_H_

#include <string>

#include "absl/status/statusor.h"
#include "proto/topology.pb.h"

namespace cascade::relayctl {

// Groups cascade_controllers (one host per HOST:PORT of `controller`) and
// cascade_relays (children cascade_national, cascade_provincial,
// cascade_district: one host per relay, named by its node id, ansible_host
// its media address's host); vars cascade_render_dir (`render_dir`, where
// relayd/NODE.env and certs/ are), cascade_topology and cascade_controller.
// Paths must be absolute: the playbook copies from them.
absl::StatusOr<std::string> AnsibleInventory(
    const cascade::v1::Topology& topology, const std::string& topology_file,
    const std::string& controller, const std::string& render_dir);

}  // namespace cascade::relayctl

#endif  // CASCADE_TOOLS_RELAYCTL_RENDER_INVENTORY_H_
