#include "tests/media/process.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmath>
#include <memory>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "base/files.h"
#include "base/subprocess.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "tests/common/wait.h"

namespace cascade {
namespace testing {

CommandResult RunToCompletion(const std::vector<std::string>& argv,
                              const std::string& output_base,
                              absl::Duration timeout) {
  CommandResult result;
  absl::StatusOr<std::unique_ptr<Subprocess>> process =
      Subprocess::Start(argv, {output_base + ".out", output_base + ".err"});
  if (!process.ok()) {
    result.err = std::string(process.status().message());
    return result;
  }
  result.code = (*process)->Wait(timeout).value_or(-1);
  (*process)->Kill().IgnoreError();  // one that overran: its output is whole
  result.out = ReadFile(output_base + ".out");
  result.err = ReadFile(output_base + ".err");
  return result;
}

std::string ReadFile(const std::string& path) {
  // Missing or unreadable reads as empty: the caller waits or reports.
  return cascade::ReadFile(path).value_or("");
}

std::string WaitForFile(const std::string& path, absl::Duration timeout) {
  std::string contents;
  WaitUntil(path + " is written", timeout, [&] {
    contents = ReadFile(path);
    return !contents.empty();
  });
  return contents;
}

std::string FindLine(const std::string& path, const std::string& prefix) {
  for (absl::string_view line : absl::StrSplit(ReadFile(path), '\n')) {
    if (absl::StartsWith(line, prefix)) return std::string(line);
  }
  return "";
}

std::optional<int64_t> JsonInt(const std::string& json,
                               const std::string& key) {
  google::protobuf::Struct object;
  if (!google::protobuf::util::JsonStringToMessage(json, &object).ok()) {
    return std::nullopt;
  }
  const auto it = object.fields().find(key);
  if (it == object.fields().end() ||
      it->second.kind_case() != google::protobuf::Value::kNumberValue) {
    return std::nullopt;
  }
  const double value = it->second.number_value();
  if (std::fabs(value) > 9.0e15) return std::nullopt;
  return static_cast<int64_t>(std::trunc(value));
}

std::vector<std::string> FfmpegTestPattern(
    const std::string& ffmpeg, const std::vector<std::string>& rtp) {
  std::vector<std::string> argv = {ffmpeg,
                                   "-hide_banner",
                                   "-loglevel",
                                   "error",
                                   "-re",
                                   "-f",
                                   "lavfi",
                                   "-i",
                                   "testsrc=size=320x240:rate=30",
                                   "-t",
                                   "3",
                                   "-c:v",
                                   "libx264",
                                   "-preset",
                                   "ultrafast",
                                   "-tune",
                                   "zerolatency",
                                   "-g",
                                   "30",
                                   "-f",
                                   "rtp"};
  argv.insert(argv.end(), rtp.begin(), rtp.end());
  return argv;
}

absl::StatusOr<int> FreeLoopbackPortQuad() {
  // Bounded: a handful of kernel picks nearly always has a free quad.
  for (int attempt = 0; attempt < 50; ++attempt) {
    std::vector<int> fds;
    auto bind_port = [&](int port) {
      const int fd = socket(AF_INET, SOCK_DGRAM, 0);
      sockaddr_in addr{};
      addr.sin_family = AF_INET;
      addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      addr.sin_port = htons(static_cast<uint16_t>(port));
      if (fd < 0) return 0;
      fds.push_back(fd);
      if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
        return 0;
      }
      socklen_t length = sizeof(addr);
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &length);
      return static_cast<int>(ntohs(addr.sin_port));
    };
    const int base = bind_port(0);
    bool ok = base > 0 && base % 2 == 0 && base + 3 <= 65535;
    for (int i = 1; ok && i < 4; ++i) ok = bind_port(base + i) == base + i;
    for (int fd : fds) close(fd);
    if (ok) return base;
  }
  return absl::UnavailableError("no four free consecutive loopback ports");
}

std::string HttpGet(int port, const std::string& path) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return "";
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  timeval timeout{2, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  std::string response;
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
    const std::string request =
        absl::StrCat("GET ", path, " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n");
    if (send(fd, request.data(), request.size(), 0) ==
        static_cast<ssize_t>(request.size())) {
      char buffer[4096];
      ssize_t n;
      while ((n = recv(fd, buffer, sizeof(buffer), 0)) > 0) {
        response.append(buffer, static_cast<size_t>(n));
      }
    }
  }
  close(fd);
  const size_t body = response.find("\r\n\r\n");
  return body == std::string::npos ? "" : response.substr(body + 4);
}

double MetricValue(const std::string& text, const std::string& sample) {
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (!absl::StartsWith(line, sample + " ")) continue;
    double value = 0;
    if (absl::SimpleAtod(line.substr(sample.size() + 1), &value)) return value;
  }
  return -1;
}

}  // namespace testing
}  // namespace cascade
