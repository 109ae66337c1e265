#include "tools/impair/socket_address.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace cascade {

socklen_t SocketAddress::size() const {
  return storage.ss_family == AF_INET6 ? sizeof(sockaddr_in6)
                                       : sizeof(sockaddr_in);
}

int SocketAddress::port() const {
  if (storage.ss_family == AF_INET6) {
    return ntohs(reinterpret_cast<const sockaddr_in6*>(&storage)->sin6_port);
  }
  return ntohs(reinterpret_cast<const sockaddr_in*>(&storage)->sin_port);
}

std::string SocketAddress::ToString() const {
  char ip[INET6_ADDRSTRLEN] = "";
  if (storage.ss_family == AF_INET6) {
    inet_ntop(AF_INET6,
              &reinterpret_cast<const sockaddr_in6*>(&storage)->sin6_addr, ip,
              sizeof(ip));
    return absl::StrCat("[", ip, "]:", port());
  }
  inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&storage)->sin_addr,
            ip, sizeof(ip));
  return absl::StrCat(ip, ":", port());
}

std::string SocketAddress::Key() const {
  std::string key(1, static_cast<char>(storage.ss_family));
  if (storage.ss_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&storage);
    key.append(reinterpret_cast<const char*>(&in6->sin6_addr), 16);
    key.append(reinterpret_cast<const char*>(&in6->sin6_port), 2);
  } else {
    const auto* in4 = reinterpret_cast<const sockaddr_in*>(&storage);
    key.append(reinterpret_cast<const char*>(&in4->sin_addr), 4);
    key.append(reinterpret_cast<const char*>(&in4->sin_port), 2);
  }
  return key;
}

SocketAddress SocketAddress::FromSockaddr(const sockaddr* addr) {
  SocketAddress result;
  std::memcpy(
      &result.storage, addr,
      addr->sa_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in));
  return result;
}

absl::StatusOr<SocketAddress> SocketAddress::Parse(absl::string_view text) {
  const size_t colon = text.rfind(':');
  if (colon == absl::string_view::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("address '", text, "' is not IP:PORT"));
  }
  absl::string_view host = text.substr(0, colon);
  int port = 0;
  if (!absl::SimpleAtoi(text.substr(colon + 1), &port) || port < 0 ||
      port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("address '", text, "' has no valid port (0-65535)"));
  }
  SocketAddress result;
  const bool bracketed =
      host.size() >= 2 && host.front() == '[' && host.back() == ']';
  const std::string ip(bracketed ? host.substr(1, host.size() - 2) : host);
  auto* in6 = reinterpret_cast<sockaddr_in6*>(&result.storage);
  auto* in4 = reinterpret_cast<sockaddr_in*>(&result.storage);
  if (bracketed && inet_pton(AF_INET6, ip.c_str(), &in6->sin6_addr) == 1) {
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(static_cast<uint16_t>(port));
  } else if (!bracketed &&
             inet_pton(AF_INET, ip.c_str(), &in4->sin_addr) == 1) {
    in4->sin_family = AF_INET;
    in4->sin_port = htons(static_cast<uint16_t>(port));
  } else {
    return absl::InvalidArgumentError(absl::StrCat(
        "address '", text, "' has no numeric IPv4 or [IPv6] host"));
  }
  return result;
}

bool operator==(const SocketAddress& a, const SocketAddress& b) {
  return a.Key() == b.Key();
}

}  // namespace cascade
