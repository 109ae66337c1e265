#include "media/unreachable.h"

#include <errno.h>
#include <linux/errqueue.h>
#include <netinet/in.h>
#include <netinet/ip_icmp.h>
#include <string.h>
#include <sys/socket.h>

#include <cstdint>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace cascade::media {

absl::Status ReportUnreachable(int fd) {
  const int on = 1;
  if (setsockopt(fd, IPPROTO_IP, IP_RECVERR, &on, sizeof(on)) != 0 ||
      setsockopt(fd, SOL_SOCKET, SO_SELECT_ERR_QUEUE, &on, sizeof(on)) != 0) {
    return absl::InternalError(
        absl::StrCat("setsockopt IP_RECVERR: ", strerror(errno)));
  }
  return absl::OkStatus();
}

void ReadUnreachable(int fd, size_t max, std::vector<Endpoint>* out) {
  out->clear();
  for (size_t i = 0; i < max; ++i) {
    sockaddr_in to{};
    uint8_t head[64];  // the start of the datagram that failed; unused
    alignas(cmsghdr) uint8_t control[128];
    iovec iov{head, sizeof(head)};
    msghdr msg{};
    msg.msg_name = &to;
    msg.msg_namelen = sizeof(to);
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof(control);
    if (recvmsg(fd, &msg, MSG_ERRQUEUE | MSG_DONTWAIT) < 0) return;
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr;
         c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level != IPPROTO_IP || c->cmsg_type != IP_RECVERR) continue;
      sock_extended_err err;
      std::memcpy(&err, CMSG_DATA(c), sizeof(err));
      if (err.ee_origin == SO_EE_ORIGIN_ICMP &&
          err.ee_type == ICMP_DEST_UNREACH &&
          msg.msg_namelen == sizeof(sockaddr_in)) {
        out->push_back(Endpoint::FromSockaddr(to));
      }
    }
  }
}

bool IsReportedError(int err) {
  return err == ECONNREFUSED || err == EHOSTUNREACH || err == ENETUNREACH;
}

}  // namespace cascade::media
