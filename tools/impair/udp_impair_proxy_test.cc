#include "tools/impair/udp_impair_proxy.h"

#include <gtest/gtest.h>
#include <uv.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <set>
#include <vector>

namespace cascade {
namespace {

constexpr size_t kPayloadBytes = 100;

struct Arrival {
  uint32_t sequence;
  uint64_t one_way_ns;  // arrival time minus the send time in the payload
  std::string from;
};

// A UDP socket on the test's loop that records what it receives and can echo
// it back to the sender.
class Endpoint {
 public:
  Endpoint(uv_loop_t* loop, bool echo) : echo_(echo) {
    uv_udp_init(loop, &handle_);
    handle_.data = this;
    SocketAddress any = *SocketAddress::Parse("127.0.0.1:0");
    EXPECT_EQ(uv_udp_bind(&handle_, any.get(), 0), 0);
    int size = 4 << 20;
    uv_recv_buffer_size(reinterpret_cast<uv_handle_t*>(&handle_), &size);
    uv_udp_recv_start(
        &handle_,
        [](uv_handle_t* handle, size_t, uv_buf_t* buf) {
          auto* self = static_cast<Endpoint*>(handle->data);
          *buf = uv_buf_init(self->buffer_, sizeof(self->buffer_));
        },
        &Endpoint::OnRead);
  }
  // The handle lives inside this object: finish closing it before it goes.
  ~Endpoint() {
    uv_close(reinterpret_cast<uv_handle_t*>(&handle_), nullptr);
    uv_run(handle_.loop, UV_RUN_NOWAIT);
  }

  SocketAddress address() const {
    sockaddr_storage bound;
    int length = sizeof(bound);
    uv_udp_getsockname(&handle_, reinterpret_cast<sockaddr*>(&bound), &length);
    return SocketAddress::FromSockaddr(reinterpret_cast<sockaddr*>(&bound));
  }

  void Send(const SocketAddress& to, uint32_t sequence) {
    char payload[kPayloadBytes] = {};
    const uint64_t now = uv_hrtime();
    std::memcpy(payload, &sequence, sizeof(sequence));
    std::memcpy(payload + sizeof(sequence), &now, sizeof(now));
    uv_buf_t buf = uv_buf_init(payload, sizeof(payload));
    ASSERT_EQ(uv_udp_try_send(&handle_, &buf, 1, to.get()),
              static_cast<int>(sizeof(payload)));
  }

  const std::vector<Arrival>& arrivals() const { return arrivals_; }
  uint64_t last_arrival_ns() const { return last_arrival_ns_; }

 private:
  static void OnRead(uv_udp_t* handle, ssize_t nread, const uv_buf_t* buf,
                     const sockaddr* from, unsigned) {
    if (nread <= 0 || from == nullptr) return;
    auto* self = static_cast<Endpoint*>(handle->data);
    self->last_arrival_ns_ = uv_hrtime();
    Arrival arrival{0, 0, SocketAddress::FromSockaddr(from).ToString()};
    uint64_t sent_ns = 0;
    if (static_cast<size_t>(nread) == kPayloadBytes) {
      std::memcpy(&arrival.sequence, buf->base, sizeof(arrival.sequence));
      std::memcpy(&sent_ns, buf->base + sizeof(arrival.sequence),
                  sizeof(sent_ns));
      arrival.one_way_ns = self->last_arrival_ns_ - sent_ns;
    }
    self->arrivals_.push_back(arrival);
    if (self->echo_) {
      uv_buf_t reply = uv_buf_init(buf->base, static_cast<unsigned>(nread));
      uv_udp_try_send(handle, &reply, 1, from);
    }
  }

  uv_udp_t handle_;
  bool echo_;
  char buffer_[2048];
  std::vector<Arrival> arrivals_;
  uint64_t last_arrival_ns_ = 0;
};

class ImpairProxyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(uv_loop_init(&loop_), 0);
    server_ = std::make_unique<Endpoint>(&loop_, /*echo=*/true);
    client_ = std::make_unique<Endpoint>(&loop_, /*echo=*/false);
  }

  void TearDown() override {
    proxy_.reset();
    server_.reset();
    client_.reset();
    extra_client_.reset();
    uv_run(&loop_, UV_RUN_DEFAULT);  // runs the close callbacks
    EXPECT_EQ(uv_loop_close(&loop_), 0);
  }

  void StartProxy(const ImpairmentOptions& to_forward, uint64_t seed = 7,
                  int max_clients = 64) {
    ImpairProxyOptions options;
    options.listen = *SocketAddress::Parse("127.0.0.1:0");
    options.forward = server_->address();
    options.to_forward = to_forward;
    options.seed = seed;
    options.max_clients = max_clients;
    absl::StatusOr<std::unique_ptr<UdpImpairProxy>> proxy =
        UdpImpairProxy::Create(&loop_, options);
    ASSERT_TRUE(proxy.ok()) << proxy.status();
    proxy_ = std::move(*proxy);
  }

  // Sends `count` numbered datagrams from `from` through the proxy, 50 per
  // millisecond, then runs the loop until nothing has arrived anywhere for
  // `quiet_ms` (bounded by a 10 s deadline).
  void SendAndSettle(Endpoint& from, uint32_t count, uint64_t quiet_ms = 150) {
    struct Pump {
      ImpairProxyTest* test;
      Endpoint* from;
      uint32_t count;
      uint32_t sent = 0;
      uint64_t quiet_ns;
      uint64_t deadline_ns;
    } pump{this,
           &from,
           count,
           0,
           quiet_ms * 1000000,
           uv_hrtime() + 10'000'000'000ULL};
    uv_timer_t timer;
    uv_timer_init(&loop_, &timer);
    timer.data = &pump;
    uv_timer_start(
        &timer,
        [](uv_timer_t* t) {
          auto* p = static_cast<Pump*>(t->data);
          for (int i = 0; i < 50 && p->sent < p->count; ++i) {
            p->from->Send(p->test->proxy_->listen_address(), p->sent++);
          }
          const uint64_t now = uv_hrtime();
          uint64_t last = std::max(p->test->server_->last_arrival_ns(),
                                   p->test->client_->last_arrival_ns());
          if (p->test->extra_client_) {
            last = std::max(last, p->test->extra_client_->last_arrival_ns());
          }
          if (p->sent == p->count && p->test->sent_done_ns_ == 0) {
            p->test->sent_done_ns_ = now;
          }
          const bool quiet =
              now - std::max(last, p->test->sent_done_ns_) > p->quiet_ns;
          if ((p->sent == p->count && quiet) || now > p->deadline_ns) {
            uv_stop(t->loop);
          }
        },
        1, 1);
    sent_done_ns_ = 0;
    uv_run(&loop_, UV_RUN_DEFAULT);
    uv_close(reinterpret_cast<uv_handle_t*>(&timer), nullptr);
    uv_run(&loop_, UV_RUN_NOWAIT);
    ASSERT_EQ(pump.sent, count);
  }

  std::set<uint32_t> ServerSequences() const {
    std::set<uint32_t> sequences;
    for (const Arrival& arrival : server_->arrivals()) {
      sequences.insert(arrival.sequence);
    }
    return sequences;
  }

  uv_loop_t loop_;
  std::unique_ptr<Endpoint> server_;
  std::unique_ptr<Endpoint> client_;
  std::unique_ptr<Endpoint> extra_client_;
  std::unique_ptr<UdpImpairProxy> proxy_;
  uint64_t sent_done_ns_ = 0;
};

TEST_F(ImpairProxyTest, ForwardsBothWaysWithOneUpstreamSocketPerClient) {
  StartProxy(ImpairmentOptions{});
  extra_client_ = std::make_unique<Endpoint>(&loop_, /*echo=*/false);
  SendAndSettle(*client_, 100);
  SendAndSettle(*extra_client_, 100);

  EXPECT_EQ(client_->arrivals().size(), 100u);
  EXPECT_EQ(extra_client_->arrivals().size(), 100u);
  ASSERT_EQ(server_->arrivals().size(), 200u);
  // The far side sees two distinct peers, neither of them the clients.
  std::set<std::string> peers;
  for (const Arrival& arrival : server_->arrivals()) peers.insert(arrival.from);
  EXPECT_EQ(peers.size(), 2u);
  EXPECT_EQ(peers.count(client_->address().ToString()), 0u);
  // Replies come back from the listen address.
  EXPECT_EQ(client_->arrivals()[0].from, proxy_->listen_address().ToString());

  const ImpairCounters counters = proxy_->counters();
  EXPECT_EQ(counters.clients, 2);
  EXPECT_EQ(counters.to_forward.received, 200u);
  EXPECT_EQ(counters.to_forward.forwarded, 200u);
  EXPECT_EQ(counters.to_client.received, 200u);
  EXPECT_EQ(counters.to_client.forwarded, 200u);
}

TEST_F(ImpairProxyTest, RandomLossRateWithinBounds) {
  ImpairmentOptions options;
  options.loss = 0.1;
  StartProxy(options);
  SendAndSettle(*client_, 10000);

  const ImpairCounters counters = proxy_->counters();
  ASSERT_EQ(counters.to_forward.received, 10000u);
  // 10k trials at p = 0.1: sd 30, the bounds are 5 sd.
  EXPECT_GE(counters.to_forward.dropped_loss, 850u);
  EXPECT_LE(counters.to_forward.dropped_loss, 1150u);
  EXPECT_EQ(server_->arrivals().size(),
            10000u - counters.to_forward.dropped_loss);
  EXPECT_EQ(ServerSequences().size(), server_->arrivals().size());
}

// Mean length of the runs of consecutive missing sequence numbers.
double MeanLossRun(const std::set<uint32_t>& received, uint32_t count) {
  int runs = 0, lost = 0;
  bool in_run = false;
  for (uint32_t s = 0; s < count; ++s) {
    const bool missing = received.count(s) == 0;
    if (missing) {
      ++lost;
      if (!in_run) ++runs;
    }
    in_run = missing;
  }
  return runs == 0 ? 0 : static_cast<double>(lost) / runs;
}

TEST_F(ImpairProxyTest, BurstLossComesInRunsOfTheConfiguredMeanLength) {
  ImpairmentOptions options;
  options.burst_enter = 0.01;
  options.burst_exit = 0.25;  // mean burst 4, mean loss 0.01/0.26 = 3.8%
  StartProxy(options);
  SendAndSettle(*client_, 10000);

  const std::set<uint32_t> received = ServerSequences();
  const double loss_ratio = 1 - received.size() / 10000.0;
  EXPECT_GT(loss_ratio, 0.025);
  EXPECT_LT(loss_ratio, 0.055);
  const double mean_run = MeanLossRun(received, 10000);
  EXPECT_GT(mean_run, 3.0);
  EXPECT_LT(mean_run, 5.0);
}

TEST_F(ImpairProxyTest, IndependentLossHasShortRuns) {
  ImpairmentOptions options;
  options.loss = 0.04;
  StartProxy(options);
  SendAndSettle(*client_, 10000);
  EXPECT_LT(MeanLossRun(ServerSequences(), 10000), 1.2);
}

TEST_F(ImpairProxyTest, SameSeedDropsTheSameDatagrams) {
  ImpairmentOptions options;
  options.loss = 0.2;
  std::vector<std::set<uint32_t>> runs;
  for (uint64_t seed : {11, 11, 12}) {
    server_ = std::make_unique<Endpoint>(&loop_, /*echo=*/true);
    StartProxy(options, seed);
    SendAndSettle(*client_, 2000);
    runs.push_back(ServerSequences());
    EXPECT_LT(runs.back().size(), 1800u);
  }
  EXPECT_EQ(runs[0], runs[1]);
  EXPECT_NE(runs[0], runs[2]);
}

TEST_F(ImpairProxyTest, DelayHoldsEveryDatagram) {
  ImpairmentOptions options;
  options.delay = absl::Milliseconds(30);
  StartProxy(options);
  SendAndSettle(*client_, 200);

  ASSERT_EQ(server_->arrivals().size(), 200u);
  std::vector<uint64_t> one_way;
  for (const Arrival& arrival : server_->arrivals()) {
    one_way.push_back(arrival.one_way_ns);
  }
  std::sort(one_way.begin(), one_way.end());
  EXPECT_GE(one_way.front(), 30'000'000u);
  // Lateness from a busy machine is possible; a doubled delay is not.
  EXPECT_LT(one_way[one_way.size() / 2], 60'000'000u);
}

TEST_F(ImpairProxyTest, JitterSpreadsTheDelay) {
  ImpairmentOptions options;
  options.delay = absl::Milliseconds(40);
  options.jitter = absl::Milliseconds(20);
  StartProxy(options);
  SendAndSettle(*client_, 500);

  ASSERT_EQ(server_->arrivals().size(), 500u);
  std::vector<uint64_t> one_way;
  for (const Arrival& arrival : server_->arrivals()) {
    one_way.push_back(arrival.one_way_ns);
  }
  std::sort(one_way.begin(), one_way.end());
  // Uniform over [20, 60] ms: nothing leaves early, and the middle 80% spans
  // about 32 ms (a loaded machine only adds lateness, so upper bounds on
  // single arrivals would be flaky).
  EXPECT_GE(one_way.front(), 20'000'000u);
  EXPECT_GT(one_way[450] - one_way[50], 20'000'000u);
  EXPECT_LT(one_way[250], 100'000'000u);
}

TEST_F(ImpairProxyTest, ReorderSwapsDatagramsAtTheConfiguredRate) {
  ImpairmentOptions options;
  options.reorder = 0.1;
  StartProxy(options);
  SendAndSettle(*client_, 10000);

  ASSERT_EQ(server_->arrivals().size(), 10000u);
  EXPECT_EQ(ServerSequences().size(), 10000u);
  uint64_t late = 0;
  uint32_t highest = 0;
  for (const Arrival& arrival : server_->arrivals()) {
    if (arrival.sequence < highest) ++late;
    highest = std::max(highest, arrival.sequence);
  }
  const uint64_t reordered = proxy_->counters().to_forward.reordered;
  EXPECT_EQ(late, reordered);
  // A datagram is held with p = 0.1 unless one is already held: about 9%.
  EXPECT_GT(reordered, 750u);
  EXPECT_LT(reordered, 1100u);
}

TEST_F(ImpairProxyTest, DuplicateSendsSomeDatagramsTwice) {
  ImpairmentOptions options;
  options.duplicate = 0.1;
  StartProxy(options);
  SendAndSettle(*client_, 10000);

  const uint64_t duplicated = proxy_->counters().to_forward.duplicated;
  EXPECT_GE(duplicated, 850u);
  EXPECT_LE(duplicated, 1150u);
  EXPECT_EQ(server_->arrivals().size(), 10000u + duplicated);
  EXPECT_EQ(ServerSequences().size(), 10000u);
}

TEST_F(ImpairProxyTest, CutDropsEverythingUntilUncut) {
  StartProxy(ImpairmentOptions{});
  SendAndSettle(*client_, 100);
  ASSERT_EQ(server_->arrivals().size(), 100u);

  proxy_->SetCut(true);
  SendAndSettle(*client_, 100);
  EXPECT_EQ(server_->arrivals().size(), 100u);
  EXPECT_EQ(proxy_->counters().to_forward.dropped_cut, 100u);

  proxy_->SetCut(false);
  SendAndSettle(*client_, 100);
  EXPECT_EQ(server_->arrivals().size(), 200u);
  EXPECT_EQ(client_->arrivals().size(), 200u);
}

TEST_F(ImpairProxyTest, BypassPassesEverythingUntilImpairmentResumes) {
  ImpairmentOptions options;
  options.loss = 0.5;
  StartProxy(options);
  proxy_->SetBypass(true);
  SendAndSettle(*client_, 200);
  EXPECT_EQ(server_->arrivals().size(), 200u);
  EXPECT_EQ(proxy_->counters().to_forward.dropped_loss, 0u);

  proxy_->SetBypass(false);
  SendAndSettle(*client_, 200);
  EXPECT_GT(proxy_->counters().to_forward.dropped_loss, 50u);
}

TEST_F(ImpairProxyTest, DatagramsToAnUpstreamSocketFromStrangersAreDropped) {
  StartProxy(ImpairmentOptions{});
  SendAndSettle(*client_, 1);
  ASSERT_EQ(server_->arrivals().size(), 1u);
  // A stranger writes to the upstream socket the server saw.
  const SocketAddress upstream =
      *SocketAddress::Parse(server_->arrivals()[0].from);
  extra_client_ = std::make_unique<Endpoint>(&loop_, /*echo=*/false);
  extra_client_->Send(upstream, 99);
  SendAndSettle(*client_, 0);

  EXPECT_EQ(proxy_->counters().to_client.dropped_foreign, 1u);
  EXPECT_EQ(client_->arrivals().size(), 1u);
}

TEST_F(ImpairProxyTest, ClientsBeyondTheTableAreCountedAndDropped) {
  StartProxy(ImpairmentOptions{}, /*seed=*/1, /*max_clients=*/1);
  extra_client_ = std::make_unique<Endpoint>(&loop_, /*echo=*/false);
  SendAndSettle(*client_, 10);
  SendAndSettle(*extra_client_, 10);

  EXPECT_EQ(server_->arrivals().size(), 10u);
  EXPECT_EQ(proxy_->counters().to_forward.dropped_overflow, 10u);
  EXPECT_EQ(proxy_->counters().clients, 1);
}

TEST_F(ImpairProxyTest, RejectsBadOptionsNamingTheField) {
  ImpairProxyOptions options;
  options.listen = *SocketAddress::Parse("127.0.0.1:0");
  options.forward = server_->address();
  options.to_client.duplicate = 1.5;
  absl::StatusOr<std::unique_ptr<UdpImpairProxy>> proxy =
      UdpImpairProxy::Create(&loop_, options);
  ASSERT_FALSE(proxy.ok());
  EXPECT_NE(proxy.status().message().find("to_client: duplicate"),
            absl::string_view::npos)
      << proxy.status();

  options.to_client = ImpairmentOptions{};
  options.forward = *SocketAddress::Parse("127.0.0.1:0");
  EXPECT_FALSE(UdpImpairProxy::Create(&loop_, options).ok());
}

}  // namespace
}  // namespace cascade
