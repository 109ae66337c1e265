#include "tools/probe/controller_keys.h"

#include <glog/logging.h>

#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "media/srtp/keys.h"
#include "security/identity.h"

namespace cascade {
namespace probe {

absl::StatusOr<std::vector<std::string>> ControllerKeyedNodes(
    const std::vector<SiteOptions>& sites) {
  std::vector<std::string> nodes;
  absl::flat_hash_set<std::string> seen;
  for (size_t i = 0; i < sites.size(); ++i) {
    if (!sites[i].srtp_keys_later) continue;
    if (sites[i].node_id.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "site ", i + 1,
          " has no node id to ask topologyd for its stream keys (give it a "
          "parent and node id, or srtp_key_file=)"));
    }
    if (seen.insert(sites[i].node_id).second) nodes.push_back(sites[i].node_id);
  }
  if (nodes.size() > security::kMaxNodesPerCertificate) {
    return absl::InvalidArgumentError(absl::StrCat(
        nodes.size(), " sites take their keys from topologyd; at most ",
        security::kMaxNodesPerCertificate,
        " in one process (one certificate names at most that many nodes)"));
  }
  return nodes;
}

ControllerKeys::ControllerKeys(control::StreamKeysClientOptions options,
                               Probe* probe,
                               const std::vector<SiteOptions>& sites)
    : probe_(probe), client_(std::move(options), this) {
  for (size_t i = 0; i < sites.size(); ++i) {
    if (sites[i].srtp_keys_later) keyed_.push_back(i);
  }
  client_.Start();
}

ControllerKeys::~ControllerKeys() { client_.Stop(); }

void ControllerKeys::OnStreamKeys(
    const std::vector<control::ReceivedStreamKey>& keys) {
  // A site decrypts one stream; the ids of two streams' keys collide.
  std::vector<srtp::StreamKey> held;
  for (const control::ReceivedStreamKey& key : keys) {
    if (key.stream != keys.front().stream) {
      LOG(ERROR) << "topologyd gives the sites keys of several downstream "
                    "streams; they hold those of \""
                 << keys.front().stream << "\" only";
      break;
    }
    held.push_back({key.key_id, key.material});
  }
  if (held.empty()) {
    LOG(WARNING) << "topologyd gives the sites no stream key (is a downstream "
                    "stream in the topology?)";
  }
  probe_->Post([this, held = std::move(held)] {
    for (size_t i : keyed_) {
      Site& site = *probe_->sites()[i];
      if (absl::Status status = site.SetSrtpKeys(held); !status.ok()) {
        LOG(WARNING) << "site " << i + 1
                     << " keeps its stream keys: " << status.message();
      }
    }
  });
}

}  // namespace probe
}  // namespace cascade
