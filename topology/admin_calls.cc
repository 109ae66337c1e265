#include "topology/admin_calls.h"

#include "absl/status/status.h"
#include "absl/strings/strip.h"

namespace cascade::topology {
namespace {

using grpc::experimental::InterceptionHookPoints;

class CountingInterceptor : public grpc::experimental::Interceptor {
 public:
  CountingInterceptor(AdminCallCounter* counter, std::string method)
      : counter_(counter), method_(std::move(method)) {}

  void Intercept(
      grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(
            InterceptionHookPoints::PRE_SEND_STATUS)) {
      counter_->Count(method_, methods->GetSendStatus().error_code());
    }
    methods->Proceed();
  }

 private:
  AdminCallCounter* const counter_;
  const std::string method_;
};

class CountingFactory
    : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit CountingFactory(AdminCallCounter* counter) : counter_(counter) {}

  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    absl::string_view method = info->method();
    // Watch and Report (100,000 streams) pay for nothing.
    if (!absl::ConsumePrefix(&method, "/cascade.v1.Admin/")) return nullptr;
    return new CountingInterceptor(counter_, std::string(method));
  }

 private:
  AdminCallCounter* const counter_;
};

}  // namespace

void AdminCallCounter::Count(absl::string_view method, grpc::StatusCode code) {
  absl::MutexLock lock(&mu_);
  ++counts_[{std::string(method), code}];
}

std::map<std::pair<std::string, std::string>, uint64_t>
AdminCallCounter::Counts() const {
  std::map<std::pair<std::string, std::string>, uint64_t> named;
  absl::MutexLock lock(&mu_);
  for (const auto& [key, n] : counts_) {
    // gRPC's codes are absl's, number for number.
    named[{key.first, absl::StatusCodeToString(
                          static_cast<absl::StatusCode>(key.second))}] = n;
  }
  return named;
}

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
AdminCallCounter::InterceptorFactory() {
  return std::make_unique<CountingFactory>(this);
}

}  // namespace cascade::topology
