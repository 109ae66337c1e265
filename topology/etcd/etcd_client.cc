#include "topology/etcd/etcd_client.h"

#include <algorithm>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "topology/etcd/pem.h"

namespace cascade::topology::etcd {
namespace {

// Codes that say "this member cannot serve now": another may.
bool Retriable(grpc::StatusCode code) {
  return code == grpc::StatusCode::UNAVAILABLE ||
         code == grpc::StatusCode::DEADLINE_EXCEEDED;
}

absl::Status ToAbsl(const grpc::Status& status, absl::string_view endpoint,
                    absl::string_view what) {
  return absl::Status(
      static_cast<absl::StatusCode>(status.error_code()),
      absl::StrCat("etcd ", endpoint, " ", what, ": ", status.error_message()));
}

std::shared_ptr<grpc::ChannelCredentials> Credentials(
    const std::optional<EtcdTls>& tls) {
  if (!tls.has_value()) return grpc::InsecureChannelCredentials();
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = tls->ca;
  ssl.pem_cert_chain = tls->cert;
  ssl.pem_private_key = tls->key;
  return grpc::SslCredentials(ssl);
}

std::shared_ptr<grpc::Channel> MakeChannel(
    const std::string& endpoint, absl::Duration call_timeout,
    const std::shared_ptr<grpc::ChannelCredentials>& credentials) {
  grpc::ChannelArguments args;
  // A Recover reads every change since the last snapshot in one answer.
  args.SetMaxReceiveMessageSize(256 << 20);
  // A restarted member is used again within a second or two, not after
  // gRPC's default backoff of up to two minutes. The "minimum" is gRPC's
  // connect timeout: not shorter than a loaded machine needs, nor than a
  // call may take (a member whose HTTP/2 handshake takes longer than a
  // second, behind a slow link, would otherwise never connect).
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS,
              static_cast<int>(std::max<int64_t>(
                  1000, absl::ToInt64Milliseconds(call_timeout))));
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 2000);
  // A member that hangs (rather than closes its sockets) breaks a watch
  // stream within 13 s. etcd refuses pings more often than every 5 s.
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 10000);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 3000);
  args.SetInt(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
  return grpc::CreateCustomChannel(endpoint, credentials, args);
}

}  // namespace

absl::StatusOr<EtcdUrl> ParseEtcdUrl(absl::string_view url) {
  absl::string_view rest = url;
  if (!absl::ConsumePrefix(&rest, "etcd://")) {
    return absl::InvalidArgumentError(
        absl::StrCat("etcd store '", url,
                     "' must look like etcd://host:port[,host:port] (members "
                     "may be written http://host:port or https://host:port)"));
  }
  EtcdUrl parsed;
  for (absl::string_view endpoint : absl::StrSplit(rest, ',')) {
    std::string scheme;
    if (absl::ConsumePrefix(&endpoint, "https://")) {
      scheme = "https";
    } else if (absl::ConsumePrefix(&endpoint, "http://")) {
      scheme = "http";
    }
    if (!parsed.endpoints.empty() && scheme != parsed.scheme) {
      return absl::InvalidArgumentError(absl::StrCat(
          "etcd store '", url,
          "': every member must be written with the same scheme (all "
          "https://, all http:// or none)"));
    }
    parsed.scheme = scheme;
    size_t colon = endpoint.rfind(':');
    uint32_t port = 0;
    // A '/' is a scheme other than http(s) or a path.
    if (colon == absl::string_view::npos || colon == 0 ||
        absl::StrContains(endpoint, '/') ||
        !absl::SimpleAtoi(endpoint.substr(colon + 1), &port) || port == 0 ||
        port > 65535) {
      return absl::InvalidArgumentError(absl::StrCat("etcd store '", url,
                                                     "': endpoint '", endpoint,
                                                     "' is not host:port"));
    }
    parsed.endpoints.emplace_back(endpoint);
  }
  return parsed;
}

std::string PrefixEnd(absl::string_view prefix) {
  std::string end(prefix);
  while (!end.empty()) {
    unsigned char last = static_cast<unsigned char>(end.back());
    if (last < 0xff) {
      end.back() = static_cast<char>(last + 1);
      return end;
    }
    end.pop_back();
  }
  // Every key starts with the empty prefix: etcd reads "\0" as "no end".
  return std::string(1, '\0');
}

EtcdClient::EtcdClient(EtcdClientOptions options)
    : options_(std::move(options)) {}

absl::StatusOr<std::unique_ptr<EtcdClient>> EtcdClient::Create(
    EtcdClientOptions options) {
  if (options.endpoints.empty()) {
    return absl::InvalidArgumentError("etcd client: no endpoints");
  }
  if (options.call_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("etcd client: call_timeout must be > 0");
  }
  if (options.tls.has_value()) {
    // Checked now: gRPC would only report a channel that never connects
    // (and, given no CA, trust the system's roots instead).
    const EtcdTls& tls = *options.tls;
    if (absl::Status ca = CheckCertificatesPem(tls.ca); !ca.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("etcd client: TLS CA: ", ca.message()));
    }
    if (tls.cert.empty() != tls.key.empty()) {
      return absl::InvalidArgumentError(
          "etcd client: a client certificate needs its key and a key its "
          "certificate");
    }
    if (!tls.cert.empty()) {
      absl::Status pair = CheckCertificatesPem(tls.cert);
      if (pair.ok()) pair = CheckKeyPairPem(tls.cert, tls.key);
      if (!pair.ok()) {
        return absl::InvalidArgumentError(absl::StrCat(
            "etcd client: TLS client certificate: ", pair.message()));
      }
    }
  }
  const std::shared_ptr<grpc::ChannelCredentials> credentials =
      Credentials(options.tls);
  const char* scheme = options.tls.has_value() ? "https://" : "http://";
  std::unique_ptr<EtcdClient> client(new EtcdClient(std::move(options)));
  for (const std::string& endpoint : client->options_.endpoints) {
    Member member;
    member.endpoint = endpoint;
    member.name = absl::StrCat(scheme, endpoint);
    // Channels connect lazily: a member that is down now costs nothing.
    member.channel =
        MakeChannel(endpoint, client->options_.call_timeout, credentials);
    member.kv = etcdserverpb::KV::NewStub(member.channel);
    member.lease = etcdserverpb::Lease::NewStub(member.channel);
    member.watch = etcdserverpb::Watch::NewStub(member.channel);
    client->members_.push_back(std::move(member));
  }
  EtcdClient* raw = client.get();
  client->connectivity_thread_ =
      std::thread([raw] { raw->WatchConnectivity(); });
  return client;
}

EtcdClient::~EtcdClient() {
  {
    // No watch may be armed on the queue once it is shut down.
    absl::MutexLock lock(&connectivity_mu_);
    stopping_ = true;
    connectivity_.Shutdown();
  }
  if (connectivity_thread_.joinable()) connectivity_thread_.join();
}

void EtcdClient::ArmConnectivityWatch(size_t index) {
  grpc::Channel& channel = *members_[index].channel;
  // The short timeout bounds how long the destructor waits for the queue
  // to drain.
  channel.NotifyOnStateChange(
      channel.GetState(/*try_to_connect=*/true),
      absl::ToChronoTime(absl::Now() + absl::Milliseconds(250)), &connectivity_,
      reinterpret_cast<void*>(index));
}

void EtcdClient::WatchConnectivity() {
  {
    absl::MutexLock lock(&connectivity_mu_);
    if (stopping_) return;
    for (size_t i = 0; i < members_.size(); ++i) ArmConnectivityWatch(i);
  }
  void* tag = nullptr;
  bool ok = false;
  while (connectivity_.Next(&tag, &ok)) {
    absl::MutexLock lock(&connectivity_mu_);
    if (!stopping_) ArmConnectivityWatch(reinterpret_cast<size_t>(tag));
  }
}

std::string EtcdClient::CurrentEndpoint() const {
  return members_[current_.load()].endpoint;
}

void EtcdClient::FailedOver(size_t failed) {
  size_t next = (failed + 1) % members_.size();
  // Only the first thread to see this member fail moves on.
  current_.compare_exchange_strong(failed, next);
}

template <typename Call>
absl::Status EtcdClient::WithFailover(absl::string_view what,
                                      absl::Duration timeout,
                                      const Call& call) {
  absl::Status last;
  const size_t attempts = members_.size() + 1;
  for (size_t attempt = 0; attempt < attempts; ++attempt) {
    const size_t index = current_.load();
    Member& member = members_[index];
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
    grpc::Status status = call(member, &context);
    if (status.ok()) return absl::OkStatus();
    last = ToAbsl(status, member.name, what);
    if (!Retriable(status.error_code())) return last;
    FailedOver(index);
  }
  return last;
}

absl::StatusOr<etcdserverpb::RangeResponse> EtcdClient::Range(
    const etcdserverpb::RangeRequest& request) {
  etcdserverpb::RangeResponse response;
  absl::Status status =
      WithFailover("Range", options_.call_timeout,
                   [&](Member& member, grpc::ClientContext* context) {
                     return member.kv->Range(context, request, &response);
                   });
  if (!status.ok()) return status;
  return response;
}

absl::StatusOr<etcdserverpb::PutResponse> EtcdClient::Put(
    const etcdserverpb::PutRequest& request) {
  etcdserverpb::PutResponse response;
  absl::Status status =
      WithFailover("Put", options_.call_timeout,
                   [&](Member& member, grpc::ClientContext* context) {
                     return member.kv->Put(context, request, &response);
                   });
  if (!status.ok()) return status;
  return response;
}

absl::StatusOr<etcdserverpb::TxnResponse> EtcdClient::Txn(
    const etcdserverpb::TxnRequest& request) {
  etcdserverpb::TxnResponse response;
  absl::Status status =
      WithFailover("Txn", options_.call_timeout,
                   [&](Member& member, grpc::ClientContext* context) {
                     return member.kv->Txn(context, request, &response);
                   });
  if (!status.ok()) return status;
  return response;
}

absl::StatusOr<etcdserverpb::LeaseGrantResponse> EtcdClient::LeaseGrant(
    absl::Duration ttl) {
  etcdserverpb::LeaseGrantRequest request;
  request.set_ttl(std::max<int64_t>(1, absl::ToInt64Seconds(ttl)));
  etcdserverpb::LeaseGrantResponse response;
  absl::Status status = WithFailover(
      "LeaseGrant", options_.call_timeout,
      [&](Member& member, grpc::ClientContext* context) {
        return member.lease->LeaseGrant(context, request, &response);
      });
  if (!status.ok()) return status;
  if (!response.error().empty()) {
    return absl::UnavailableError(
        absl::StrCat("etcd LeaseGrant: ", response.error()));
  }
  return response;
}

absl::Status EtcdClient::LeaseRevoke(int64_t lease_id) {
  etcdserverpb::LeaseRevokeRequest request;
  request.set_id(lease_id);
  etcdserverpb::LeaseRevokeResponse response;
  return WithFailover("LeaseRevoke", options_.call_timeout,
                      [&](Member& member, grpc::ClientContext* context) {
                        return member.lease->LeaseRevoke(context, request,
                                                         &response);
                      });
}

absl::StatusOr<int64_t> EtcdClient::LeaseKeepAlive(int64_t lease_id,
                                                   absl::Duration timeout) {
  int64_t remaining = 0;
  absl::Status status = WithFailover(
      "LeaseKeepAlive", timeout,
      [&](Member& member, grpc::ClientContext* context) {
        // One request and one answer on a stream of its own, so the
        // deadline covers both and a dead member cannot hold it open.
        auto stream = member.lease->LeaseKeepAlive(context);
        etcdserverpb::LeaseKeepAliveRequest request;
        request.set_id(lease_id);
        etcdserverpb::LeaseKeepAliveResponse response;
        if (!stream->Write(request) || !stream->Read(&response)) {
          grpc::Status finished = stream->Finish();
          return finished.ok() ? grpc::Status(grpc::StatusCode::UNAVAILABLE,
                                              "stream ended without an answer")
                               : finished;
        }
        stream->WritesDone();
        stream->Finish();
        remaining = response.ttl();
        return grpc::Status::OK;
      });
  if (!status.ok()) return status;
  if (remaining <= 0) {
    return absl::NotFoundError(
        absl::StrCat("etcd lease ", lease_id, " has expired or was revoked"));
  }
  return remaining;
}

EtcdWatch::EtcdWatch(EtcdClient* client, std::string key, std::string range_end,
                     int64_t start_revision)
    : client_(client),
      key_(std::move(key)),
      range_end_(std::move(range_end)),
      next_revision_(start_revision) {}

EtcdWatch::~EtcdWatch() { Close(); }

void EtcdWatch::Cancel() {
  absl::MutexLock lock(&mu_);
  cancelled_ = true;
  if (live_context_ != nullptr) live_context_->TryCancel();
}

void EtcdWatch::Close() {
  {
    absl::MutexLock lock(&mu_);
    live_context_ = nullptr;
  }
  if (stream_ != nullptr) {
    context_->TryCancel();
    stream_->Finish();
  }
  stream_.reset();
  context_.reset();
}

absl::Status EtcdWatch::Open() {
  member_ = client_->current_.load();
  const EtcdClient::Member& member = client_->members_[member_];
  context_ = std::make_unique<grpc::ClientContext>();
  // etcd then ends the watch when this member loses its raft leader, instead
  // of leaving it silent while the rest of the cluster moves on.
  context_->AddMetadata("hasleader", "true");
  {
    absl::MutexLock lock(&mu_);
    if (cancelled_) return absl::CancelledError("watch cancelled");
    live_context_ = context_.get();
  }
  stream_ = member.watch->Watch(context_.get());
  etcdserverpb::WatchRequest request;
  auto* create = request.mutable_create_request();
  create->set_key(key_);
  create->set_range_end(range_end_);
  create->set_start_revision(next_revision_);
  etcdserverpb::WatchResponse response;
  if (!stream_->Write(request) || !stream_->Read(&response)) {
    grpc::Status status = stream_->Finish();
    stream_.reset();
    return ToAbsl(status, member.name, "Watch");
  }
  if (!response.created()) {
    return absl::UnavailableError(absl::StrCat(
        "etcd ", member.name, " Watch: no confirmation of the watch"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<mvccpb::Event>> EtcdWatch::Next() {
  absl::Status last = absl::UnavailableError("watch never opened");
  const size_t attempts = client_->members_.size() + 1;
  for (size_t attempt = 0; attempt < attempts; ++attempt) {
    if (stream_ == nullptr) {
      absl::Status status = Open();
      if (!status.ok()) {
        Close();
        {
          absl::MutexLock lock(&mu_);
          if (cancelled_) return absl::CancelledError("watch cancelled");
        }
        last = status;
        client_->FailedOver(member_);
        continue;
      }
    }
    etcdserverpb::WatchResponse response;
    // Set when etcd ends the watch itself (e.g. "no leader") but keeps the
    // stream open.
    std::string cancel_reason;
    while (stream_->Read(&response)) {
      if (response.compact_revision() != 0) {
        Close();
        return absl::OutOfRangeError(absl::StrCat(
            "watch of ", key_, ": revision ", next_revision_,
            " was compacted (oldest kept: ", response.compact_revision(), ")"));
      }
      if (response.canceled()) {
        cancel_reason =
            absl::StrCat("cancelled by etcd: ", response.cancel_reason());
        break;
      }
      if (response.events().empty()) continue;
      next_revision_ =
          response.events(response.events_size() - 1).kv().mod_revision() + 1;
      return std::vector<mvccpb::Event>(response.events().begin(),
                                        response.events().end());
    }
    grpc::Status status =
        cancel_reason.empty()
            ? stream_->Finish()
            : grpc::Status(grpc::StatusCode::UNAVAILABLE, cancel_reason);
    last = ToAbsl(status, client_->members_[member_].name, "Watch");
    // A finished stream must not be finished again.
    if (cancel_reason.empty()) stream_.reset();
    Close();
    {
      absl::MutexLock lock(&mu_);
      if (cancelled_) return absl::CancelledError("watch cancelled");
    }
    client_->FailedOver(member_);
  }
  return absl::UnavailableError(absl::StrCat(
      "watch of ", key_, ": no etcd member serves it; last: ", last.message()));
}

}  // namespace cascade::topology::etcd
