// CRC-32C (Castagnoli), the checksum of every journal record.
#ifndef CASCADE_TOPOLOGY_CRC32C_H_
#define CASCADE_TOPOLOGY_CRC32C_H_

#include <cstdint>

#include "absl/strings/string_view.h"

namespace cascade::topology {

uint32_t Crc32c(absl::string_view data);

}  // namespace cascade::topology

#endif  // CASCADE_TOPOLOGY_CRC32C_H_
