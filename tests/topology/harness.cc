#include "tests/topology/harness.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "google/protobuf/util/json_util.h"

namespace cascade::topology::testing {

using cascade::testing::CommandResult;
using cascade::testing::ReadFile;
using cascade::testing::RunFor;
using cascade::testing::RunToCompletion;
using cascade::testing::WaitForFile;
using cascade::testing::WaitUntil;

constexpr char kTopologyd[] = "topology/topologyd";
constexpr char kRelayctl[] = "tools/relayctl/relayctl";

FakeRelay::FakeRelay(const std::string& controller, const std::string& id,
                     absl::Duration removed_child_grace,
                     std::shared_ptr<grpc::ChannelCredentials> credentials)
    : grace_(removed_child_grace) {
  control::RelayClientOptions options;
  options.controller = controller;
  options.credentials = std::move(credentials);
  options.node_id = id;
  options.report_interval = absl::Milliseconds(100);
  options.min_backoff = absl::Milliseconds(50);
  options.max_backoff = absl::Milliseconds(500);
  options.stats = [this] { return Stats(); };
  client_ = std::make_unique<control::RelayClient>(options, this);
}

FakeRelay::~FakeRelay() { Stop(); }

void FakeRelay::Start() { client_->Start(); }

void FakeRelay::Stop() { client_->Stop(); }

absl::Status FakeRelay::OnAssignment(const cascade::v1::Assignment& a) {
  absl::MutexLock lock(&mu_);
  const absl::Time now = absl::Now();
  for (const auto& child : last_.active_children()) {
    bool kept = false;
    for (const auto& c : a.active_children()) kept |= c.id() == child.id();
    if (!kept) leaving_[child.id()] = now + grace_;
  }
  for (const auto& c : a.active_children()) leaving_.erase(c.id());
  last_ = a;
  ++applied_;
  return absl::OkStatus();
}

cascade::v1::RelayStats FakeRelay::Stats() {
  absl::MutexLock lock(&mu_);
  const absl::Time now = absl::Now();
  for (auto it = leaving_.begin(); it != leaving_.end();) {
    it = it->second <= now ? leaving_.erase(it) : std::next(it);
  }
  cascade::v1::RelayStats stats;
  stats.set_active_children(
      static_cast<uint32_t>(last_.active_children_size() + leaving_.size()));
  if (!receive_from_.empty()) {
    stats.set_receiving_from(receive_from_);
  } else if (last_.parents_size() > 0) {
    stats.set_receiving_from(last_.parents(0).id());
  }
  return stats;
}

bool FakeRelay::WaitFor(
    const std::function<bool(const cascade::v1::Assignment&)>& check,
    absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  auto ready = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return last_.version() > 0 && check(last_);
  };
  return mu_.AwaitWithTimeout(absl::Condition(&ready), timeout);
}

bool FakeRelay::WaitForParent(const std::string& parent) {
  return WaitFor([&](const cascade::v1::Assignment& a) {
    return a.parents_size() > 0 && a.parents(0).id() == parent;
  });
}

cascade::v1::Assignment FakeRelay::last() {
  absl::MutexLock lock(&mu_);
  return last_;
}

int FakeRelay::applied() {
  absl::MutexLock lock(&mu_);
  return applied_;
}

void FakeRelay::ReceiveFrom(const std::string& parent) {
  absl::MutexLock lock(&mu_);
  receive_from_ = parent;
}

absl::StatusOr<std::unique_ptr<Topologyd>> Topologyd::Start(
    const std::string& dir, const std::string& name,
    const std::vector<std::string>& flags, int port) {
  auto daemon = std::make_unique<Topologyd>();
  const std::string port_file = dir + "/" + name + ".port";
  daemon->stderr_path_ = dir + "/" + name + ".err";
  std::vector<std::string> argv = {kTopologyd,
                                   absl::StrCat("--listen=127.0.0.1:", port),
                                   "--port-file=" + port_file};
  argv.insert(argv.end(), flags.begin(), flags.end());
  auto process = Subprocess::Start(
      argv, {dir + "/" + name + ".out", daemon->stderr_path_});
  if (!process.ok()) return process.status();
  daemon->process_ = std::move(*process);
  const std::string bound = WaitForFile(port_file, absl::Seconds(20));
  if (bound.empty()) {
    return absl::UnavailableError(absl::StrCat("topologyd did not start: ",
                                               ReadFile(daemon->stderr_path_)));
  }
  daemon->port_ = std::stoi(bound);
  daemon->address_ = absl::StrCat("127.0.0.1:", daemon->port_);
  return daemon;
}

std::string TestDir() {
  std::string dir =
      std::string(getenv("TEST_TMPDIR")) + "/" +
      ::testing::UnitTest::GetInstance()->current_test_info()->name();
  mkdir(dir.c_str(), 0700);
  return dir;
}

CommandResult Relayctl(const std::string& dir, const std::string& controller,
                       std::vector<std::string> args) {
  static int runs = 0;
  args.insert(args.begin(), {kRelayctl, "--controller=" + controller});
  return RunToCompletion(args, absl::StrCat(dir, "/relayctl", ++runs),
                         absl::Seconds(60));
}

cascade::v1::NodeView ShowNode(const std::string& dir,
                               const std::string& controller,
                               const std::string& id) {
  CommandResult shown =
      Relayctl(dir, controller, {"--insecure", "--json", "show", id});
  EXPECT_EQ(shown.code, 0) << shown.err;
  cascade::v1::NodeView view;
  EXPECT_TRUE(
      google::protobuf::util::JsonStringToMessage(shown.out, &view).ok())
      << shown.out;
  return view;
}

::testing::AssertionResult WaitForNode(
    const std::string& dir, const std::string& controller,
    const std::string& id, absl::string_view what,
    const std::function<bool(const cascade::v1::NodeView&)>& check,
    cascade::v1::NodeView* last, absl::Duration timeout) {
  cascade::v1::NodeView view;
  ::testing::AssertionResult held =
      WaitUntil(absl::StrCat(id, " ", what), timeout, [&] {
        view = ShowNode(dir, controller, id);
        return check(view);
      });
  if (last != nullptr) *last = view;
  return held << "; last shown: " << view.ShortDebugString();
}

bool AckedNewerThan(const cascade::v1::NodeView& view, uint64_t version) {
  return view.acked_version() > version &&
         view.acked_version() == view.assignment_version();
}

Udp::Udp() : fd_(socket(AF_INET, SOCK_DGRAM, 0)) {
  sockaddr_in address = {};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(address);
  EXPECT_EQ(bind(fd_, reinterpret_cast<sockaddr*>(&address), length), 0);
  getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length);
  port_ = ntohs(address.sin_port);
}

Udp::~Udp() { close(fd_); }

std::string Udp::address() const { return absl::StrCat("127.0.0.1:", port_); }

void Udp::SendTo(int port, const std::vector<uint8_t>& bytes) {
  sockaddr_in to = {};
  to.sin_family = AF_INET;
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  to.sin_port = htons(static_cast<uint16_t>(port));
  sendto(fd_, bytes.data(), bytes.size(), 0, reinterpret_cast<sockaddr*>(&to),
         sizeof(to));
}

std::vector<uint8_t> Udp::Receive(absl::Duration timeout) {
  pollfd ready = {fd_, POLLIN, 0};
  if (poll(&ready, 1, static_cast<int>(absl::ToInt64Milliseconds(timeout))) <=
      0) {
    return {};
  }
  std::vector<uint8_t> bytes(2048);
  const ssize_t n = recv(fd_, bytes.data(), bytes.size(), 0);
  bytes.resize(n > 0 ? n : 0);
  return bytes;
}

MediaRun::MediaRun(Udp* source, int relay_port, Udp* site, uint8_t payload_type,
                   uint32_t ssrc)
    : source_(source),
      relay_port_(relay_port),
      site_(site),
      payload_type_(payload_type),
      ssrc_(ssrc),
      sender_([this] { Send(); }),
      receiver_([this] { Receive(); }) {}

MediaRun::~MediaRun() {
  stop_ = true;
  sender_.join();
  receiver_.join();
}

MediaRun::Window MediaRun::Measure(absl::Time from, absl::Time to) {
  absl::MutexLock lock(&mu_);
  Window w;
  for (size_t seq = 0; seq < sent_at_.size(); ++seq) {
    if (sent_at_[seq] < from || sent_at_[seq] >= to - absl::Milliseconds(200))
      continue;
    ++w.sent;
    if (seq >= got_.size() || !got_[seq]) ++w.lost;
  }
  absl::Time last = from;
  for (absl::Time t : arrivals_) {
    if (t < from || t > to) continue;
    w.longest_gap = std::max(w.longest_gap, t - last);
    last = t;
  }
  w.longest_gap = std::max(w.longest_gap, to - last);
  return w;
}

bool MediaRun::Flowing() {
  absl::MutexLock lock(&mu_);
  return !arrivals_.empty() &&
         absl::Now() - arrivals_.back() < absl::Milliseconds(100);
}

bool MediaRun::Delivered(absl::Time sent_at) {
  absl::MutexLock lock(&mu_);
  for (size_t seq = got_.size(); seq-- > 0;) {
    if (sent_at_[seq] < sent_at) return false;
    if (got_[seq]) return true;
  }
  return false;
}

void MediaRun::Send() {
  // 65,536 packets at 5 ms is over five minutes: every test ends long
  // before the sequence number wraps.
  for (uint16_t seq = 0; !stop_; ++seq) {
    const std::vector<uint8_t> rtp = {0x80,
                                      payload_type_,
                                      static_cast<uint8_t>(seq >> 8),
                                      static_cast<uint8_t>(seq),
                                      0,
                                      0,
                                      0,
                                      0,
                                      static_cast<uint8_t>(ssrc_ >> 24),
                                      static_cast<uint8_t>(ssrc_ >> 16),
                                      static_cast<uint8_t>(ssrc_ >> 8),
                                      static_cast<uint8_t>(ssrc_),
                                      1,
                                      2,
                                      3,
                                      4};
    {
      absl::MutexLock lock(&mu_);
      sent_at_.push_back(absl::Now());
    }
    source_->SendTo(relay_port_, rtp);
    RunFor(absl::Milliseconds(5));  // the stream's pace
  }
}

void MediaRun::Receive() {
  while (!stop_) {
    std::vector<uint8_t> got = site_->Receive(absl::Milliseconds(20));
    if (got.size() < 12 || (got[1] & 0x7f) != payload_type_) continue;
    const size_t seq = (got[2] << 8) | got[3];
    absl::MutexLock lock(&mu_);
    if (got_.size() <= seq) got_.resize(seq + 1);
    got_[seq] = true;
    arrivals_.push_back(absl::Now());
  }
}

}  // namespace cascade::topology::testing
