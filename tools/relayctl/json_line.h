// relayctl --json prints each answer as one line of protobuf's JSON, with
// the proto's field names, so scripts (jq) see the names the docs use.
#ifndef CASCADE_TOOLS_RELAYCTL_JSON_LINE_H_
#define CASCADE_TOOLS_RELAYCTL_JSON_LINE_H_

#include <iosfwd>

#include "google/protobuf/message.h"

namespace cascade::relayctl {

// `message` as one JSON line on `out`; fields at their defaults included,
// so a script never meets a missing key for a zero.
void PrintJsonLine(const google::protobuf::Message& message, std::ostream& out);

}  // namespace cascade::relayctl

#endif  // CASCADE_TOOLS_RELAYCTL_JSON_LINE_H_
