#include "tools/bench/whep_bench.h"

#include <algorithm>

#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"

namespace cascade::bench {
namespace {

using google::protobuf::Struct;

double Number(const Struct& s, const std::string& key) {
  const auto it = s.fields().find(key);
  return it == s.fields().end() ? 0 : it->second.number_value();
}

}  // namespace

absl::StatusOr<WhepProbeFinal> ParseWhepProbeFinal(const std::string& line) {
  Struct final;
  if (!google::protobuf::util::JsonStringToMessage(line, &final).ok()) {
    return absl::InvalidArgumentError("relay-probe's final line is not JSON");
  }
  const auto whep = final.fields().find("whep");
  if (whep == final.fields().end() || !whep->second.has_struct_value()) {
    return absl::InvalidArgumentError(
        "relay-probe's final line has no \"whep\" object");
  }
  WhepProbeFinal result;
  result.lost = Number(final, "lost");
  result.packets = Number(final, "packets");
  result.bytes = Number(final, "bytes");
  result.elapsed_s = Number(final, "elapsed_s");
  if (const auto reasons = final.fields().find("reasons");
      reasons != final.fields().end()) {
    for (const auto& reason : reasons->second.list_value().values()) {
      if (result.complaints++ == 0) {
        result.first_complaint = reason.string_value();
      }
    }
  }
  const Struct& w = whep->second.struct_value();
  result.viewers = static_cast<int>(Number(w, "viewers"));
  result.connected = static_cast<int>(Number(w, "connected"));
  const auto sessions = w.fields().find("sessions");
  if (sessions == w.fields().end()) return result;
  for (const auto& value : sessions->second.list_value().values()) {
    const Struct& s = value.struct_value();
    result.posts_ms += Number(s, "post_ms");
    const auto connected = s.fields().find("connected_ms");
    if (connected == s.fields().end() ||
        !connected->second.has_number_value()) {
      continue;
    }
    result.max_connected_ms = std::max(result.max_connected_ms.value_or(0),
                                       connected->second.number_value());
    if (Number(s, "packets") > 0) ++result.receiving;
  }
  return result;
}

std::optional<int> ViewerSearch::Next() const {
  if (failed_ == 0) {
    if (next_ > limit_) return std::nullopt;
    return next_;
  }
  if (failed_ - best_ <= std::max(1, best_ / 10)) return std::nullopt;
  return (best_ + failed_) / 2;
}

void ViewerSearch::Record(int viewers, bool passed) {
  if (passed) {
    best_ = std::max(best_, viewers);
    if (failed_ == 0) next_ = viewers * 2;
  } else if (failed_ == 0 || viewers < failed_) {
    failed_ = viewers;
  }
}

}  // namespace cascade::bench
