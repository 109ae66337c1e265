// The kernel's per-socket UDP drop counters (/proc/net/udp), to tell loss at
// a forwarder's input from loss at the receivers.
#ifndef CASCADE_TOOLS_BENCH_UDP_DROPS_H_
#define CASCADE_TOOLS_BENCH_UDP_DROPS_H_

#include <cstdint>
#include <string>

#include "absl/container/flat_hash_map.h"

namespace cascade::bench {

// Local port -> datagrams the kernel dropped at that IPv4 socket (receive
// buffer full). Sockets sharing a port add up.
absl::flat_hash_map<int, uint64_t> UdpDropsByPort(
    const std::string& path = "/proc/net/udp");

}  // namespace cascade::bench

#endif  // CASCADE_TOOLS_BENCH_UDP_DROPS_H_
