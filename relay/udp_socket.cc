#include "relay/udp_socket.h"

#include <errno.h>
#include <netinet/udp.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "media/unreachable.h"

namespace cascade::relay {
namespace {

constexpr int kSocketBufferBytes = 8 << 20;

void SetBuffer(int fd, int force_option, int option) {
  const int bytes = kSocketBufferBytes;
  // The FORCE variant passes rmem_max/wmem_max when running as root.
  if (setsockopt(fd, SOL_SOCKET, force_option, &bytes, sizeof(bytes)) != 0) {
    setsockopt(fd, SOL_SOCKET, option, &bytes, sizeof(bytes));
  }
}

}  // namespace

absl::StatusOr<std::unique_ptr<UdpSocket>> UdpSocket::Open(
    const media::Endpoint& listen, PacketPool* pool, SendPath send_path) {
  const int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return absl::InternalError(absl::StrCat("socket: ", strerror(errno)));
  }
  SetBuffer(fd, SO_RCVBUFFORCE, SO_RCVBUF);
  SetBuffer(fd, SO_SNDBUFFORCE, SO_SNDBUF);
  // A parent whose process is gone answers port unreachable.
  if (absl::Status status = media::ReportUnreachable(fd); !status.ok()) {
    close(fd);
    return status;
  }
  sockaddr_in addr = listen.ToSockaddr();
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    const int err = errno;
    close(fd);
    return absl::UnavailableError(
        absl::StrCat("bind ", listen.ToString(), ": ", strerror(err)));
  }
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  return std::unique_ptr<UdpSocket>(
      new UdpSocket(fd, media::Endpoint::FromSockaddr(addr), pool,
                    UringSender::CreateOrFallBack(send_path, fd)));
}

UdpSocket::UdpSocket(int fd, const media::Endpoint& local, PacketPool* pool,
                     std::unique_ptr<UringSender> uring)
    : fd_(fd),
      local_(local),
      pool_(pool),
      uring_(std::move(uring)),
      sender_(fd, uring_.get()) {
  recv_slots_.resize(kBatch);
  msgs_.resize(kBatch);
  iovs_.resize(kBatch);
  addrs_.resize(kBatch);
}

UdpSocket::~UdpSocket() { close(fd_); }

bool UdpSocket::ReceiveBatch(std::vector<Received>* out, bool* errors_pending) {
  out->clear();
  size_t slots = 0;
  for (; slots < kBatch; ++slots) {
    if (!recv_slots_[slots]) recv_slots_[slots] = pool_->Acquire();
    if (!recv_slots_[slots]) break;
  }
  if (slots == 0) {
    // Drain one datagram anyway, or the poll would spin on a full socket.
    ++counters_.recv_pool_empty;
    uint8_t scratch[64];
    return recv(fd_, scratch, sizeof(scratch), MSG_DONTWAIT) >= 0;
  }
  for (size_t i = 0; i < slots; ++i) {
    iovs_[i].iov_base = recv_slots_[i].buffer().data();
    iovs_[i].iov_len = kPacketCapacity;
    msgs_[i] = mmsghdr{};
    msgs_[i].msg_hdr.msg_name = &addrs_[i];
    msgs_[i].msg_hdr.msg_namelen = sizeof(sockaddr_in);
    msgs_[i].msg_hdr.msg_iov = &iovs_[i];
    msgs_[i].msg_hdr.msg_iovlen = 1;
  }
  const int n = recvmmsg(fd_, msgs_.data(), static_cast<unsigned>(slots),
                         MSG_DONTWAIT, nullptr);
  ++counters_.recv_calls;
  if (n < 0 && media::IsReportedError(errno)) {
    // A report is returned once, ahead of the datagrams behind it.
    *errors_pending = true;
    return true;
  }
  if (n <= 0) return false;
  for (int i = 0; i < n; ++i) {
    if ((msgs_[i].msg_hdr.msg_flags & MSG_TRUNC) != 0 ||
        msgs_[i].msg_hdr.msg_namelen != sizeof(sockaddr_in)) {
      ++counters_.recv_truncated;
      continue;  // the slot stays for the next read
    }
    recv_slots_[i].set_size(msgs_[i].msg_len);
    out->push_back(Received{media::Endpoint::FromSockaddr(addrs_[i]),
                            std::move(recv_slots_[i])});
  }
  return true;
}

void UdpSocket::ReceiveErrors(std::vector<media::Endpoint>* out) {
  media::ReadUnreachable(fd_, kBatch, out);
  counters_.unreachable += out->size();
}

void UdpSocket::Send(const media::Endpoint& to, const PacketRef& packet) {
  if (sender_.full()) Flush();
  sender_.Queue(to, packet.data(), static_cast<uint32_t>(packet.size()));
  queued_packets_.push_back(packet);
}

void UdpSocket::Flush() {
  sender_.Flush();
  queued_packets_.clear();
}

UdpCounters UdpSocket::counters() const {
  UdpCounters counters = counters_;
  static_cast<SendCounters&>(counters) = sender_.counters();
  return counters;
}

}  // namespace cascade::relay
