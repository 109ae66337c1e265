#include "tools/probe/controller_keys.h"

#include <glog/logging.h>

#include <utility>

#include "absl/algorithm/container.h"
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
    if (!sites[i].srtp_keys_later && !sites[i].upstream_keys_later) continue;
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
    if (sites[i].upstream_keys_later) {
      upstream_keyed_.push_back({i, sites[i].node_id, sites[i].upstream_ssrc});
    }
  }
  client_.Start();
}

ControllerKeys::~ControllerKeys() { client_.Stop(); }

void ControllerKeys::OnStreamKeys(
    const std::vector<control::ReceivedStreamKey>& keys) {
  // A site decrypts one downstream stream; the ids of two streams' keys
  // collide.
  std::vector<srtp::StreamKey> held;
  const control::ReceivedStreamKey* first = nullptr;
  // Each upstream site's own stream: the upstream stream it sources whose
  // tracks carry its SSRC.
  std::vector<std::vector<source::ScheduledKey>> upstream(
      upstream_keyed_.size());
  for (const control::ReceivedStreamKey& key : keys) {
    if (key.direction == cascade::v1::DIRECTION_UPSTREAM) {
      for (size_t u = 0; u < upstream_keyed_.size(); ++u) {
        const UpstreamSite& site = upstream_keyed_[u];
        if (key.source_node == site.node &&
            absl::c_linear_search(key.ssrcs, site.ssrc)) {
          upstream[u].push_back({{key.key_id, key.material}, key.send_from});
        }
      }
      continue;
    }
    if (first == nullptr) first = &key;
    if (key.stream != first->stream) {
      LOG_FIRST_N(ERROR, 1) << "topologyd gives the sites keys of several "
                               "downstream streams; they hold those of \""
                            << first->stream << "\" only";
      continue;
    }
    held.push_back({key.key_id, key.material});
  }
  for (size_t u = 0; u < upstream_keyed_.size(); ++u) {
    if (upstream[u].empty()) {
      LOG(WARNING) << "topologyd gives site " << upstream_keyed_[u].index + 1
                   << " no key of an upstream stream it sources with SSRC "
                   << upstream_keyed_[u].ssrc << ": it sends nothing upstream";
    }
  }
  if (held.empty() && !keyed_.empty()) {
    LOG(WARNING) << "topologyd gives the sites no stream key (is a downstream "
                    "stream in the topology?)";
  }
  probe_->Post([this, held = std::move(held), upstream = std::move(upstream)] {
    for (size_t u = 0; u < upstream_keyed_.size(); ++u) {
      probe_->sites()[upstream_keyed_[u].index]->SetUpstreamKeys(upstream[u]);
    }
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
