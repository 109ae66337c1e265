#ifndef CASCADE_TOOLS_RECORD_RECORDER_H_
#define CASCADE_TOOLS_RECORD_RECORDER_H_

// relay-record's muxer: the H.264 access units a site assembles, written as
// they came (no re-encoding) into Matroska or MP4 segments with libavformat.
// Each segment starts at a keyframe, so it decodes on its own, carries its
// wall-clock start (creation_time and a WALLCLOCK_START tag), and is closed
// with its trailer before it takes its final name (it is written as
// NAME.part until then). Timestamps come from RTP, so a stall (a parent
// failover, a relay restart) is a hole in the timeline, not a broken file;
// each one longer than the gap threshold, or across a parent switch, is
// logged with its length.

#include <cstdint>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "tools/probe/site.h"

struct AVFormatContext;
struct AVStream;

namespace cascade {
namespace record {

enum class Container { kMatroska, kMp4 };

struct RecorderOptions {
  std::string directory;  // must exist and be writable
  Container container = Container::kMatroska;
  // A new segment starts at the first keyframe this long into the current.
  absl::Duration segment = absl::Minutes(10);
  // No frame for longer than this is logged as a gap.
  absl::Duration gap = absl::Seconds(1);
};

// A finished segment.
struct Segment {
  std::string path;
  absl::Time start;  // wall clock: arrival of its first frame
  int64_t frames = 0;
  absl::Duration duration;  // by RTP time, last frame included
};

class Recorder {
 public:
  // Checks the directory; no file is opened before the first keyframe.
  // `log` gets one line per segment opened and closed and per gap.
  static absl::StatusOr<std::unique_ptr<Recorder>> Create(
      const RecorderOptions& options, std::ostream* log);
  ~Recorder();

  // One access unit, in order. Before the first keyframe (and after the
  // stream's SSRC changed) units wait for one and are dropped. An error is
  // a file that could not be written; the segment is abandoned.
  absl::Status Write(const probe::VideoAccessUnit& unit);
  // The next gap is logged whatever its length, with this reason (e.g.
  // "parent switch to 10.0.0.2:5000").
  void NoteDiscontinuity(const std::string& reason);
  // Finishes the open segment (trailer, final name).
  absl::Status Close();

  const std::vector<Segment>& segments() const { return segments_; }
  int64_t gaps() const { return gaps_; }

 private:
  explicit Recorder(const RecorderOptions& options, std::ostream* log)
      : options_(options), log_(log) {}
  absl::Status Open(const probe::VideoAccessUnit& unit);
  // The unit's timestamp on the recording's 90 kHz timeline.
  int64_t Timeline(const probe::VideoAccessUnit& unit);
  void LogGap(const probe::VideoAccessUnit& unit);

  RecorderOptions options_;
  std::ostream* log_;
  // The stream's latest parameter sets (Annex B, with start codes).
  std::vector<uint8_t> sps_, pps_;
  // The recording's timeline: RTP unwrapped, rebased when it jumps.
  std::optional<uint32_t> ssrc_;
  uint32_t last_rtp_ = 0;
  int64_t last_time_ = 0;
  int64_t step_ = 0;  // the last frame step, the duration of the next
  absl::Time last_arrival_;
  std::optional<std::string> discontinuity_;
  int64_t gaps_ = 0;
  // The open segment.
  AVFormatContext* format_ = nullptr;
  AVStream* stream_ = nullptr;
  std::string part_path_;
  Segment current_;
  int64_t segment_start_ = 0;  // on the timeline
  std::vector<Segment> segments_;
};

}  // namespace record
}  // namespace cascade

#endif  // CASCADE_TOOLS_RECORD_RECORDER_H_
