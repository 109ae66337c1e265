#ifndef CASCADE_TOOLS_MEDIA_UDP_H_
#define CASCADE_TOOLS_MEDIA_UDP_H_

// Small UDP sockets for the media tools. relayd's UdpSocket keeps a batch of
// pool slots and send queues per socket, which is right for one relay socket
// but too heavy for a probe holding thousands of site sockets; here every
// socket is a bare fd and one Receiver's buffers serve all of them.

#include <sys/socket.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "media/endpoint.h"

namespace cascade {
namespace media {

// A non-blocking UDP socket bound to `local` (port 0: the kernel chooses).
class UdpFd {
 public:
  static absl::StatusOr<UdpFd> Open(const media::Endpoint& local);
  UdpFd(UdpFd&& other) noexcept;
  UdpFd& operator=(UdpFd&& other) noexcept;
  UdpFd(const UdpFd&) = delete;
  UdpFd& operator=(const UdpFd&) = delete;
  ~UdpFd();

  int fd() const { return fd_; }
  const media::Endpoint& local() const { return local_; }
  // Sends one datagram; false when the kernel refused it (counted by the
  // caller, never fatal: a full socket buffer drops like the network does).
  bool SendTo(const media::Endpoint& to, absl::Span<const uint8_t> data) const;

 private:
  UdpFd(int fd, const media::Endpoint& local) : fd_(fd), local_(local) {}
  int fd_ = -1;
  media::Endpoint local_;
};

// Reads what has arrived on a socket with recvmmsg, in batches.
class Receiver {
 public:
  static constexpr size_t kBatch = 32;
  static constexpr size_t kMaxDatagram = 2048;

  Receiver();
  struct Datagram {
    media::Endpoint from;
    absl::Span<const uint8_t> data;  // valid until the next Receive
    // When the kernel received it (UdpFd sockets ask for the time), else
    // when it was read.
    absl::Time arrival;
  };
  // Fills `out` with up to kBatch datagrams already waiting on `fd`; returns
  // how many (0 when none). Truncated datagrams are dropped and counted.
  size_t Receive(int fd, std::vector<Datagram>* out);
  uint64_t truncated() const { return truncated_; }

 private:
  std::vector<std::array<uint8_t, kMaxDatagram>> buffers_;
  std::vector<std::array<uint8_t, CMSG_SPACE(sizeof(timespec))>> controls_;
  std::vector<mmsghdr> msgs_;
  std::vector<iovec> iovs_;
  std::vector<sockaddr_in> addrs_;
  uint64_t truncated_ = 0;
};

}  // namespace media
}  // namespace cascade

#endif  // CASCADE_TOOLS_MEDIA_UDP_H_
