#include <gtest/gtest.h>
#include <uv.h>

#include <cstring>
#include <string>

namespace cascade {
namespace {

// The echo side sends every datagram back; the client counts the replies.
struct EchoState {
  uv_udp_t server;
  uv_udp_t client;
  uv_timer_t deadline;
  int replies = 0;
  std::string last_reply;
  char buffer[2048];
};

void Alloc(uv_handle_t* handle, size_t, uv_buf_t* buf) {
  auto* state = static_cast<EchoState*>(handle->data);
  *buf = uv_buf_init(state->buffer, sizeof(state->buffer));
}

void OnServerRead(uv_udp_t* handle, ssize_t nread, const uv_buf_t* buf,
                  const struct sockaddr* from, unsigned) {
  if (nread <= 0 || from == nullptr) return;
  uv_buf_t reply = uv_buf_init(buf->base, static_cast<unsigned>(nread));
  ASSERT_EQ(uv_udp_try_send(handle, &reply, 1, from), nread);
}

void OnClientRead(uv_udp_t* handle, ssize_t nread, const uv_buf_t* buf,
                  const struct sockaddr* from, unsigned) {
  if (nread <= 0 || from == nullptr) return;
  auto* state = static_cast<EchoState*>(handle->data);
  state->last_reply.assign(buf->base, static_cast<size_t>(nread));
  if (++state->replies == 3) uv_stop(handle->loop);
}

TEST(UvUdpWiringTest, EchoOnLoopback) {
  uv_loop_t loop;
  ASSERT_EQ(uv_loop_init(&loop), 0);
  EchoState state;
  state.server.data = state.client.data = &state;

  sockaddr_in any_port;
  ASSERT_EQ(uv_ip4_addr("127.0.0.1", 0, &any_port), 0);
  ASSERT_EQ(uv_udp_init(&loop, &state.server), 0);
  ASSERT_EQ(uv_udp_bind(&state.server,
                        reinterpret_cast<const sockaddr*>(&any_port), 0),
            0);
  ASSERT_EQ(uv_udp_init(&loop, &state.client), 0);
  ASSERT_EQ(uv_udp_bind(&state.client,
                        reinterpret_cast<const sockaddr*>(&any_port), 0),
            0);
  sockaddr_storage server_addr;
  int len = sizeof(server_addr);
  ASSERT_EQ(uv_udp_getsockname(&state.server,
                               reinterpret_cast<sockaddr*>(&server_addr), &len),
            0);
  ASSERT_NE(reinterpret_cast<sockaddr_in*>(&server_addr)->sin_port, 0);

  ASSERT_EQ(uv_udp_recv_start(&state.server, Alloc, OnServerRead), 0);
  ASSERT_EQ(uv_udp_recv_start(&state.client, Alloc, OnClientRead), 0);
  for (int i = 0; i < 3; ++i) {
    std::string payload = "packet " + std::to_string(i);
    uv_buf_t buf = uv_buf_init(payload.data(), payload.size());
    ASSERT_EQ(uv_udp_try_send(&state.client, &buf, 1,
                              reinterpret_cast<sockaddr*>(&server_addr)),
              static_cast<int>(payload.size()));
  }

  // Bounded: a lost echo fails the test instead of hanging it.
  ASSERT_EQ(uv_timer_init(&loop, &state.deadline), 0);
  ASSERT_EQ(
      uv_timer_start(
          &state.deadline, [](uv_timer_t* t) { uv_stop(t->loop); }, 2000, 0),
      0);
  uv_run(&loop, UV_RUN_DEFAULT);

  EXPECT_EQ(state.replies, 3);
  EXPECT_EQ(state.last_reply, "packet 2");

  uv_close(reinterpret_cast<uv_handle_t*>(&state.server), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&state.client), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&state.deadline), nullptr);
  uv_run(&loop, UV_RUN_DEFAULT);
  EXPECT_EQ(uv_loop_close(&loop), 0);
}

}  // namespace
}  // namespace cascade
