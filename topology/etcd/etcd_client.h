// A small client for etcd's v3 gRPC API over several cluster members.
//
// Every call carries a deadline. A call that fails because the member is
// unreachable, overloaded or without a raft leader (UNAVAILABLE,
// DEADLINE_EXCEEDED) is retried on the next member, so one stopped member
// costs one failed attempt, not an outage. Other errors (a compare that
// failed is not an error; a request etcd rejects is) come back as they are.
//
// A retried call may have been applied by the member that did not answer:
// writers must be able to recognise their own write (EtcdStore does).
#ifndef CASCADE_TOPOLOGY_ETCD_ETCD_CLIENT_H_
#define CASCADE_TOPOLOGY_ETCD_ETCD_CLIENT_H_

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "proto/etcd/rpc.grpc.pb.h"

namespace cascade::topology::etcd {

// The members a store URL names.
struct EtcdUrl {
  // "host:port" of each member.
  std::vector<std::string> endpoints;
  // "http" or "https" when the members are written with that scheme (all
  // with the same one); empty when they name none.
  std::string scheme;
};

// Parses "etcd://MEMBER[,MEMBER...]", each MEMBER "host:port" or, as etcd's
// --advertise-client-urls writes it, "http://host:port" or
// "https://host:port".
absl::StatusOr<EtcdUrl> ParseEtcdUrl(absl::string_view url);

// The smallest key greater than every key that starts with `prefix`: the
// range_end that makes a Range, DeleteRange or Watch cover the prefix.
std::string PrefixEnd(absl::string_view prefix);

// TLS toward every member, PEM text (not file names).
struct EtcdTls {
  // The CA that signed the members' certificates (etcd's --cert-file).
  std::string ca;
  // The client certificate (chain) and its key, for members that run with
  // --client-cert-auth; both empty: none presented.
  std::string cert;
  std::string key;
};

struct EtcdClientOptions {
  // "host:port" of each member, tried in this order.
  std::vector<std::string> endpoints;
  // Deadline of each attempt on one member.
  absl::Duration call_timeout = absl::Seconds(2);
  // TLS when set, plaintext otherwise; a TLS client never falls back to
  // plaintext.
  std::optional<EtcdTls> tls = std::nullopt;
};

class EtcdWatch;

class EtcdClient {
 public:
  static absl::StatusOr<std::unique_ptr<EtcdClient>> Create(
      EtcdClientOptions options);
  ~EtcdClient();
  EtcdClient(const EtcdClient&) = delete;
  EtcdClient& operator=(const EtcdClient&) = delete;

  absl::StatusOr<etcdserverpb::RangeResponse> Range(
      const etcdserverpb::RangeRequest& request);
  absl::StatusOr<etcdserverpb::PutResponse> Put(
      const etcdserverpb::PutRequest& request);
  absl::StatusOr<etcdserverpb::TxnResponse> Txn(
      const etcdserverpb::TxnRequest& request);

  // A lease of `ttl` (whole seconds, at least one, as etcd counts them).
  absl::StatusOr<etcdserverpb::LeaseGrantResponse> LeaseGrant(
      absl::Duration ttl);
  // Ends the lease and deletes its keys. NotFound if it is already gone.
  absl::Status LeaseRevoke(int64_t lease_id);
  // Renews the lease once; returns the seconds it has left, NotFound if it
  // has expired or was revoked. `timeout` bounds each attempt.
  absl::StatusOr<int64_t> LeaseKeepAlive(int64_t lease_id,
                                         absl::Duration timeout);

  // The member calls go to now.
  std::string CurrentEndpoint() const;
  const EtcdClientOptions& options() const { return options_; }

 private:
  friend class EtcdWatch;
  struct Member {
    std::string endpoint;
    // The endpoint with its scheme, as errors name it.
    std::string name;
    std::shared_ptr<grpc::Channel> channel;
    std::unique_ptr<etcdserverpb::KV::Stub> kv;
    std::unique_ptr<etcdserverpb::Lease::Stub> lease;
    std::unique_ptr<etcdserverpb::Watch::Stub> watch;
  };

  explicit EtcdClient(EtcdClientOptions options);
  // Keeps every member's channel connecting and connected. A synchronous
  // gRPC call only drives its channel's connection while it waits, and a
  // fail-fast call does not wait for a member that is (re)connecting: so
  // without this thread a member that was down once would stay unused until
  // gRPC's 5 s backup poller got round to it.
  void WatchConnectivity();
  // Asks for member `index`'s next state change (or a short timeout).
  void ArmConnectivityWatch(size_t index)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(connectivity_mu_);
  // Runs `call(member, context)` on the current member and, while it fails
  // with a retriable code, on the next ones (every member once, then the
  // first again once). `what` names the call in errors.
  template <typename Call>
  absl::Status WithFailover(absl::string_view what, absl::Duration timeout,
                            const Call& call);
  // Moves on from member `failed` (unless another thread already did).
  void FailedOver(size_t failed);

  const EtcdClientOptions options_;
  std::vector<Member> members_;
  std::atomic<size_t> current_{0};
  grpc::CompletionQueue connectivity_;
  absl::Mutex connectivity_mu_;
  bool stopping_ ABSL_GUARDED_BY(connectivity_mu_) = false;
  std::thread connectivity_thread_;
};

// One watch of a key range, resumed on another member (from the next
// revision not yet seen) when its stream breaks. Next() runs on one thread;
// Cancel() may be called from any thread.
class EtcdWatch {
 public:
  // Events from `start_revision` on (0: from now).
  EtcdWatch(EtcdClient* client, std::string key, std::string range_end,
            int64_t start_revision);
  ~EtcdWatch();
  EtcdWatch(const EtcdWatch&) = delete;
  EtcdWatch& operator=(const EtcdWatch&) = delete;

  // Blocks until the next events. Cancelled after Cancel(); Unavailable when
  // no member serves the watch (the caller may call again: it resumes);
  // OutOfRange when the revisions to resume from were compacted away.
  absl::StatusOr<std::vector<mvccpb::Event>> Next();
  // Makes a blocked or later Next() return Cancelled.
  void Cancel();

 private:
  using Stream = grpc::ClientReaderWriter<etcdserverpb::WatchRequest,
                                          etcdserverpb::WatchResponse>;
  // Opens the stream on the current member and creates the watch.
  absl::Status Open();
  void Close();

  EtcdClient* const client_;
  const std::string key_;
  const std::string range_end_;
  // The first revision not yet delivered.
  int64_t next_revision_;
  size_t member_ = 0;
  std::unique_ptr<grpc::ClientContext> context_;
  std::unique_ptr<Stream> stream_;

  absl::Mutex mu_;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  // The open stream's context, for Cancel().
  grpc::ClientContext* live_context_ ABSL_GUARDED_BY(mu_) = nullptr;
};

}  // namespace cascade::topology::etcd

#endif  // CASCADE_TOPOLOGY_ETCD_ETCD_CLIENT_H_
