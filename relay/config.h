// Reads and validates relayd's configuration (proto/relay_config.proto).
#ifndef CASCADE_RELAY_CONFIG_H_
#define CASCADE_RELAY_CONFIG_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "proto/relay_config.pb.h"
#include "relay/relay_options.h"

namespace cascade::relay {

// Parses textproto; the error names the line and column.
absl::StatusOr<cascade::v1::RelayConfig> ParseConfigText(
    absl::string_view text);
// Reads and parses a textproto file.
absl::StatusOr<cascade::v1::RelayConfig> ReadConfigFile(
    const std::string& path);

// Validates a config and fills in defaults. Errors name the offending field,
// e.g. "children[2].key_hex: ...".
absl::StatusOr<RelayOptions> ToOptions(const cascade::v1::RelayConfig& config);

}  // namespace cascade::relay

#endif  // CASCADE_RELAY_CONFIG_H_
