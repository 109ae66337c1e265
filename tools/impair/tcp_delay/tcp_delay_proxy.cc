#include "tools/impair/tcp_delay/tcp_delay_proxy.h"

#include <algorithm>
#include <deque>
#include <limits>
#include <optional>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace cascade {
namespace {

constexpr size_t kReadSize = 64 << 10;
constexpr int kBacklog = 128;

uint64_t NowNs() { return uv_hrtime(); }

uint64_t ToNs(absl::Duration d) {
  return static_cast<uint64_t>(absl::ToInt64Nanoseconds(d));
}

uv_stream_t* Stream(uv_tcp_t* tcp) {
  return reinterpret_cast<uv_stream_t*>(tcp);
}

void AllocateRead(uv_handle_t*, size_t, uv_buf_t* buf) {
  *buf = uv_buf_init(new char[kReadSize], kReadSize);
}

// A write in flight: owns its bytes until libuv is done with them.
struct WriteRequest {
  uv_write_t request;
  std::string data;
};

}  // namespace

absl::Status ValidateTcpDelayOptions(const TcpDelayOptions& options) {
  for (auto [name, delay] :
       {std::pair{"to_target_delay", options.to_target_delay},
        {"to_client_delay", options.to_client_delay}}) {
    if (delay < absl::ZeroDuration() || delay > absl::Hours(1)) {
      return absl::InvalidArgumentError(absl::StrCat(
          name, " must be within 0..1h, not ", absl::FormatDuration(delay)));
    }
  }
  if (options.max_held_bytes < kReadSize) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_held_bytes must be at least ", kReadSize,
                     " (one read), not ", options.max_held_bytes));
  }
  if (options.max_connections < 1) {
    return absl::InvalidArgumentError("max_connections must be at least 1");
  }
  return absl::OkStatus();
}

std::string FormatCounters(const TcpDelayCounters& c) {
  return absl::StrCat("accepted=", c.accepted, " open=", c.open,
                      " target_unreachable=", c.target_unreachable,
                      " closed_over_limit=", c.closed_over_limit,
                      " refused_connections=", c.refused_connections,
                      " errors=", c.errors,
                      " bytes_to_target=", c.bytes_to_target,
                      " bytes_to_client=", c.bytes_to_client,
                      " max_held_bytes=", c.max_held_bytes);
}

// One client connection and its connection to the target. Callbacks find it
// through its handles' `data`, which UvHandle clears when it closes them, so
// nothing reaches a connection that is gone (requests still in flight are
// then cancelled and only free themselves).
class TcpDelayProxy::Connection {
 public:
  Connection(TcpDelayProxy* proxy, uint64_t number)
      : proxy_(proxy), number_(number) {
    proxy_->counters_.open.fetch_add(1);
  }
  ~Connection() { proxy_->counters_.open.fetch_sub(1); }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Accepts the pending client on `server` and connects to the target.
  // False when that failed (the caller removes this connection).
  bool Start(uv_stream_t* server) {
    uv_loop_t* loop = proxy_->loop_;
    client_ = UvHandle<uv_tcp_t>::Make();
    if (uv_tcp_init(loop, client_.get()) != 0) {
      delete client_.release_uninitialised();
      return false;
    }
    client_.get()->data = this;
    if (uv_accept(server, Stream(client_.get())) != 0) return false;
    uv_tcp_nodelay(client_.get(), 1);
    sockaddr_storage peer{};
    int length = sizeof(peer);
    if (uv_tcp_getpeername(client_.get(), reinterpret_cast<sockaddr*>(&peer),
                           &length) == 0) {
      client_address_ =
          SocketAddress::FromSockaddr(reinterpret_cast<sockaddr*>(&peer))
              .ToString();
    }
    target_ = UvHandle<uv_tcp_t>::Make();
    if (uv_tcp_init(loop, target_.get()) != 0) {
      delete target_.release_uninitialised();
      return false;
    }
    target_.get()->data = this;
    timer_ = UvHandle<uv_timer_t>::Make();
    if (uv_timer_init(loop, timer_.get()) != 0) {
      delete timer_.release_uninitialised();
      return false;
    }
    timer_.get()->data = this;
    to_target_.delay_ns = ToNs(proxy_->options_.to_target_delay);
    to_client_.delay_ns = ToNs(proxy_->options_.to_client_delay);

    auto* connect = new uv_connect_t;
    if (int rc = uv_tcp_connect(connect, target_.get(),
                                proxy_->options_.target.get(), &OnConnected);
        rc != 0) {
      delete connect;
      proxy_->counters_.target_unreachable.fetch_add(1);
      Log(absl::StrCat("cannot connect to the target: ", uv_strerror(rc)));
      return false;
    }
    return uv_read_start(Stream(client_.get()), &AllocateRead, &OnRead) == 0;
  }

 private:
  struct Chunk {
    std::string data;
    uint64_t due_ns;
  };
  // One direction.
  struct Pipe {
    uint64_t delay_ns = 0;
    std::deque<Chunk> queue;
    // When the end of stream read from the source is due at the other side.
    std::optional<uint64_t> end_due_ns;
    bool shutdown_started = false;
    bool shutdown_done = false;
  };

  static Connection* Of(uv_handle_t* handle) {
    return static_cast<Connection*>(handle->data);
  }

  void Log(const std::string& what) const {
    if (proxy_->options_.log) {
      proxy_->options_.log(absl::StrCat("connection ", number_, " from ",
                                        client_address_, ": ", what));
    }
  }

  // Destroys this connection: nothing may touch it afterwards. `why`, when
  // not empty, goes to the log.
  void Close(std::atomic<uint64_t>* counter, const std::string& why = "") {
    if (counter != nullptr) counter->fetch_add(1);
    if (!why.empty()) Log(absl::StrCat(why, "; closed"));
    proxy_->Remove(this);
  }

  bool IsTarget(const uv_stream_t* stream) const {
    return stream == Stream(target_.get());
  }

  static void OnConnected(uv_connect_t* request, int status) {
    uv_stream_t* stream = request->handle;
    delete request;
    Connection* self = Of(reinterpret_cast<uv_handle_t*>(stream));
    if (self == nullptr) return;  // closed meanwhile
    if (status != 0) {
      self->Close(
          &self->proxy_->counters_.target_unreachable,
          absl::StrCat("cannot connect to the target: ", uv_strerror(status)));
      return;
    }
    self->connected_ = true;
    uv_tcp_nodelay(self->target_.get(), 1);
    if (int rc = uv_read_start(stream, &AllocateRead, &OnRead); rc != 0) {
      self->Close(&self->proxy_->counters_.errors,
                  absl::StrCat("cannot read the target: ", uv_strerror(rc)));
      return;
    }
    self->Flush();
  }

  static void OnRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
    std::unique_ptr<char[]> owned(buf->base);
    Connection* self = Of(reinterpret_cast<uv_handle_t*>(stream));
    if (self == nullptr || nread == 0) return;
    Pipe& pipe = self->IsTarget(stream) ? self->to_client_ : self->to_target_;
    const uint64_t now = NowNs();
    if (nread == UV_EOF) {
      uv_read_stop(stream);
      pipe.end_due_ns = now + pipe.delay_ns;
      self->Flush();
      return;
    }
    if (nread < 0) {
      self->Close(&self->proxy_->counters_.errors,
                  absl::StrCat("reading the ",
                               self->IsTarget(stream) ? "target" : "client",
                               ": ", uv_strerror(static_cast<int>(nread))));
      return;
    }
    self->held_ += static_cast<size_t>(nread);
    if (self->held_ > self->proxy_->options_.max_held_bytes) {
      self->Close(
          &self->proxy_->counters_.closed_over_limit,
          absl::StrCat("more than ", self->proxy_->options_.max_held_bytes,
                       " bytes held"));
      return;
    }
    std::atomic<uint64_t>& most = self->proxy_->counters_.max_held_bytes;
    if (self->held_ > most.load()) most.store(self->held_);
    pipe.queue.push_back(
        Chunk{std::string(buf->base, static_cast<size_t>(nread)),
              now + pipe.delay_ns});
    self->Flush();
  }

  static void OnWritten(uv_write_t* request, int status) {
    std::unique_ptr<WriteRequest> write(
        static_cast<WriteRequest*>(request->data));
    Connection* self =
        Of(reinterpret_cast<uv_handle_t*>(write->request.handle));
    if (self == nullptr) return;
    if (status != 0) {
      self->Close(&self->proxy_->counters_.errors,
                  absl::StrCat("writing to the ",
                               self->IsTarget(write->request.handle) ? "target"
                                                                     : "client",
                               ": ", uv_strerror(status)));
      return;
    }
    self->held_ -= write->data.size();
    (self->IsTarget(write->request.handle)
         ? self->proxy_->counters_.bytes_to_target
         : self->proxy_->counters_.bytes_to_client)
        .fetch_add(write->data.size());
  }

  static void OnShutdown(uv_shutdown_t* request, int status) {
    uv_stream_t* stream = request->handle;
    delete request;
    Connection* self = Of(reinterpret_cast<uv_handle_t*>(stream));
    if (self == nullptr) return;
    if (status != 0) {
      self->Close(&self->proxy_->counters_.errors,
                  absl::StrCat("ending the stream: ", uv_strerror(status)));
      return;
    }
    Pipe& pipe = self->IsTarget(stream) ? self->to_target_ : self->to_client_;
    pipe.shutdown_done = true;
    // Both ways ended and everything written: done.
    if (self->to_target_.shutdown_done && self->to_client_.shutdown_done) {
      self->Close(nullptr);
    }
  }

  static void OnTimer(uv_timer_t* timer) {
    Connection* self = Of(reinterpret_cast<uv_handle_t*>(timer));
    if (self != nullptr) self->Flush();
  }

  // Writes what is due in both directions, passes on a due end of stream,
  // and sets the timer for what is due next. A failure closes the
  // connection (it is gone on return then).
  void Flush() {
    const uint64_t now = NowNs();
    uint64_t next = std::numeric_limits<uint64_t>::max();
    for (bool to_target : {true, false}) {
      // Nothing goes to the target before it is connected.
      if (to_target && !connected_) continue;
      Pipe& pipe = to_target ? to_target_ : to_client_;
      uv_stream_t* destination =
          Stream(to_target ? target_.get() : client_.get());
      while (!pipe.queue.empty() && pipe.queue.front().due_ns <= now) {
        auto write = std::make_unique<WriteRequest>();
        write->data = std::move(pipe.queue.front().data);
        pipe.queue.pop_front();
        write->request.data = write.get();
        uv_buf_t buf = uv_buf_init(write->data.data(),
                                   static_cast<unsigned>(write->data.size()));
        if (int rc =
                uv_write(&write->request, destination, &buf, 1, &OnWritten);
            rc != 0) {
          Close(&proxy_->counters_.errors,
                absl::StrCat("writing: ", uv_strerror(rc)));
          return;
        }
        write.release();  // OnWritten frees it
      }
      if (!pipe.queue.empty()) {
        next = std::min(next, pipe.queue.front().due_ns);
      } else if (pipe.end_due_ns && !pipe.shutdown_started) {
        if (*pipe.end_due_ns <= now) {
          pipe.shutdown_started = true;
          auto* shutdown = new uv_shutdown_t;
          if (int rc = uv_shutdown(shutdown, destination, &OnShutdown);
              rc != 0) {
            delete shutdown;
            Close(&proxy_->counters_.errors,
                  absl::StrCat("ending the stream: ", uv_strerror(rc)));
            return;
          }
        } else {
          next = std::min(next, *pipe.end_due_ns);
        }
      }
    }
    if (next == std::numeric_limits<uint64_t>::max()) {
      uv_timer_stop(timer_.get());
      return;
    }
    // libuv's timers count whole milliseconds: round up, never early.
    const uint64_t wait_ms = (next - now + 999'999) / 1'000'000;
    uv_timer_start(timer_.get(), &OnTimer, wait_ms, 0);
  }

  TcpDelayProxy* const proxy_;
  const uint64_t number_;  // 1 for the first connection accepted
  std::string client_address_;
  UvHandle<uv_tcp_t> client_;
  UvHandle<uv_tcp_t> target_;
  UvHandle<uv_timer_t> timer_;
  bool connected_ = false;
  Pipe to_target_;
  Pipe to_client_;
  // Bytes read and not yet taken by the kernel, both directions.
  size_t held_ = 0;
};

TcpDelayProxy::TcpDelayProxy(uv_loop_t* loop, const TcpDelayOptions& options)
    : loop_(loop), options_(options) {}

absl::StatusOr<std::unique_ptr<TcpDelayProxy>> TcpDelayProxy::Create(
    uv_loop_t* loop, const TcpDelayOptions& options) {
  if (absl::Status valid = ValidateTcpDelayOptions(options); !valid.ok()) {
    return valid;
  }
  std::unique_ptr<TcpDelayProxy> proxy(new TcpDelayProxy(loop, options));
  proxy->listener_ = UvHandle<uv_tcp_t>::Make();
  if (int rc = uv_tcp_init(loop, proxy->listener_.get()); rc != 0) {
    delete proxy->listener_.release_uninitialised();
    return absl::InternalError(absl::StrCat("uv_tcp_init: ", uv_strerror(rc)));
  }
  uv_tcp_t* listener = proxy->listener_.get();
  listener->data = proxy.get();
  if (int rc = uv_tcp_bind(listener, options.listen.get(), 0); rc != 0) {
    return absl::UnavailableError(absl::StrCat(
        "cannot bind ", options.listen.ToString(), ": ", uv_strerror(rc)));
  }
  if (int rc = uv_listen(Stream(listener), kBacklog,
                         [](uv_stream_t* server, int status) {
                           auto* self =
                               static_cast<TcpDelayProxy*>(server->data);
                           if (self != nullptr && status == 0) {
                             self->OnConnection();
                           }
                         });
      rc != 0) {
    return absl::UnavailableError(absl::StrCat(
        "cannot listen on ", options.listen.ToString(), ": ", uv_strerror(rc)));
  }
  sockaddr_storage bound{};
  int length = sizeof(bound);
  uv_tcp_getsockname(listener, reinterpret_cast<sockaddr*>(&bound), &length);
  proxy->listen_address_ =
      SocketAddress::FromSockaddr(reinterpret_cast<sockaddr*>(&bound));
  return proxy;
}

TcpDelayProxy::~TcpDelayProxy() {
  connections_.clear();
  listener_.Reset();
}

void TcpDelayProxy::OnConnection() {
  if (static_cast<int>(connections_.size()) >= options_.max_connections) {
    // Accepted only to be closed at once: left pending, libuv would call
    // again and again.
    UvHandle<uv_tcp_t> refused = UvHandle<uv_tcp_t>::Make();
    if (uv_tcp_init(loop_, refused.get()) != 0) {
      delete refused.release_uninitialised();
      return;
    }
    uv_accept(Stream(listener_.get()), Stream(refused.get()));
    counters_.refused_connections.fetch_add(1);
    return;
  }
  const uint64_t number = counters_.accepted.fetch_add(1) + 1;
  auto connection = std::make_unique<Connection>(this, number);
  Connection* raw = connection.get();
  connections_[raw] = std::move(connection);
  if (!raw->Start(Stream(listener_.get()))) Remove(raw);
}

void TcpDelayProxy::Remove(Connection* connection) {
  connections_.erase(connection);
}

TcpDelayCounters TcpDelayProxy::counters() const {
  TcpDelayCounters c;
  c.accepted = counters_.accepted.load();
  c.open = counters_.open.load();
  c.target_unreachable = counters_.target_unreachable.load();
  c.closed_over_limit = counters_.closed_over_limit.load();
  c.refused_connections = counters_.refused_connections.load();
  c.errors = counters_.errors.load();
  c.bytes_to_target = counters_.bytes_to_target.load();
  c.bytes_to_client = counters_.bytes_to_client.load();
  c.max_held_bytes = counters_.max_held_bytes.load();
  return c;
}

}  // namespace cascade
