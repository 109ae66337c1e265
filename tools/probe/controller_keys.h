#ifndef CASCADE_TOOLS_PROBE_CONTROLLER_KEYS_H_
#define CASCADE_TOOLS_PROBE_CONTROLLER_KEYS_H_

// relay-probe's sites that take their stream keys from topologyd (those
// with SiteOptions::srtp_keys_later or upstream_keys_later): one
// StreamKeysClient asks for all of their nodes, and each change of keys is
// posted into the probe's loop, where every such site then holds exactly
// the downstream stream's keys, and an upstream site its own upstream
// stream's (the one it sources with its upstream SSRC).

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "control/stream_keys_client.h"
#include "tools/probe/probe.h"
#include "tools/probe/site.h"

namespace cascade {
namespace probe {

// The distinct node ids of the sites keyed by topologyd, in order.
// InvalidArgument for such a site without a node id, or for more nodes than
// one certificate names (security::kMaxNodesPerCertificate).
absl::StatusOr<std::vector<std::string>> ControllerKeyedNodes(
    const std::vector<SiteOptions>& sites);

class ControllerKeys : public control::StreamKeysListener {
 public:
  // Starts polling for `options.nodes` (ControllerKeyedNodes); the keys go
  // to the probe's sites whose options have srtp_keys_later or
  // upstream_keys_later.
  ControllerKeys(control::StreamKeysClientOptions options, Probe* probe,
                 const std::vector<SiteOptions>& sites);
  ~ControllerKeys() override;

  void Stop() { client_.Stop(); }

  void OnStreamKeys(
      const std::vector<control::ReceivedStreamKey>& keys) override;

 private:
  Probe* const probe_;
  // A site sending its upstream stream under topologyd's keys.
  struct UpstreamSite {
    size_t index;  // into probe_->sites()
    std::string node;
    uint32_t ssrc;
  };
  // Indexes into probe_->sites().
  std::vector<size_t> keyed_;
  std::vector<UpstreamSite> upstream_keyed_;
  control::StreamKeysClient client_;
};

}  // namespace probe
}  // namespace cascade

#endif  // CASCADE_TOOLS_PROBE_CONTROLLER_KEYS_H_
