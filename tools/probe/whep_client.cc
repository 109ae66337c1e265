#include "tools/probe/whep_client.h"

#include <arpa/inet.h>
#include <httplib.h>
#include <netinet/in.h>
#include <openssl/x509.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace cascade {
namespace probe {
namespace {

// Of a refusal's body, at most this much is quoted (the relay's are one
// line of at most 200 bytes).
constexpr size_t kMaxQuotedBody = 200;

bool Unreserved(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-' ||
         c == '.' || c == '_' || c == '~';
}

absl::StatusOr<std::string> PercentDecode(absl::string_view text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out.push_back(text[i]);
      continue;
    }
    int value = 0;
    if (i + 2 >= text.size() ||
        !absl::SimpleHexAtoi(text.substr(i + 1, 2), &value) ||
        !absl::ascii_isxdigit(static_cast<unsigned char>(text[i + 1])) ||
        !absl::ascii_isxdigit(static_cast<unsigned char>(text[i + 2]))) {
      return absl::InvalidArgumentError(
          absl::StrCat("bad percent-encoding in \"", text, "\""));
    }
    out.push_back(static_cast<char>(value));
    i += 2;
  }
  return out;
}

absl::string_view ReasonPhrase(int status) {
  switch (status) {
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 413:
      return "Content Too Large";
    case 415:
      return "Unsupported Media Type";
    case 500:
      return "Internal Server Error";
    case 503:
      return "Service Unavailable";
    default:
      return "";
  }
}

absl::StatusCode CodeOf(int status) {
  switch (status) {
    case 401:
      return absl::StatusCode::kUnauthenticated;
    case 403:
      return absl::StatusCode::kPermissionDenied;
    case 404:
      return absl::StatusCode::kNotFound;
    case 503:
      return absl::StatusCode::kUnavailable;
    case 400:
    case 415:
      return absl::StatusCode::kInvalidArgument;
    default:
      return absl::StatusCode::kUnknown;
  }
}

// "401 Unauthorized: BODY", the body on one bounded line.
std::string Refusal(const httplib::Response& response) {
  std::string body = response.body.substr(0, kMaxQuotedBody);
  for (char& c : body) {
    if (absl::ascii_iscntrl(static_cast<unsigned char>(c))) c = ' ';
  }
  std::string out = absl::StrCat(response.status);
  const absl::string_view reason = ReasonPhrase(response.status);
  if (!reason.empty()) absl::StrAppend(&out, " ", reason);
  const absl::string_view text = absl::StripAsciiWhitespace(body);
  if (!text.empty()) absl::StrAppend(&out, ": ", text);
  if (response.has_header("Retry-After")) {
    absl::StrAppend(&out, " (retry after ",
                    response.get_header_value("Retry-After"), " s)");
  }
  return out;
}

}  // namespace

std::string WhepUrl::Origin() const {
  return absl::StrCat(tls ? "https" : "http", "://", host, ":", port);
}

std::string WhepUrl::EndpointPath() const {
  std::string path = "/whep/";
  for (const char c : stream) {
    if (Unreserved(c)) {
      path.push_back(c);
    } else {
      absl::StrAppend(
          &path, "%",
          absl::Hex(static_cast<unsigned char>(c), absl::kZeroPad2));
    }
  }
  return path;
}

absl::StatusOr<WhepUrl> ParseWhepUrl(absl::string_view text) {
  WhepUrl url;
  absl::string_view rest = text;
  if (absl::ConsumePrefix(&rest, "https://")) {
    url.tls = true;
  } else if (absl::ConsumePrefix(&rest, "http://")) {
    url.tls = false;
  } else {
    return absl::InvalidArgumentError("must start with https:// or http://");
  }
  url.port = url.tls ? 443 : 80;
  const size_t hash = rest.find('#');
  const absl::string_view fragment =
      hash == absl::string_view::npos ? "" : rest.substr(hash + 1);
  rest = rest.substr(0, hash);
  const size_t slash = rest.find('/');
  absl::string_view authority = rest.substr(0, slash);
  absl::string_view path =
      slash == absl::string_view::npos ? "" : rest.substr(slash);
  path = path.substr(0, path.find('?'));

  absl::string_view port;
  if (absl::StartsWith(authority, "[")) {
    const size_t close = authority.find(']');
    if (close == absl::string_view::npos) {
      return absl::InvalidArgumentError("unclosed [ in the host");
    }
    url.host = std::string(authority.substr(0, close + 1));
    absl::string_view after = authority.substr(close + 1);
    if (!after.empty() && !absl::ConsumePrefix(&after, ":")) {
      return absl::InvalidArgumentError("junk after the host's ]");
    }
    port = after;
  } else {
    const size_t colon = authority.rfind(':');
    url.host = std::string(authority.substr(0, colon));
    if (colon != absl::string_view::npos) port = authority.substr(colon + 1);
  }
  if (url.host.empty() || url.host == "[]") {
    return absl::InvalidArgumentError("no host");
  }
  if (!port.empty() && (!absl::SimpleAtoi(port, &url.port) || url.port < 1 ||
                        url.port > 65535)) {
    return absl::InvalidArgumentError(
        absl::StrCat("port \"", port, "\" is not 1..65535"));
  }

  for (absl::string_view item : absl::StrSplit(fragment, '&')) {
    const size_t eq = item.find('=');
    if (eq == absl::string_view::npos) continue;
    const absl::string_view key = item.substr(0, eq);
    if (key != "stream" && key != "token") continue;
    absl::StatusOr<std::string> value = PercentDecode(item.substr(eq + 1));
    if (!value.ok()) return value.status();
    (key == "stream" ? url.stream : url.token) = *std::move(value);
  }
  if (absl::ConsumePrefix(&path, "/whep/")) {
    if (path.empty() || absl::StrContains(path, '/')) {
      return absl::InvalidArgumentError("the path is not /whep/STREAM");
    }
    absl::StatusOr<std::string> stream = PercentDecode(path);
    if (!stream.ok()) return stream.status();
    url.stream = *std::move(stream);
  } else if (path != "/watch") {
    return absl::InvalidArgumentError(
        "the path is neither /watch (relayctl's link) nor /whep/STREAM");
  }
  if (url.stream.empty()) {
    return absl::InvalidArgumentError("no stream= in the fragment");
  }
  if (url.token.empty()) {
    return absl::InvalidArgumentError("no token= in the fragment");
  }
  return url;
}

absl::StatusOr<std::unique_ptr<WhepClient>> WhepClient::Create(
    const WhepUrl& url, const WhepTlsOptions& tls, absl::Duration timeout,
    uint32_t source_ip) {
  if (!tls.ca_file.empty() && access(tls.ca_file.c_str(), R_OK) != 0) {
    return absl::NotFoundError(absl::StrCat("cannot read ", tls.ca_file));
  }
  auto http = std::make_unique<httplib::Client>(url.Origin());
  if (!http->is_valid()) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot make an HTTP client for ", url.Origin()));
  }
  const time_t seconds = std::max<time_t>(1, absl::ToInt64Seconds(timeout));
  http->set_connection_timeout(seconds);
  http->set_read_timeout(seconds);
  http->set_write_timeout(seconds);
  if (url.tls) {
    http->enable_server_certificate_verification(!tls.insecure);
    if (!tls.ca_file.empty()) http->set_ca_cert_path(tls.ca_file.c_str());
  }
  auto bind_errno = std::make_shared<std::atomic<int>>(0);
  if (source_ip != 0) {
    // Called on each new socket before it connects.
    http->set_socket_options([source_ip, bind_errno](socket_t sock) {
      sockaddr_in local = {};
      local.sin_family = AF_INET;
      local.sin_addr.s_addr = htonl(source_ip);
      const bool bound = bind(sock, reinterpret_cast<const sockaddr*>(&local),
                              sizeof(local)) == 0;
      bind_errno->store(bound ? 0 : errno);
    });
  }
  return std::unique_ptr<WhepClient>(
      new WhepClient(url, std::move(http), std::move(bind_errno)));
}

WhepClient::WhepClient(const WhepUrl& url,
                       std::unique_ptr<httplib::Client> http,
                       std::shared_ptr<std::atomic<int>> bind_errno)
    : url_(url), http_(std::move(http)), bind_errno_(std::move(bind_errno)) {}

absl::Status WhepClient::BindError() const {
  const int err = bind_errno_->load();
  if (err == 0) return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrCat(
      "cannot send from the source address (bind: ", std::strerror(err), ")"));
}

WhepClient::~WhepClient() = default;

namespace {

// Why a request got no HTTP response at all.
absl::Status TransportError(const httplib::Client& http, httplib::Error error,
                            absl::string_view what) {
  std::string why;
  switch (error) {
    case httplib::Error::Connection:
      why = "cannot connect";
      break;
    case httplib::Error::Read:
      why = "no answer (read failed or timed out)";
      break;
    case httplib::Error::SSLConnection:
      why = "TLS handshake failed";
      break;
    case httplib::Error::SSLServerVerification:
      why = absl::StrCat(
          "the relay's certificate is not trusted (",
          X509_verify_cert_error_string(http.get_openssl_verify_result()),
          "): trust its CA with --whep_ca=PEM, or accept any certificate "
          "with --whep_insecure_tls");
      break;
    default:
      why = httplib::to_string(error);
  }
  return absl::UnavailableError(absl::StrCat(what, ": ", why));
}

}  // namespace

absl::StatusOr<WhepResource> WhepClient::Post(const std::string& offer) {
  const std::string path = url_.EndpointPath();
  const std::string what = absl::StrCat("POST ", url_.Origin(), path);
  const httplib::Headers headers = {
      {"Authorization", absl::StrCat("Bearer ", url_.token)}};
  httplib::Result result =
      http_->Post(path.c_str(), headers, offer, "application/sdp");
  if (absl::Status bound = BindError(); !bound.ok()) {
    return absl::Status(bound.code(),
                        absl::StrCat(what, ": ", bound.message()));
  }
  if (!result) return TransportError(*http_, result.error(), what);
  if (result->status != 201) {
    return absl::Status(CodeOf(result->status),
                        absl::StrCat(what, ": ", Refusal(*result)));
  }
  std::string location = result->get_header_value("Location");
  if (absl::StartsWith(location, url_.Origin() + "/")) {
    location = location.substr(url_.Origin().size());
  } else if (absl::StrContains(location, "://")) {
    return absl::UnimplementedError(absl::StrCat(
        what, ": the session (Location ", location, ") is on another origin"));
  } else if (!location.empty() && location[0] != '/') {
    // Relative to the endpoint (RFC 3986 5.2).
    location = absl::StrCat(path.substr(0, path.rfind('/') + 1), location);
  }
  if (location.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": 201 without a Location"));
  }
  return WhepResource{std::move(location), std::move(result->body)};
}

absl::Status WhepClient::Delete(const std::string& location) {
  const std::string what = absl::StrCat("DELETE ", url_.Origin(), location);
  const httplib::Headers headers = {
      {"Authorization", absl::StrCat("Bearer ", url_.token)}};
  httplib::Result result = http_->Delete(location.c_str(), headers);
  if (absl::Status bound = BindError(); !bound.ok()) {
    return absl::Status(bound.code(),
                        absl::StrCat(what, ": ", bound.message()));
  }
  if (!result) return TransportError(*http_, result.error(), what);
  if (result->status != 200 && result->status != 204) {
    return absl::Status(CodeOf(result->status),
                        absl::StrCat(what, ": ", Refusal(*result)));
  }
  return absl::OkStatus();
}

}  // namespace probe
}  // namespace cascade
