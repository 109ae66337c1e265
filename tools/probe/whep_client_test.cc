// The WHEP URL, and the client's POST and DELETE against a plain HTTP
// server on loopback standing in for a relay (HTTPS and a real relay are
// whep_integration_test's).
#include "tools/probe/whep_client.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"

namespace cascade::probe {
namespace {

TEST(WhepUrlTest, TakesRelayctlsLinkAndAWhepEndpoint) {
  absl::StatusOr<WhepUrl> url = ParseWhepUrl(
      "https://127.0.0.1:8443/watch#stream=program&token=ce1.abc-_");
  ASSERT_TRUE(url.ok()) << url.status();
  EXPECT_TRUE(url->tls);
  EXPECT_EQ(url->host, "127.0.0.1");
  EXPECT_EQ(url->port, 8443);
  EXPECT_EQ(url->stream, "program");
  EXPECT_EQ(url->token, "ce1.abc-_");
  EXPECT_EQ(url->Origin(), "https://127.0.0.1:8443");
  EXPECT_EQ(url->EndpointPath(), "/whep/program");

  url = ParseWhepUrl("http://edge.example/whep/cmd%26hd#token=t%2Bk");
  ASSERT_TRUE(url.ok()) << url.status();
  EXPECT_FALSE(url->tls);
  EXPECT_EQ(url->port, 80);
  EXPECT_EQ(url->stream, "cmd&hd");
  EXPECT_EQ(url->token, "t+k");
  EXPECT_EQ(url->EndpointPath(), "/whep/cmd%26hd");

  url = ParseWhepUrl("https://[::1]/watch#token=x&stream=s");
  ASSERT_TRUE(url.ok()) << url.status();
  EXPECT_EQ(url->host, "[::1]");
  EXPECT_EQ(url->port, 443);
  EXPECT_EQ(url->Origin(), "https://[::1]:443");
}

TEST(WhepUrlTest, SaysWhatIsWrong) {
  const std::pair<const char*, const char*> cases[] = {
      {"ftp://h/watch#stream=s&token=t", "https:// or http://"},
      {"https:///watch#stream=s&token=t", "no host"},
      {"https://h:0/watch#stream=s&token=t", "not 1..65535"},
      {"https://h:x/watch#stream=s&token=t", "not 1..65535"},
      {"https://h/publish#stream=s&token=t", "neither /watch"},
      {"https://h/watch#token=t", "no stream="},
      {"https://h/watch#stream=s", "no token="},
      {"https://h/watch?stream=s&token=t", "no stream="},
      {"https://h/watch#stream=s&token=%zz", "percent-encoding"},
      {"https://h/whep/a/b#token=t", "not /whep/STREAM"},
  };
  for (const auto& [text, why] : cases) {
    absl::StatusOr<WhepUrl> url = ParseWhepUrl(text);
    ASSERT_FALSE(url.ok()) << text;
    EXPECT_TRUE(absl::StrContains(url.status().message(), why))
        << text << ": " << url.status();
  }
}

// A stand-in relay: answers POST /whep/program with `post_status` (201 with
// a session, or a refusal's one-line body) and DELETEs of the session.
class FakeEdge {
 public:
  FakeEdge() {
    server_.Post("/whep/program",
                 [this](const httplib::Request& req, httplib::Response& res) {
                   absl::MutexLock lock(&mu_);
                   authorization_ = req.get_header_value("Authorization");
                   remote_addr_ = req.remote_addr;
                   content_type_ = req.get_header_value("Content-Type");
                   offer_ = req.body;
                   res.status = post_status_;
                   if (post_status_ == 201) {
                     res.set_header("Location", location_);
                     res.set_content("v=0\r\n", "application/sdp");
                     return;
                   }
                   if (post_status_ == 503) res.set_header("Retry-After", "10");
                   res.set_content(body_, "text/plain");
                 });
    server_.Delete(R"(/whep/program/.*)",
                   [this](const httplib::Request& req, httplib::Response& res) {
                     absl::MutexLock lock(&mu_);
                     deleted_.push_back(req.path);
                     res.status = req.path == "/whep/program/s1" ? 200 : 404;
                     if (res.status == 404)
                       res.set_content("unknown session\n", "text/plain");
                   });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
  }
  ~FakeEdge() {
    // stop() does nothing to a server not yet listening (bounded wait).
    const absl::Time deadline = absl::Now() + absl::Seconds(10);
    while (!server_.is_running() && absl::Now() < deadline) {
      std::this_thread::yield();
    }
    server_.stop();
    thread_.join();
  }

  WhepUrl Url(const std::string& token = "ce1.good") const {
    return *ParseWhepUrl(absl::StrCat("http://127.0.0.1:", port_,
                                      "/watch#stream=program&token=", token));
  }
  void Answer(int status, std::string body = "",
              std::string location = "/whep/program/s1") {
    absl::MutexLock lock(&mu_);
    post_status_ = status;
    body_ = std::move(body);
    location_ = std::move(location);
  }

  absl::Mutex mu_;
  std::string authorization_ ABSL_GUARDED_BY(mu_);
  std::string content_type_ ABSL_GUARDED_BY(mu_);
  std::string offer_ ABSL_GUARDED_BY(mu_);
  std::string remote_addr_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> deleted_ ABSL_GUARDED_BY(mu_);

 private:
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
  int post_status_ ABSL_GUARDED_BY(mu_) = 201;
  std::string body_ ABSL_GUARDED_BY(mu_);
  std::string location_ ABSL_GUARDED_BY(mu_);
};

TEST(WhepClientTest, PostsTheOfferWithTheTokenAndDeletesTheSession) {
  FakeEdge edge;
  edge.Answer(201);
  auto client = WhepClient::Create(edge.Url(), {});
  ASSERT_TRUE(client.ok()) << client.status();
  absl::StatusOr<WhepResource> resource = (*client)->Post("v=0 offer");
  ASSERT_TRUE(resource.ok()) << resource.status();
  EXPECT_EQ(resource->location, "/whep/program/s1");
  EXPECT_EQ(resource->answer, "v=0\r\n");
  {
    absl::MutexLock lock(&edge.mu_);
    EXPECT_EQ(edge.authorization_, "Bearer ce1.good");
    EXPECT_EQ(edge.content_type_, "application/sdp");
    EXPECT_EQ(edge.offer_, "v=0 offer");
  }
  EXPECT_TRUE((*client)->Delete(resource->location).ok());
  const absl::Status again = (*client)->Delete("/whep/program/gone");
  EXPECT_EQ(again.code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(
      absl::StrContains(again.message(), "404 Not Found: unknown session"))
      << again;
  absl::MutexLock lock(&edge.mu_);
  EXPECT_EQ(edge.deleted_, (std::vector<std::string>{"/whep/program/s1",
                                                     "/whep/program/gone"}));
}

// A lab's viewers spread over loopback addresses: the relay sees each
// process as its own client (its per-address POST limits).
TEST(WhepClientTest, PostsFromTheSourceAddressAsked) {
  FakeEdge edge;
  edge.Answer(201);
  auto client = WhepClient::Create(edge.Url(), {}, absl::Seconds(10),
                                   0x7f000007);  // 127.0.0.7
  ASSERT_TRUE(client.ok()) << client.status();
  absl::StatusOr<WhepResource> resource = (*client)->Post("offer");
  ASSERT_TRUE(resource.ok()) << resource.status();
  absl::MutexLock lock(&edge.mu_);
  EXPECT_EQ(edge.remote_addr_, "127.0.0.7");
}

TEST(WhepClientTest, ASourceAddressItCannotSendFromIsAnError) {
  FakeEdge edge;
  edge.Answer(201);
  auto client = WhepClient::Create(edge.Url(), {}, absl::Seconds(2),
                                   0xc0000201);  // 192.0.2.1, not ours
  ASSERT_TRUE(client.ok()) << client.status();
  absl::StatusOr<WhepResource> resource = (*client)->Post("offer");
  ASSERT_FALSE(resource.ok());
  EXPECT_EQ(resource.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(absl::StrContains(resource.status().message(),
                                "cannot send from the source address"))
      << resource.status();
}

TEST(WhepClientTest, ARelativeLocationIsTheEndpointsSibling) {
  FakeEdge edge;
  edge.Answer(201, "", "program/s2");
  auto client = WhepClient::Create(edge.Url(), {});
  ASSERT_TRUE(client.ok());
  absl::StatusOr<WhepResource> resource = (*client)->Post("offer");
  ASSERT_TRUE(resource.ok()) << resource.status();
  EXPECT_EQ(resource->location, "/whep/program/s2");
}

TEST(WhepClientTest, RefusalsNameTheStatusAndQuoteTheRelaysLine) {
  FakeEdge edge;
  struct Case {
    int status;
    const char* body;
    absl::StatusCode code;
    std::string message;
  };
  const Case cases[] = {
      {401, "missing or invalid token\n", absl::StatusCode::kUnauthenticated,
       "401 Unauthorized: missing or invalid token"},
      {403, "token not valid for this relay, stream or action\n",
       absl::StatusCode::kPermissionDenied,
       "403 Forbidden: token not valid for this relay, stream or action"},
      {404, "unknown stream\n", absl::StatusCode::kNotFound,
       "404 Not Found: unknown stream"},
      {503, "too many sessions\n", absl::StatusCode::kUnavailable,
       "503 Service Unavailable: too many sessions (retry after 10 s)"},
      {415, "unsupported media: no opus\n", absl::StatusCode::kInvalidArgument,
       "415 Unsupported Media Type: unsupported media: no opus"},
  };
  auto client = WhepClient::Create(edge.Url(), {});
  ASSERT_TRUE(client.ok());
  for (const Case& c : cases) {
    edge.Answer(c.status, c.body);
    absl::StatusOr<WhepResource> resource = (*client)->Post("offer");
    ASSERT_FALSE(resource.ok()) << c.status;
    EXPECT_EQ(resource.status().code(), c.code) << resource.status();
    EXPECT_EQ(resource.status().message(),
              absl::StrCat("POST ", edge.Url().Origin(),
                           "/whep/program: ", c.message));
  }
}

TEST(WhepClientTest, ARelayThatIsNotThereIsUnavailable) {
  // A port the kernel handed out and nobody listens on any more.
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t size = sizeof(address);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&address), size), 0);
  ASSERT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&address), &size), 0);
  close(fd);
  const int port = ntohs(address.sin_port);
  auto url = ParseWhepUrl(
      absl::StrCat("http://127.0.0.1:", port, "/watch#stream=program&token=t"));
  ASSERT_TRUE(url.ok());
  auto client = WhepClient::Create(*url, {}, absl::Seconds(2));
  ASSERT_TRUE(client.ok());
  absl::StatusOr<WhepResource> resource = (*client)->Post("offer");
  ASSERT_FALSE(resource.ok());
  EXPECT_EQ(resource.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(absl::StrContains(resource.status().message(), "cannot connect"))
      << resource.status();
}

TEST(WhepClientTest, AnUnreadableCaFileIsRefused) {
  auto url = ParseWhepUrl("https://127.0.0.1:1/watch#stream=s&token=t");
  ASSERT_TRUE(url.ok());
  WhepTlsOptions tls;
  tls.ca_file = "/nonexistent/ca.pem";
  auto client = WhepClient::Create(*url, tls);
  ASSERT_FALSE(client.ok());
  EXPECT_EQ(client.status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace cascade::probe
