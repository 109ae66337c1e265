#ifndef CASCADE_TOOLS_PROBE_CONFIG_H_
#define CASCADE_TOOLS_PROBE_CONFIG_H_

// relay-probe's site descriptions from text: the ordered parent list with
// its keys (flags), and the sites file. Errors say which field and, in a
// file, which line.

#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "tools/probe/site.h"

namespace cascade {
namespace probe {

// `parents`: "IP:PORT[,IP:PORT...]", the primary first. `keys`: one hex key
// for every parent, or a comma-separated list with one per parent.
absl::StatusOr<std::vector<ParentLink>> ParseParents(absl::string_view parents,
                                                     absl::string_view keys);

// What an activation can carry: 1..64 bytes.
absl::Status CheckNodeId(absl::string_view node_id);

// An upstream SSRC: 1..4294967295, decimal.
absl::StatusOr<uint32_t> ParseUpstreamSsrc(absl::string_view text);

// One site a line: `LISTEN [PARENT NODE_ID KEY_HEX [PARENT KEY_HEX]...
// [upstream=SSRC [upstream_key_file=PATH]]] [srtp_key_file=PATH]` (the
// extra parent/key pairs are standbys, in order; upstream= makes the site
// send its own stream to its active parent with that SSRC, encrypted under
// the last key of upstream_key_file= when given; srtp_key_file= gives the
// stream keys of an encrypted stream, media/srtp/keys.h); blank lines and
// lines starting with # are skipped. Each site starts as a copy of `base`.
// Errors begin with "NAME:LINE: ".
absl::StatusOr<std::vector<SiteOptions>> ParseSites(absl::string_view name,
                                                    absl::string_view contents,
                                                    const SiteOptions& base);

}  // namespace probe
}  // namespace cascade

#endif  // CASCADE_TOOLS_PROBE_CONFIG_H_
