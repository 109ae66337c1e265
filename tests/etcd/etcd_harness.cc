#include "tests/etcd/etcd_harness.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "tests/common/wait.h"
#include "topology/etcd/etcd_client.h"

namespace cascade::testing {
namespace {

constexpr absl::Duration kStartTimeout = absl::Seconds(20);

// `count` ports the kernel chose on 127.0.0.1, all free just now (held open
// together so none is handed out twice).
absl::StatusOr<std::vector<int>> FreeLoopbackPorts(int count) {
  std::vector<int> fds;
  std::vector<int> ports;
  absl::Status status;
  for (int i = 0; i < count && status.ok(); ++i) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) {
      status = absl::InternalError("socket failed");
      break;
    }
    fds.push_back(fd);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof(address);
    if (bind(fd, reinterpret_cast<sockaddr*>(&address), length) != 0 ||
        getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
      status = absl::InternalError("bind to 127.0.0.1:0 failed");
      break;
    }
    ports.push_back(ntohs(address.sin_port));
  }
  for (int fd : fds) close(fd);
  if (!status.ok()) return status;
  return ports;
}

}  // namespace

std::string TestDir() {
  const char* dir = std::getenv("TEST_TMPDIR");
  return dir != nullptr ? dir : "/tmp";
}

absl::StatusOr<std::unique_ptr<EtcdCluster>> EtcdCluster::Start(
    int members, const std::string& dir, EtcdTransport transport) {
  const std::string etcd = FindOnPath("etcd").value_or("");
  if (etcd.empty()) {
    return absl::FailedPreconditionError(
        "etcd is not installed: these tests need Debian's etcd-server package "
        "(./dev installs it; or apt-get install etcd-server)");
  }
  absl::StatusOr<std::vector<int>> ports = FreeLoopbackPorts(2 * members);
  if (!ports.ok()) return ports.status();
  auto cluster = std::unique_ptr<EtcdCluster>(new EtcdCluster());
  mkdir(dir.c_str(), 0700);
  const bool tls = transport == EtcdTransport::kMutualTls;
  if (tls) {
    absl::StatusOr<TestPki> pki = MakeTestPki(dir + "/pki");
    if (!pki.ok()) return pki.status();
    absl::StatusOr<topology::etcd::EtcdTls> client_tls = pki->ClientTls();
    if (!client_tls.ok()) return client_tls.status();
    cluster->pki_ = *std::move(pki);
    cluster->tls_ = *std::move(client_tls);
  }
  const char* scheme = tls ? "https://" : "http://";
  std::vector<std::string> peers;
  for (int i = 0; i < members; ++i) {
    peers.push_back(
        absl::StrCat("m", i, "=http://127.0.0.1:", (*ports)[2 * i + 1]));
  }
  for (int i = 0; i < members; ++i) {
    const std::string client = absl::StrCat("127.0.0.1:", (*ports)[2 * i]);
    const std::string peer =
        absl::StrCat("http://127.0.0.1:", (*ports)[2 * i + 1]);
    const std::string base = absl::StrCat(dir, "/m", i);
    std::vector<std::string> argv = {
        etcd,
        absl::StrCat("--name=m", i),
        absl::StrCat("--data-dir=", base, ".data"),
        absl::StrCat("--listen-client-urls=", scheme, client),
        absl::StrCat("--advertise-client-urls=", scheme, client),
        absl::StrCat("--listen-peer-urls=", peer),
        absl::StrCat("--initial-advertise-peer-urls=", peer),
        absl::StrCat("--initial-cluster=", absl::StrJoin(peers, ",")),
        "--initial-cluster-state=new",
        "--initial-cluster-token=cascade-test",
        // Fast raft elections: a stopped member's role moves in about a
        // second on loopback.
        "--heartbeat-interval=50",
        "--election-timeout=500",
        "--log-level=warn",
        "--logger=zap",
    };
    if (tls) {
      argv.insert(argv.end(), {"--client-cert-auth",
                               "--trusted-ca-file=" + cluster->pki_.ca,
                               "--cert-file=" + cluster->pki_.server_cert,
                               "--key-file=" + cluster->pki_.server_key});
    }
    absl::StatusOr<std::unique_ptr<Subprocess>> process =
        Subprocess::Start(argv, {base + ".out", base + ".err"});
    if (!process.ok()) return process.status();
    cluster->processes_.push_back(std::move(*process));
    cluster->endpoints_.push_back(client);
  }
  // Ready when every member answers a read on its own.
  const absl::Time deadline = absl::Now() + kStartTimeout;
  for (int i = 0; i < members; ++i) {
    topology::etcd::EtcdClientOptions options = cluster->ClientOptions();
    options.endpoints = {cluster->endpoints_[i]};
    options.call_timeout = absl::Milliseconds(500);
    absl::StatusOr<std::unique_ptr<topology::etcd::EtcdClient>> client =
        topology::etcd::EtcdClient::Create(std::move(options));
    if (!client.ok()) return client.status();
    etcdserverpb::RangeRequest probe;
    probe.set_key("/cascade/probe");
    absl::Status last;
    if (!WaitUntil(absl::StrCat("etcd member ", i, " answers"),
                   deadline - absl::Now(), [&] {
                     last = (*client)->Range(probe).status();
                     return last.ok();
                   })) {
      return absl::DeadlineExceededError(absl::StrCat(
          "etcd member ", i, " not ready in ",
          absl::FormatDuration(kStartTimeout), ": ", last.message(),
          "; its log: ", ReadFile(absl::StrCat(dir, "/m", i, ".err"))));
    }
  }
  return cluster;
}

std::string EtcdCluster::Url() const {
  const std::string scheme = tls_.has_value() ? "https://" : "http://";
  return absl::StrCat(
      "etcd://",
      absl::StrJoin(endpoints_, ",", [&](std::string* out, const auto& e) {
        absl::StrAppend(out, scheme, e);
      }));
}

topology::etcd::EtcdClientOptions EtcdCluster::ClientOptions() const {
  topology::etcd::EtcdClientOptions options;
  options.endpoints = endpoints_;
  options.tls = tls_;
  return options;
}

std::vector<std::string> EtcdCluster::TopologydFlags() const {
  std::vector<std::string> flags = {"--store=" + Url()};
  if (tls_.has_value()) {
    flags.insert(flags.end(),
                 {"--etcd-ca=" + pki_.ca, "--etcd-cert=" + pki_.client_cert,
                  "--etcd-key=" + pki_.client_key});
  }
  return flags;
}

void EtcdCluster::StopMember(int index) { processes_[index].reset(); }

}  // namespace cascade::testing

namespace cascade::testing {

absl::StatusOr<std::unique_ptr<TcpForwarder>> TcpForwarder::Start(
    const std::string& target) {
  auto forwarder = std::unique_ptr<TcpForwarder>(new TcpForwarder());
  const size_t colon = target.rfind(':');
  if (colon == std::string::npos ||
      !absl::SimpleAtoi(target.substr(colon + 1), &forwarder->target_port_)) {
    return absl::InvalidArgumentError("target is not 127.0.0.1:PORT");
  }
  forwarder->listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(address);
  if (forwarder->listen_fd_ < 0 ||
      bind(forwarder->listen_fd_, reinterpret_cast<sockaddr*>(&address),
           length) != 0 ||
      getsockname(forwarder->listen_fd_, reinterpret_cast<sockaddr*>(&address),
                  &length) != 0 ||
      listen(forwarder->listen_fd_, 16) != 0 ||
      pipe2(forwarder->wake_, O_CLOEXEC) != 0) {
    return absl::InternalError("cannot set up the forwarder's sockets");
  }
  forwarder->port_ = ntohs(address.sin_port);
  TcpForwarder* raw = forwarder.get();
  forwarder->thread_ = std::thread([raw] { raw->Run(); });
  return forwarder;
}

TcpForwarder::~TcpForwarder() {
  Cut();
  for (int fd : wake_) {
    if (fd >= 0) close(fd);
  }
}

std::string TcpForwarder::endpoint() const {
  return absl::StrCat("127.0.0.1:", port_);
}

void TcpForwarder::Cut() {
  if (!thread_.joinable()) return;
  const char byte = 0;
  if (write(wake_[1], &byte, 1) != 1) return;
  thread_.join();
  close(listen_fd_);
  listen_fd_ = -1;
}

void TcpForwarder::Run() {
  // Connections as (accepted, upstream) pairs.
  std::vector<std::pair<int, int>> pairs;
  auto drop = [&](size_t i) {
    close(pairs[i].first);
    close(pairs[i].second);
    pairs.erase(pairs.begin() + static_cast<long>(i));
  };
  while (true) {
    std::vector<pollfd> fds = {{wake_[0], POLLIN, 0}, {listen_fd_, POLLIN, 0}};
    for (const auto& [a, b] : pairs) {
      fds.push_back({a, POLLIN, 0});
      fds.push_back({b, POLLIN, 0});
    }
    if (poll(fds.data(), fds.size(), -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (fds[0].revents != 0) break;
    // Only these pairs were polled; an accepted one is appended after them.
    const size_t polled = pairs.size();
    if (fds[1].revents & POLLIN) {
      int accepted = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      int upstream = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      sockaddr_in address{};
      address.sin_family = AF_INET;
      address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      address.sin_port = htons(static_cast<uint16_t>(target_port_));
      if (accepted >= 0 && upstream >= 0 &&
          connect(upstream, reinterpret_cast<sockaddr*>(&address),
                  sizeof(address)) == 0) {
        pairs.push_back({accepted, upstream});
      } else {
        if (accepted >= 0) close(accepted);
        if (upstream >= 0) close(upstream);
      }
    }
    // Backwards, so dropping a pair keeps the other indices valid.
    for (size_t i = polled; i-- > 0;) {
      for (int side = 0; side < 2; ++side) {
        if (fds[2 + 2 * i + side].revents == 0) continue;
        const int from = side == 0 ? pairs[i].first : pairs[i].second;
        const int to = side == 0 ? pairs[i].second : pairs[i].first;
        char buffer[1 << 16];
        const ssize_t n = read(from, buffer, sizeof(buffer));
        bool ok = n > 0;
        for (ssize_t sent = 0; ok && sent < n;) {
          const ssize_t w = write(to, buffer + sent, n - sent);
          ok = w > 0;
          sent += ok ? w : 0;
        }
        if (!ok) {
          drop(i);
          break;
        }
      }
    }
  }
  while (!pairs.empty()) drop(pairs.size() - 1);
}

}  // namespace cascade::testing
