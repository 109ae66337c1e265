// The HTTP side of a WHEP viewer (RFC 9725): the URL a site is given, the
// POST of an offer and the DELETE of the session it made, over HTTPS
// (verifying the relay's certificate unless told otherwise) or plain HTTP.
#ifndef CASCADE_TOOLS_PROBE_WHEP_CLIENT_H_
#define CASCADE_TOOLS_PROBE_WHEP_CLIENT_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace httplib {
class Client;
}

namespace cascade {
namespace probe {

struct WhepUrl {
  bool tls = true;   // https
  std::string host;  // as written: "127.0.0.1", "[::1]", "edge.example"
  int port = 443;
  std::string stream;
  std::string token;

  // "https://HOST:PORT"
  std::string Origin() const;
  // "/whep/STREAM", the stream percent-encoded.
  std::string EndpointPath() const;
};

// The link relayctl prints, "https://HOST[:PORT]/watch#stream=S&token=T"
// (fragment values percent-encoded), or a WHEP endpoint with the token in
// the fragment, "https://HOST[:PORT]/whep/S#token=T". http:// too.
// InvalidArgument saying what is wrong.
absl::StatusOr<WhepUrl> ParseWhepUrl(absl::string_view url);

struct WhepTlsOptions {
  // Accept any certificate (a lab's self-signed one).
  bool insecure = false;
  // PEM file of the CAs to trust; empty: the system's.
  std::string ca_file;
};

// A session the relay made.
struct WhepResource {
  std::string location;  // path of the session, for DELETE
  std::string answer;    // the SDP answer
};

class WhepClient {
 public:
  // `source_ip` (IPv4, host order; 0: the kernel's choice) is the address
  // requests come from: a lab's viewers spread over 127.0.0.N are as many
  // clients to the relay's per-address limits.
  static absl::StatusOr<std::unique_ptr<WhepClient>> Create(
      const WhepUrl& url, const WhepTlsOptions& tls,
      absl::Duration timeout = absl::Seconds(10), uint32_t source_ip = 0);
  ~WhepClient();
  WhepClient(const WhepClient&) = delete;
  WhepClient& operator=(const WhepClient&) = delete;

  // POSTs `offer` with the URL's token. A refusal is an error naming the
  // status and carrying the relay's one-line body: Unauthenticated (401),
  // PermissionDenied (403), NotFound (404), Unavailable (503, and a relay
  // that cannot be reached), InvalidArgument (400, 415), Unknown (others).
  absl::StatusOr<WhepResource> Post(const std::string& offer);
  // Ends the session at `location`.
  absl::Status Delete(const std::string& location);

  const WhepUrl& url() const { return url_; }

 private:
  WhepClient(const WhepUrl& url, std::unique_ptr<httplib::Client> http,
             std::shared_ptr<std::atomic<int>> bind_errno);
  // Why binding the source address failed for the last connection; OK when
  // it did not (or none was asked).
  absl::Status BindError() const;

  const WhepUrl url_;
  std::unique_ptr<httplib::Client> http_;
  std::shared_ptr<std::atomic<int>> bind_errno_;
};

}  // namespace probe
}  // namespace cascade

#endif  // CASCADE_TOOLS_PROBE_WHEP_CLIENT_H_
