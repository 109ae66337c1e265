// Admin calls counted by method and outcome, for topologyd's /metrics: a
// gRPC server interceptor sees every call's final status, so no handler
// counts for itself (a refusal by the gate, a follower's redirect and an
// answer from the commit pipeline alike).
#ifndef CASCADE_TOPOLOGY_ADMIN_CALLS_H_
#define CASCADE_TOPOLOGY_ADMIN_CALLS_H_

#include <grpcpp/grpcpp.h>
#include <grpcpp/support/server_interceptor.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"

namespace cascade::topology {

class AdminCallCounter {
 public:
  // `method` without its service ("GetNode").
  void Count(absl::string_view method, grpc::StatusCode code);
  // (method, code name such as "OK" or "PERMISSION_DENIED") -> calls.
  std::map<std::pair<std::string, std::string>, uint64_t> Counts() const;
  // For ServerBuilder::experimental().SetInterceptorCreators: counts the
  // cascade.v1.Admin calls here, and leaves the others alone.
  std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
  InterceptorFactory();

 private:
  mutable absl::Mutex mu_;
  std::map<std::pair<std::string, grpc::StatusCode>, uint64_t> counts_
      ABSL_GUARDED_BY(mu_);
};

}  // namespace cascade::topology

#endif  // CASCADE_TOPOLOGY_ADMIN_CALLS_H_
