#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <memory>

#include "proto/echo_test.grpc.pb.h"

namespace cascade {
namespace {

class EchoService final : public testing::Echo::Service {
  grpc::Status Say(grpc::ServerContext*, const testing::EchoRequest* request,
                   testing::EchoReply* reply) override {
    if (request->text().empty()) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "empty text");
    }
    reply->set_text("echo: " + request->text());
    uint64_t sum = 0;
    for (uint32_t ssrc : request->ssrcs()) sum += ssrc;
    reply->set_ssrc_sum(sum);
    return grpc::Status::OK;
  }
};

TEST(GrpcWiringTest, RoundTripThroughLoopbackServer) {
  EchoService service;
  int port = 0;
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                           &port);
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  ASSERT_NE(server, nullptr);
  ASSERT_GT(port, 0);

  auto channel = grpc::CreateChannel("127.0.0.1:" + std::to_string(port),
                                     grpc::InsecureChannelCredentials());
  auto stub = testing::Echo::NewStub(channel);

  testing::EchoRequest request;
  request.set_text("command stream");
  request.add_ssrcs(0xdeadbeef);
  request.add_ssrcs(7);
  testing::EchoReply reply;
  grpc::ClientContext context;
  grpc::Status status = stub->Say(&context, request, &reply);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(reply.text(), "echo: command stream");
  EXPECT_EQ(reply.ssrc_sum(), 0xdeadbeefULL + 7);

  // The wire format survives a serialise/parse round trip too.
  testing::EchoReply parsed;
  ASSERT_TRUE(parsed.ParseFromString(reply.SerializeAsString()));
  EXPECT_EQ(parsed.text(), reply.text());

  testing::EchoRequest empty;
  grpc::ClientContext context2;
  EXPECT_EQ(stub->Say(&context2, empty, &reply).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  server->Shutdown();
}

}  // namespace
}  // namespace cascade
