#include "relay/uring_sender.h"

#include <errno.h>
#include <glog/logging.h>
#include <netinet/in.h>

#include <algorithm>
#include <cstring>

#include "absl/memory/memory.h"
#include "absl/strings/str_cat.h"

namespace cascade::relay {
namespace {

// io_uring_enter calls in a row that reap nothing (interrupted, or the
// kernel short of memory) before the ring is given up.
constexpr int kMaxIdleCalls = 16;

bool SameDestination(const msghdr& a, const msghdr& b) {
  const auto* x = static_cast<const sockaddr_in*>(a.msg_name);
  const auto* y = static_cast<const sockaddr_in*>(b.msg_name);
  return x->sin_addr.s_addr == y->sin_addr.s_addr && x->sin_port == y->sin_port;
}

}  // namespace

absl::StatusOr<std::unique_ptr<UringSender>> UringSender::Create(int fd) {
  std::unique_ptr<UringSender> sender = absl::WrapUnique(new UringSender());
  // SUBMIT_ALL: a request that fails at submission does not stop the ones
  // behind it. COOP_TASKRUN: no interrupt to run completion work, which
  // this thread reaps right away anyway. Both since Linux 5.19.
  io_uring_params params{};
  params.flags = IORING_SETUP_SUBMIT_ALL | IORING_SETUP_COOP_TASKRUN;
  int ret = io_uring_queue_init_params(kEntries, &sender->ring_, &params);
  if (ret == -EINVAL) {
    params = io_uring_params{};
    ret = io_uring_queue_init_params(kEntries, &sender->ring_, &params);
  }
  if (ret < 0) {
    return absl::UnavailableError(
        absl::StrCat("io_uring_queue_init: ", strerror(-ret)));
  }
  sender->fd_ = fd;
  // A fixed file spares each send the file table lookup, which the
  // process's other threads make atomic.
  sender->fixed_file_ = io_uring_register_files(&sender->ring_, &fd, 1) == 0;
  return sender;
}

std::unique_ptr<UringSender> UringSender::CreateOrFallBack(SendPath path,
                                                           int fd) {
  if (path != SendPath::kIoUring) return nullptr;
  absl::StatusOr<std::unique_ptr<UringSender>> sender = Create(fd);
  if (sender.ok()) return *std::move(sender);
  LOG_FIRST_N(WARNING, 1) << "send path io_uring unavailable ("
                          << sender.status().message()
                          << "): sending with sendmmsg";
  return nullptr;
}

UringSender::~UringSender() {
  if (fd_ >= 0) io_uring_queue_exit(&ring_);
}

size_t UringSender::Send(mmsghdr* msgs, size_t count, int* results) {
  size_t calls = 0;
  for (size_t first = 0; first < count; first += kEntries) {
    const unsigned batch =
        static_cast<unsigned>(std::min<size_t>(count - first, kEntries));
    if (broken_) {
      std::fill(results + first, results + first + batch, -ECANCELED);
      continue;
    }
    calls += SendBatch(msgs, first, batch, results);
  }
  return calls;
}

size_t UringSender::SendBatch(mmsghdr* msgs, size_t first, unsigned batch,
                              int* results) {
  for (unsigned k = 0; k < batch; ++k) {
    // Never null: every batch is reaped in full, so the ring is empty here.
    io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
    io_uring_prep_sendmsg(sqe, fixed_file_ ? 0 : fd_, &msgs[first + k].msg_hdr,
                          MSG_DONTWAIT);
    if (fixed_file_) sqe->flags |= IOSQE_FIXED_FILE;
    if (k + 1 < batch &&
        SameDestination(msgs[first + k].msg_hdr, msgs[first + k + 1].msg_hdr)) {
      sqe->flags |= IOSQE_IO_LINK;
    }
    io_uring_sqe_set_data64(sqe, first + k);
    results[first + k] = -ECANCELED;
  }
  size_t calls = 0;
  unsigned reaped = 0;
  int idle = 0;
  // MSG_DONTWAIT sends complete during the submission, so one call does,
  // unless a signal or a shortage interrupts it.
  while (reaped < batch && idle < kMaxIdleCalls) {
    const int ret = io_uring_submit_and_wait(&ring_, batch - reaped);
    ++calls;
    if (ret < 0 && ret != -EINTR && ret != -EAGAIN && ret != -EBUSY) {
      LOG_FIRST_N(ERROR, 1) << "io_uring_enter: " << strerror(-ret);
      break;
    }
    unsigned head;
    unsigned seen = 0;
    io_uring_cqe* cqe;
    io_uring_for_each_cqe(&ring_, head, cqe) {
      results[io_uring_cqe_get_data64(cqe)] = cqe->res;
      ++seen;
    }
    io_uring_cq_advance(&ring_, seen);
    reaped += seen;
    idle = seen > 0 ? 0 : idle + 1;
  }
  // Requests left in the ring would point at bytes the caller frees.
  if (reaped < batch) broken_ = true;
  return calls;
}

}  // namespace cascade::relay
