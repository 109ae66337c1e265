#ifndef CASCADE_TESTS_MEDIA_PROCESS_H_
#define CASCADE_TESTS_MEDIA_PROCESS_H_

// What the integration tests need around their processes (started with
// base/subprocess.h): commands run to completion, files they write, ports,
// metrics.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace cascade {
namespace testing {

// What a command that ran to completion said.
struct CommandResult {
  int code = -1;  // -1: did not start, did not exit in time, or a signal
  std::string out;
  std::string err;
};
// Runs `argv` to completion (bounded by `timeout`), its output kept in
// `output_base`.out and .err.
CommandResult RunToCompletion(const std::vector<std::string>& argv,
                              const std::string& output_base,
                              absl::Duration timeout = absl::Seconds(20));

std::string ReadFile(const std::string& path);
// Waits until `path` exists and is non-empty (bounded); its contents or "".
std::string WaitForFile(const std::string& path, absl::Duration timeout);
// The first line of `path` that starts with `prefix`, or "".
std::string FindLine(const std::string& path, const std::string& prefix);
// A number at the top level of a JSON object, its fraction cut off (parsed
// with protobuf's JSON support: nested objects' fields of the same name do
// not count), or nullopt.
std::optional<int64_t> JsonInt(const std::string& json, const std::string& key);
// The command of `ffmpeg` sending 3 s of its test pattern (320x240 at 30
// fps: 90 frames, H.264 with a keyframe each second) as RTP; `rtp` ends it
// (options of the RTP muxer and the rtp:// destination).
std::vector<std::string> FfmpegTestPattern(const std::string& ffmpeg,
                                           const std::vector<std::string>& rtp);
// A port P on 127.0.0.1 such that P..P+3 were all free just now (the kernel
// chooses P), for programs like ffmpeg that bind the ports an SDP names.
absl::StatusOr<int> FreeLoopbackPortQuad();

// The body of GET http://127.0.0.1:PORT/PATH (HTTP/1.0), or "" on failure.
std::string HttpGet(int port, const std::string& path);

// The value of a Prometheus sample ("name value" line) in `text`, or -1.
double MetricValue(const std::string& text, const std::string& sample);

}  // namespace testing
}  // namespace cascade

#endif  // CASCADE_TESTS_MEDIA_PROCESS_H_
