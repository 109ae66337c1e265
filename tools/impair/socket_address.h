#ifndef CASCADE_TOOLS_IMPAIR_SOCKET_ADDRESS_H_
#define CASCADE_TOOLS_IMPAIR_SOCKET_ADDRESS_H_

#include <sys/socket.h>

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace cascade {

// An IPv4 or IPv6 UDP address, copyable and comparable by value.
struct SocketAddress {
  sockaddr_storage storage{};

  const sockaddr* get() const {
    return reinterpret_cast<const sockaddr*>(&storage);
  }
  sockaddr* get() { return reinterpret_cast<sockaddr*>(&storage); }
  socklen_t size() const;
  int port() const;
  // "IP:PORT", or "[IP]:PORT" for IPv6.
  std::string ToString() const;
  // Family, address and port bytes: a hash-map key that tells peers apart.
  std::string Key() const;

  static SocketAddress FromSockaddr(const sockaddr* addr);
  // Parses "IP:PORT" or "[IPv6]:PORT" (numeric only, no name lookup).
  static absl::StatusOr<SocketAddress> Parse(absl::string_view text);
};

bool operator==(const SocketAddress& a, const SocketAddress& b);

}  // namespace cascade

#endif  // CASCADE_TOOLS_IMPAIR_SOCKET_ADDRESS_H_
