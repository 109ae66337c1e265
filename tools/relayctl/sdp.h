// relayctl sdp: the session description a plain RTP player (ffplay, VLC)
// opens to play what a plain endpoint's parent pushes to it.
#ifndef CASCADE_TOOLS_RELAYCTL_SDP_H_
#define CASCADE_TOOLS_RELAYCTL_SDP_H_

#include <string>

#include "absl/status/statusor.h"
#include "proto/controller.pb.h"

namespace cascade::relayctl {

// One m= section per media kind, for the site's one downstream track of
// that kind: video at its media_address, audio at its audio_address (the
// relay sends each there, RTCP multiplexed on the same port), with the
// track's SSRC, payload type and rtpmap, and packetization-mode=1 for H.264
// (SPS and PPS come in-band). A player binds one port per m= line and the
// one above it for RTCP, so two kinds can never share a port: a site that
// gets audio without an audio_address is refused, as is a node that is not
// a plain endpoint (its parent sends nothing until an in-band activation)
// or that gets two tracks of one kind on one port. Errors are
// FailedPrecondition and say what to change.
absl::StatusOr<std::string> SiteSdp(
    const cascade::v1::NodeView& site,
    const google::protobuf::RepeatedPtrField<cascade::v1::Stream>& streams);

}  // namespace cascade::relayctl

#endif  // CASCADE_TOOLS_RELAYCTL_SDP_H_
