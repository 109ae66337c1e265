#include "relay/fanout_loops.h"

#include <uv.h>

#include <algorithm>
#include <thread>
#include <utility>

#include "absl/synchronization/mutex.h"
#include "relay/dispatcher.h"

namespace cascade::relay {

// One share of one packet's fan-out: `list[begin, end)`.
struct FanoutShare {
  const FanoutList* list;
  uint32_t begin;
  uint32_t end;
  const uint8_t* data;
  uint32_t size;
};

// What a send loop is handed: shares that point into `lists` and `packets`,
// which only the owner touches. `sent` is the send loop's answer.
struct FanoutJob {
  std::vector<FanoutShare> shares;
  std::vector<std::shared_ptr<const FanoutList>> lists;
  std::vector<PacketRef> packets;
  SendCounters sent;

  void Add(const std::shared_ptr<const FanoutList>& list, uint32_t begin,
           uint32_t end, const PacketRef& packet) {
    if (lists.empty() || lists.back() != list) lists.push_back(list);
    shares.push_back(FanoutShare{list.get(), begin, end, packet.data(),
                                 static_cast<uint32_t>(packet.size())});
    packets.push_back(packet);
  }

  void Clear() {
    shares.clear();
    lists.clear();
    packets.clear();
    sent = SendCounters{};
  }
};

namespace {

// Sends `shares` child by child: consecutive shares of one range (the
// packets of a frame, say) go to each child in a row, which is the grouping
// GSO needs, already made.
void SendShares(const std::vector<FanoutShare>& shares, BatchSender* sender) {
  size_t first = 0;
  while (first < shares.size()) {
    size_t last = first + 1;
    while (last < shares.size() && shares[last].list == shares[first].list &&
           shares[last].begin == shares[first].begin &&
           shares[last].end == shares[first].end) {
      ++last;
    }
    const FanoutShare& range = shares[first];
    for (uint32_t i = range.begin; i < range.end; ++i) {
      for (size_t s = first; s < last; ++s) {
        if (sender->full()) sender->Flush(BatchSender::Order::kGrouped);
        sender->Queue((*range.list)[i], shares[s].data, shares[s].size);
      }
    }
    first = last;
  }
  sender->Flush(BatchSender::Order::kGrouped);
}

}  // namespace

// A thread with a libuv loop that sends jobs on a socket it shares, and
// keeps the finished ones for the owner to take.
class SendLoop {
 public:
  // A ring of its own when the owner has one.
  SendLoop(int fd, SendPath send_path)
      : uring_(UringSender::CreateOrFallBack(send_path, fd)),
        sender_(fd, uring_.get()) {
    uv_loop_init(&loop_);
    dispatcher_ = std::make_unique<Dispatcher>(&loop_);
    thread_ = std::thread([this] { uv_run(&loop_, UV_RUN_DEFAULT); });
  }

  ~SendLoop() {
    // Closing the dispatcher closes the loop's last handle: uv_run returns.
    dispatcher_->Post([this] { dispatcher_->Close(); });
    thread_.join();
    dispatcher_.reset();
    uv_run(&loop_, UV_RUN_NOWAIT);  // runs the close callbacks left, if any
    uv_loop_close(&loop_);
  }

  // Owner thread. False when the loop is closing; the job stays the
  // owner's.
  bool Post(FanoutJob* job) {
    return dispatcher_->Post([this, job] { Run(job); });
  }

  // Owner thread: appends the jobs finished since the last call.
  void TakeFinished(std::vector<FanoutJob*>* out) {
    absl::MutexLock lock(&mu_);
    out->insert(out->end(), finished_.begin(), finished_.end());
    finished_.clear();
  }

 private:
  void Run(FanoutJob* job) {
    SendShares(job->shares, &sender_);
    job->sent = sender_.TakeCounters();
    absl::MutexLock lock(&mu_);
    finished_.push_back(job);
  }

  uv_loop_t loop_;
  std::unique_ptr<Dispatcher> dispatcher_;
  const std::unique_ptr<UringSender> uring_;
  BatchSender sender_;  // the loop's thread only
  std::thread thread_;
  absl::Mutex mu_;
  std::vector<FanoutJob*> finished_ ABSL_GUARDED_BY(mu_);
};

FanoutLoops::FanoutLoops(UdpSocket* socket, const FanoutOptions& options)
    : socket_(socket),
      options_(options),
      own_job_(std::make_unique<FanoutJob>()),
      own_sender_(socket->fd(), socket->uring()) {
  const SendPath send_path =
      socket->uring() != nullptr ? SendPath::kIoUring : SendPath::kSendmmsg;
  for (int i = 1; i < options.loops; ++i) {
    send_loops_.push_back(std::make_unique<SendLoop>(socket->fd(), send_path));
  }
  filling_.assign(send_loops_.size(), nullptr);
  in_flight_.assign(send_loops_.size(), 0);
}

FanoutLoops::~FanoutLoops() {
  // Joined first: no thread reads a packet once the jobs drop them.
  send_loops_.clear();
  jobs_.clear();
}

void FanoutLoops::SendToAll(const std::shared_ptr<const FanoutList>& to,
                            const PacketRef& packet) {
  const size_t n = to->size();
  const size_t loops = std::clamp<size_t>(
      n / std::max<size_t>(1, options_.min_children_per_loop), 1,
      send_loops_.size() + 1);
  // Share k of `loops` is [k*n/loops, (k+1)*n/loops); the owner's is the
  // first, and any a send loop cannot take.
  auto bound = [&](size_t k) { return static_cast<uint32_t>(k * n / loops); };
  own_job_->Add(to, 0, bound(1), packet);
  for (size_t k = 1; k < loops; ++k) {
    FanoutJob* job = FillingJob(k - 1);
    if (job == nullptr) {
      ++shares_taken_back_;
      job = own_job_.get();
    }
    job->Add(to, bound(k), bound(k + 1), packet);
  }
}

FanoutJob* FanoutLoops::FillingJob(size_t i) {
  if (filling_[i] != nullptr) return filling_[i];
  if (in_flight_[i] >= kMaxJobsInFlight) {
    TakeBackFinished();
    if (in_flight_[i] >= kMaxJobsInFlight) return nullptr;
  }
  if (free_jobs_.empty()) {
    jobs_.push_back(std::make_unique<FanoutJob>());
    free_jobs_.push_back(jobs_.back().get());
  }
  filling_[i] = free_jobs_.back();
  free_jobs_.pop_back();
  return filling_[i];
}

void FanoutLoops::Flush() {
  // Single sends first: a child activated in this batch gets the keyframe
  // cache before any live packet of the fan-out.
  socket_->Flush();
  for (size_t i = 0; i < send_loops_.size(); ++i) {
    FanoutJob* job = std::exchange(filling_[i], nullptr);
    if (job == nullptr) continue;
    if (send_loops_[i]->Post(job)) {
      ++in_flight_[i];
    } else {
      job->Clear();
      free_jobs_.push_back(job);
    }
  }
  // The send loops work on their shares while this thread sends its own.
  SendShares(own_job_->shares, &own_sender_);
  own_job_->Clear();
  TakeBackFinished();
}

void FanoutLoops::TakeBackFinished() {
  for (size_t i = 0; i < send_loops_.size(); ++i) {
    finished_.clear();
    send_loops_[i]->TakeFinished(&finished_);
    in_flight_[i] -= finished_.size();
    for (FanoutJob* job : finished_) {
      sent_.Add(job->sent);
      job->Clear();
      free_jobs_.push_back(job);
    }
  }
}

}  // namespace cascade::relay
