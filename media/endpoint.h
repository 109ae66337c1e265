// An IPv4 UDP address, small enough to copy and hash on the hot path.
#ifndef CASCADE_MEDIA_ENDPOINT_H_
#define CASCADE_MEDIA_ENDPOINT_H_

#include <netinet/in.h>

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace cascade::media {

struct Endpoint {
  uint32_t ip = 0;  // host byte order
  uint16_t port = 0;

  // "IP:PORT" with a dotted-quad IPv4 address; port 0..65535.
  static absl::StatusOr<Endpoint> Parse(absl::string_view text);
  static Endpoint FromSockaddr(const sockaddr_in& addr);
  sockaddr_in ToSockaddr() const;
  std::string ToString() const;
  // The address alone, dotted quad.
  std::string IpString() const;
  // One integer that orders and identifies the endpoint.
  uint64_t Key() const { return (uint64_t{ip} << 16) | port; }

  bool operator==(const Endpoint& o) const {
    return ip == o.ip && port == o.port;
  }
  bool operator!=(const Endpoint& o) const { return !(*this == o); }
  template <typename H>
  friend H AbslHashValue(H h, const Endpoint& e) {
    return H::combine(std::move(h), e.ip, e.port);
  }
};

}  // namespace cascade::media

#endif  // CASCADE_MEDIA_ENDPOINT_H_
