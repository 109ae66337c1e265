#include "tests/relay/relay_harness.h"

#include <httplib.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "media/rtp/activation.h"
#include "media/rtp/demux.h"
#include "media/rtp/rtcp.h"
#include "media/rtp/rtp.h"
#include "tests/common/wait.h"

namespace cascade::relay::testing {

using ::cascade::testing::kWaitTimeout;
using ::cascade::testing::WaitUntil;

UdpPeer::UdpPeer() {
  fd_ = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  const int buffer = 8 << 20;
  setsockopt(fd_, SOL_SOCKET, SO_RCVBUFFORCE, &buffer, sizeof(buffer));
  sockaddr_in addr = media::Endpoint::Parse("127.0.0.1:0")->ToSockaddr();
  bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
  address_ = media::Endpoint::FromSockaddr(addr);
}

UdpPeer::~UdpPeer() { close(fd_); }

void UdpPeer::SendTo(const media::Endpoint& to,
                     absl::Span<const uint8_t> bytes) {
  sockaddr_in addr = to.ToSockaddr();
  // A full socket buffer on loopback clears within microseconds: wait
  // (bounded) until the socket can take the datagram again.
  const absl::Time deadline = absl::Now() + absl::Seconds(1);
  while (sendto(fd_, bytes.data(), bytes.size(), 0,
                reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) < 0 &&
         (errno == EAGAIN || errno == ENOBUFS) && absl::Now() < deadline) {
    pollfd p{fd_, POLLOUT, 0};
    poll(&p, 1, 10);
  }
}

std::optional<Bytes> UdpPeer::Receive(absl::Duration timeout,
                                      media::Endpoint* from) {
  const absl::Time deadline = absl::Now() + timeout;
  Bytes buffer(65536);
  while (true) {
    sockaddr_in addr{};
    socklen_t len = sizeof(addr);
    const ssize_t n = recvfrom(fd_, buffer.data(), buffer.size(), 0,
                               reinterpret_cast<sockaddr*>(&addr), &len);
    if (n >= 0) {
      buffer.resize(static_cast<size_t>(n));
      if (from != nullptr) *from = media::Endpoint::FromSockaddr(addr);
      return buffer;
    }
    const absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) return std::nullopt;
    pollfd p{fd_, POLLIN, 0};
    poll(&p, 1, static_cast<int>(absl::ToInt64Milliseconds(left)) + 1);
  }
}

ProxyThread::ProxyThread(const media::Endpoint& forward, double loss,
                         uint64_t seed) {
  uv_loop_init(&loop_);
  uv_async_init(&loop_, &stop_, [](uv_async_t* h) {
    uv_close(reinterpret_cast<uv_handle_t*>(h), nullptr);
    static_cast<ProxyThread*>(h->data)->proxy_.reset();
  });
  stop_.data = this;
  ImpairProxyOptions o;
  o.listen = *SocketAddress::Parse("127.0.0.1:0");
  o.forward = *SocketAddress::Parse(forward.ToString());
  o.to_forward.loss = loss;
  o.to_client.loss = loss;
  o.seed = seed;
  absl::StatusOr<std::unique_ptr<UdpImpairProxy>> proxy =
      UdpImpairProxy::Create(&loop_, o);
  if (!proxy.ok()) {
    std::fprintf(stderr, "udp-impair proxy: %s\n",
                 proxy.status().ToString().c_str());
    std::abort();
  }
  proxy_ = *std::move(proxy);
  listen_ = *media::Endpoint::Parse(proxy_->listen_address().ToString());
  thread_ = std::thread([this] { uv_run(&loop_, UV_RUN_DEFAULT); });
}

ProxyThread::~ProxyThread() {
  uv_async_send(&stop_);
  thread_.join();
  uv_loop_close(&loop_);
}

std::string RelaydPath() {
  const char* srcdir = std::getenv("TEST_SRCDIR");
  const char* workspace = std::getenv("TEST_WORKSPACE");
  return absl::StrCat(srcdir ? srcdir : ".", "/",
                      workspace ? workspace : "cascade", "/relay/relayd");
}

std::string TestLinkKey(const std::string& node) {
  return absl::BytesToHexString(std::string(16, node.back()) + node);
}

std::string TempDir(const std::string& name) {
  const char* base = std::getenv("TEST_TMPDIR");
  static int counter = 0;
  const std::string dir = absl::StrCat(base ? base : "/tmp", "/", name, "-",
                                       getpid(), "-", ++counter);
  mkdir(dir.c_str(), 0700);
  return dir;
}

absl::StatusOr<std::unique_ptr<RelayProcess>> RelayProcess::Start(
    const std::string& name, const std::string& config,
    const std::vector<std::string>& extra_args,
    const std::vector<std::string>& env) {
  const std::string dir = TempDir(name);
  std::unique_ptr<RelayProcess> p(new RelayProcess());
  p->name_ = name;
  p->config_path_ = dir + "/relay.textproto";
  const std::string port_file = dir + "/ports";
  std::ofstream(p->config_path_) << config;

  std::vector<std::string> args = {RelaydPath(), "--port-file=" + port_file,
                                   "--metrics=127.0.0.1:0"};
  if (!config.empty()) args.push_back("--config=" + p->config_path_);
  args.insert(args.end(), extra_args.begin(), extra_args.end());
  SubprocessOptions options;
  options.env = env;
  absl::StatusOr<std::unique_ptr<Subprocess>> process =
      Subprocess::Start(args, options);
  if (!process.ok()) return process.status();
  p->process_ = *std::move(process);
  bool exited = false;
  const bool bound =
      WaitUntil("relayd writes its port file or exits", kWaitTimeout, [&] {
        if (p->ReadPortFile(port_file)) return true;
        exited = !p->process_->Running();
        return exited;
      });
  if (exited) {
    absl::StatusOr<int> ended = p->process_->Wait(absl::ZeroDuration());
    return absl::InternalError(
        ended.ok()
            ? absl::StrCat("relayd exited early with exit code ", *ended)
            : absl::StrCat("relayd exited early: ", ended.status().message()));
  }
  if (!bound) {
    return absl::DeadlineExceededError("relayd did not write its port file");
  }
  return p;
}

bool RelayProcess::ReadPortFile(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  int udp = 0;
  while (std::getline(in, line)) {
    std::pair<std::string, std::string> kv = absl::StrSplit(line, '=');
    int port = 0;
    if (kv.first == "udp") absl::SimpleAtoi(kv.second, &udp);
    if (absl::StartsWith(kv.first, "udp.") &&
        absl::SimpleAtoi(kv.second, &port)) {
      relay_addresses_[kv.first.substr(4)] =
          media::Endpoint{0x7f000001, static_cast<uint16_t>(port)};
    }
    if (kv.first == "metrics") absl::SimpleAtoi(kv.second, &metrics_port_);
  }
  // Written at once (rename): every relay's line is there.
  if (udp == 0 && relay_addresses_.empty()) return false;
  address_ = media::Endpoint{0x7f000001, static_cast<uint16_t>(udp)};
  return true;
}

media::Endpoint RelayProcess::address(const std::string& id) const {
  auto it = relay_addresses_.find(id);
  return it == relay_addresses_.end() ? media::Endpoint{} : it->second;
}

std::map<std::string, double> RelayProcess::Metrics(
    const std::string& path) const {
  std::map<std::string, double> out;
  httplib::Client client("127.0.0.1", metrics_port_);
  client.set_connection_timeout(2);
  client.set_read_timeout(3);
  httplib::Result res = client.Get(path.c_str());
  if (!res || res->status != 200) return out;
  std::istringstream lines(res->body);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.empty() || line[0] == '#') continue;
    const size_t space = line.rfind(' ');
    double value = 0;
    if (space == std::string::npos ||
        !absl::SimpleAtod(line.substr(space + 1), &value)) {
      continue;
    }
    out[line.substr(0, space)] = value;
  }
  return out;
}

double RelayProcess::Metric(const std::string& sample) const {
  const std::map<std::string, double> m = Metrics();
  auto it = m.find(sample);
  return it == m.end() ? 0 : it->second;
}

double RelayProcess::MetricSum(const std::string& name) const {
  double sum = 0;
  for (const auto& [sample, value] : Metrics()) {
    if (sample == name || sample.rfind(name + "{", 0) == 0) sum += value;
  }
  return sum;
}

::testing::AssertionResult RelayProcess::WaitForMetric(
    const std::string& sample, double value, absl::Duration timeout) const {
  return WaitUntil(absl::StrCat(name_, ": ", sample, " >= ", value), timeout,
                   [&] { return Metric(sample) >= value; });
}

void RelayProcess::Signal(int signum) const {
  process_->Signal(signum).IgnoreError();
}

absl::StatusOr<int> RelayProcess::Wait(absl::Duration timeout) {
  return process_->Wait(timeout);
}

Bytes MakeRtp(uint32_t ssrc, uint16_t seq, uint32_t timestamp,
              absl::Span<const uint8_t> payload) {
  rtp::RtpHeader h;
  h.payload_type = 96;
  h.sequence_number = seq;
  h.timestamp = timestamp;
  h.ssrc = ssrc;
  Bytes out(rtp::kRtpFixedHeaderSize + payload.size());
  out.resize(rtp::WriteRtpPacket(h, payload, absl::MakeSpan(out)));
  return out;
}

Bytes MakeActivation(const std::string& node, const std::string& key,
                     uint64_t nonce) {
  rtp::ActivationRequest r;
  r.node_id = node;
  r.timestamp_ms = absl::ToUnixMillis(absl::Now());
  r.nonce = nonce;
  Bytes out(rtp::kMaxActivationSize);
  out.resize(rtp::BuildActivation(
      r,
      absl::MakeConstSpan(reinterpret_cast<const uint8_t*>(key.data()),
                          key.size()),
      absl::MakeSpan(out)));
  return out;
}

Bytes MakeNack(uint32_t media_ssrc, const std::vector<uint16_t>& seqs) {
  Bytes out(1500);
  out.resize(rtp::BuildNack(0x5151, media_ssrc, seqs, absl::MakeSpan(out)));
  return out;
}

Bytes MakeReceiverReport() {
  Bytes out(64);
  out.resize(rtp::BuildReceiverReport(0x5151, {}, absl::MakeSpan(out)));
  return out;
}

bool IsRtp(absl::Span<const uint8_t> bytes) {
  return rtp::Classify(bytes) == rtp::PacketKind::kRtp;
}

uint16_t SeqOf(absl::Span<const uint8_t> rtp) {
  return static_cast<uint16_t>(rtp[2] << 8 | rtp[3]);
}

}  // namespace cascade::relay::testing
