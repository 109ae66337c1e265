// The simulation runs inside a network namespace of its own: every relay and
// site gets its own 127.x.y.z address on a private loopback, faults such as
// random loss are kernel rules that touch nothing outside, and when the last
// process of the simulation exits the namespace and every port vanish with it.
#ifndef CASCADE_TOOLS_SIM_PRIVATE_NETWORK_H_
#define CASCADE_TOOLS_SIM_PRIVATE_NETWORK_H_

#include <string>

#include "absl/status/status.h"

namespace cascade::sim {

// Moves the calling process (and every process it starts afterwards) into a
// new network namespace and brings its loopback up. Needs root
// (CAP_SYS_ADMIN); call before starting threads.
absl::Status EnterPrivateNetwork();

// Drops `ratio` (0..1) of the UDP datagrams arriving on any socket in the
// namespace, at random, on the receive side so senders see no error: each
// hop of the tree loses its share independently. 0 removes the rule. Uses
// the `nft` command (Debian's nftables).
absl::Status SetRandomLoss(double ratio);

// Sends the UDP datagrams that `source` (an IP of the namespace) addresses
// to `to` ("IP:PORT") to `target` ("IP:PORT") instead; their answers come
// back from `to` (nftables DNAT, kept for the namespace's life). The WHEP
// sites reach an edge relay at the address its answers name, the bridge's
// end outside the namespace.
absl::Status RedirectUdp(const std::string& source, const std::string& to,
                         const std::string& target);

}  // namespace cascade::sim

#endif  // CASCADE_TOOLS_SIM_PRIVATE_NETWORK_H_
