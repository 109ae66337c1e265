// A relay's fan-out on several threads (relayd --threads). The relay's own
// loop keeps every piece of state: it receives, runs the core and sends the
// first share of each fan-out list itself. Each further share goes to a send
// loop, a thread of its own with a libuv loop, as a job: the packets by
// reference (their bytes are read, never copied) and the list with the range
// it sends, all on the relay's one socket with UDP GSO. Every share is sent
// child by child, each child's packets together, so no sort is needed to
// group them.
//
// Packet references are counted by the owning thread only: a job holds them
// until the send loop hands it back, and the owner drops them when it takes
// the finished job (at its next Flush). A send loop that falls behind gets no
// more than kMaxJobsInFlight jobs; the owner then sends that share itself,
// so nothing is lost, only the spread.
//
// Owner thread only (the relay's loop), apart from the send loops' threads.
#ifndef CASCADE_RELAY_FANOUT_LOOPS_H_
#define CASCADE_RELAY_FANOUT_LOOPS_H_

#include <cstddef>
#include <memory>
#include <vector>

#include "relay/batch_sender.h"
#include "relay/packet_pool.h"
#include "relay/transport.h"
#include "relay/udp_socket.h"

namespace cascade::relay {

struct FanoutOptions {
  // Threads sending the fan-out, the relay's own loop included.
  int loops = 1;
  // A list shorter than this per loop is split across fewer loops: handing
  // a few children to another thread costs more than sending to them.
  size_t min_children_per_loop = 32;
  // How the relay's socket sends (relayd --send_path); the send loops do as
  // the socket does, each with a ring of its own.
  SendPath send_path = SendPath::kSendmmsg;
};

class SendLoop;
struct FanoutJob;

class FanoutLoops : public Transport {
 public:
  static constexpr size_t kMaxJobsInFlight = 64;

  // Starts options.loops - 1 send loops on `socket`, which must outlive
  // this.
  FanoutLoops(UdpSocket* socket, const FanoutOptions& options);
  // Stops and joins the send loops, then drops every packet they held.
  ~FanoutLoops() override;
  FanoutLoops(const FanoutLoops&) = delete;
  FanoutLoops& operator=(const FanoutLoops&) = delete;

  void Send(const media::Endpoint& to, const PacketRef& packet) override {
    socket_->Send(to, packet);
  }
  void SendToAll(const std::shared_ptr<const FanoutList>& to,
                 const PacketRef& packet) override;
  // Hands each send loop its share and sends the owner's; takes back the
  // jobs the send loops finished.
  void Flush();

  int loops() const { return static_cast<int>(send_loops_.size()) + 1; }
  // What the send loops sent, as of the jobs taken back so far.
  const SendCounters& send_loop_counters() const { return sent_; }
  // What the relay's loop sent of the fan-out lists (the first shares).
  const SendCounters& own_share_counters() const {
    return own_sender_.counters();
  }
  // Shares the owner sent itself because a send loop was behind.
  uint64_t shares_taken_back() const { return shares_taken_back_; }

 private:
  // The job being filled for send loop `i`, or null when it is behind.
  FanoutJob* FillingJob(size_t i);
  void TakeBackFinished();

  UdpSocket* const socket_;
  const FanoutOptions options_;
  std::vector<std::unique_ptr<SendLoop>> send_loops_;
  // The first shares, sent by this thread at Flush.
  std::unique_ptr<FanoutJob> own_job_;
  BatchSender own_sender_;
  std::vector<FanoutJob*> filling_;  // per send loop, null until needed
  std::vector<size_t> in_flight_;    // per send loop
  std::vector<std::unique_ptr<FanoutJob>> jobs_;  // every job, owned here
  std::vector<FanoutJob*> free_jobs_;
  std::vector<FanoutJob*> finished_;  // scratch
  SendCounters sent_;
  uint64_t shares_taken_back_ = 0;
};

}  // namespace cascade::relay

#endif  // CASCADE_RELAY_FANOUT_LOOPS_H_
