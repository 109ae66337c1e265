#include "media/endpoint.h"

#include <arpa/inet.h>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace cascade::media {

absl::StatusOr<Endpoint> Endpoint::Parse(absl::string_view text) {
  const size_t colon = text.rfind(':');
  if (colon == absl::string_view::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", text, "\" is not IP:PORT"));
  }
  const std::string host(text.substr(0, colon));
  in_addr addr;
  if (inet_pton(AF_INET, host.c_str(), &addr) != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", host, "\" is not an IPv4 address"));
  }
  uint32_t port = 0;
  if (!absl::SimpleAtoi(text.substr(colon + 1), &port) || port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", text.substr(colon + 1), "\" is not a port"));
  }
  Endpoint e;
  e.ip = ntohl(addr.s_addr);
  e.port = static_cast<uint16_t>(port);
  return e;
}

Endpoint Endpoint::FromSockaddr(const sockaddr_in& addr) {
  Endpoint e;
  e.ip = ntohl(addr.sin_addr.s_addr);
  e.port = ntohs(addr.sin_port);
  return e;
}

sockaddr_in Endpoint::ToSockaddr() const {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(ip);
  addr.sin_port = htons(port);
  return addr;
}

std::string Endpoint::IpString() const {
  return absl::StrCat((ip >> 24) & 0xff, ".", (ip >> 16) & 0xff, ".",
                      (ip >> 8) & 0xff, ".", ip & 0xff);
}

std::string Endpoint::ToString() const {
  return absl::StrCat(IpString(), ":", port);
}

}  // namespace cascade::media
