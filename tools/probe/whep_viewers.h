// relay-probe's WHEP viewers: N WebRTC viewers of one relay's stream in one
// process, each its own WHEP session (an offer POSTed, an answer, a DELETE
// at the end) and its own site: socket, WebRTC transport (whep_transport.h)
// and the probe's receive, repair and decode pipeline (site.h). One DTLS
// certificate, made at start, serves every viewer.
#ifndef CASCADE_TOOLS_PROBE_WHEP_VIEWERS_H_
#define CASCADE_TOOLS_PROBE_WHEP_VIEWERS_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "google/protobuf/struct.pb.h"
#include "tools/probe/probe.h"
#include "tools/probe/site.h"
#include "tools/probe/whep_client.h"
#include "tools/probe/whep_transport.h"
#include "webrtc/dtls/certificate.h"

namespace cascade {
namespace probe {

struct WhepViewersOptions {
  WhepUrl url;
  WhepTlsOptions tls;
  int viewers = 1;
  WhepTransportOptions transport;
};

class WhepViewers {
 public:
  // POSTs one offer per viewer. Fills `sites` (a copy of `base` each, with
  // the answer's video payload type; `base.listen` with port 0, or PORT+i)
  // and `transports` (theirs, for Probe::Create). On a refusal the sessions
  // already made are DELETEd and the refusal is returned, naming the viewer.
  static absl::StatusOr<std::unique_ptr<WhepViewers>> Open(
      const WhepViewersOptions& options, const SiteOptions& base,
      std::vector<SiteOptions>* sites,
      std::vector<std::unique_ptr<SiteTransport>>* transports);

  // DELETEs every session; what failed, a line each.
  std::vector<std::string> Close();

  // Why the run counts as broken for the viewers: one that never connected
  // or whose session failed, a DELETE that failed. Valid while the probe
  // that took Open's transports lives.
  std::vector<std::string> Broken() const;
  // The "whep" object of the final JSON line: the endpoint, the viewers'
  // sessions (state, setup times, ICE and SRTP counters, and the figures
  // of their sites in `probe`, the one that took Open's sites in order),
  // the probe's CPU time per viewer.
  google::protobuf::Struct Report(const Probe& probe, absl::Duration cpu) const;

  int size() const { return static_cast<int>(locations_.size()); }

 private:
  WhepViewers() = default;

  std::unique_ptr<dtls::Certificate> certificate_;
  std::unique_ptr<WhepClient> client_;
  std::vector<std::string> locations_;  // by viewer
  // Owned by the probe's sites once it took them.
  std::vector<const WhepTransport*> transports_;
  std::vector<absl::Duration> post_times_;  // the POSTs' round trips
  std::vector<bool> deleted_;               // by viewer: DELETE tried
  std::vector<std::string> delete_errors_;  // by viewer, "" when it worked
};

}  // namespace probe
}  // namespace cascade

#endif  // CASCADE_TOOLS_PROBE_WHEP_VIEWERS_H_
