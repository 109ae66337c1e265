#include "webrtc/sdp/sdp.h"

#include <algorithm>
#include <optional>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "webrtc/sdp/attributes.h"
#include "webrtc/sdp/text.h"

namespace cascade::sdp {
namespace {

// Per-section bounds beyond which an offer is not a browser's.
constexpr size_t kMaxFormats = 128;
constexpr size_t kMaxFingerprints = 8;
constexpr size_t kMaxFmtpParameters = 32;
constexpr size_t kMaxFeedbackPerCodec = 16;
constexpr size_t kMaxExtmaps = 32;
constexpr size_t kMaxSsrcLines = 64;
constexpr size_t kMaxSsrcGroups = 16;
constexpr size_t kMaxMsids = 8;
constexpr size_t kMaxGroups = kMaxMediaSections;
// An m= line's fields, so that an answer echoing them stays small.
constexpr size_t kMaxMediaTypeLength = 32;
constexpr size_t kMaxProtoOrFormatLength = 64;

// The order of lines after v=, o= and s= (RFC 8866 section 5), as the rank
// of each type letter; t= and r= interleave. -1: not allowed at the level.
int SessionRank(char type) {
  const size_t rank =
      absl::string_view("iuepcbtzka").find(type == 'r' ? 't' : type);
  return rank == absl::string_view::npos ? -1 : static_cast<int>(rank);
}
bool SessionRepeats(char type) {
  return absl::string_view("epbtra").find(type) != absl::string_view::npos;
}
int MediaRank(char type) {
  const size_t rank = absl::string_view("icbka").find(type);
  return rank == absl::string_view::npos ? -1 : static_cast<int>(rank);
}
bool MediaRepeats(char type) {
  return absl::string_view("cba").find(type) != absl::string_view::npos;
}

// Attributes that only make sense inside an m= section.
bool MediaOnlyAttribute(absl::string_view name) {
  return name == "mid" || name == "rtpmap" || name == "fmtp" ||
         name == "rtcp-fb" || name == "ssrc" || name == "ssrc-group" ||
         name == "msid" || name == "rtcp-mux" || name == "rtcp-rsize" ||
         name == "bundle-only" || name == "candidate";
}

// Transport attributes as written at one level (session or a section).
struct Transport {
  std::string ice_ufrag;
  std::string ice_pwd;
  std::vector<Fingerprint> fingerprints;
  Setup setup = Setup::kNone;
  std::optional<Direction> direction;
};

class Parser {
 public:
  absl::StatusOr<SessionDescription> Run(absl::string_view text);

 private:
  absl::Status Error(absl::string_view what) const {
    if (line_ == 0)
      return absl::InvalidArgumentError(absl::StrCat("SDP: ", what));
    if (field_.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("SDP line ", line_, ": ", what));
    }
    return absl::InvalidArgumentError(
        absl::StrCat("SDP line ", line_, " (", field_, "): ", what));
  }
  absl::Status Line(char type, absl::string_view value);
  absl::Status SessionLine(char type, absl::string_view value);
  absl::Status MediaLine(absl::string_view value);
  absl::Status Attribute(absl::string_view text);
  absl::Status TransportAttribute(absl::string_view name,
                                  absl::string_view value, bool has_value,
                                  Transport* level);
  absl::Status MediaAttribute(absl::string_view name, absl::string_view value,
                              bool has_value);
  absl::Status Rtpmap(absl::string_view value);
  absl::Status Fmtp(absl::string_view value);
  absl::Status RtcpFb(absl::string_view value);
  absl::Status EndSection();
  absl::Status Finish();
  // Appends a parsed value to `to`, holding at most `max`.
  template <typename T>
  absl::Status Append(absl::StatusOr<T> parsed, std::vector<T>* to,
                      size_t max) {
    if (!parsed.ok()) return Error(parsed.status().message());
    if (to->size() >= max) return Error("too many");
    to->push_back(*std::move(parsed));
    return absl::OkStatus();
  }
  // The codec of payload type `token` in the current section.
  absl::StatusOr<Codec*> CodecOf(absl::string_view token);

  int line_ = 0;
  std::string field_;
  int rank_ = -1;  // of the previous line at the current level
  int lines_seen_ = 0;
  bool seen_t_ = false;
  SessionDescription desc_;
  Transport session_;
  MediaSection* section_ = nullptr;
  Transport section_transport_;
  std::vector<Transport> section_transports_;
  absl::flat_hash_set<int> rtpmapped_, fmtped_;
  std::vector<int> group_lines_;  // line of each desc_.groups entry
};

absl::StatusOr<SessionDescription> Parser::Run(absl::string_view text) {
  if (text.empty()) return Error("empty");
  if (text.size() > kMaxSdpBytes) {
    return Error(absl::StrCat(text.size(), " bytes, more than ", kMaxSdpBytes));
  }
  size_t pos = 0;
  while (pos < text.size()) {
    ++line_;
    size_t end = text.find('\n', pos);
    if (end == absl::string_view::npos) end = text.size();
    absl::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    field_.clear();
    if (line.size() > kMaxLineBytes) {
      return Error(
          absl::StrCat(line.size(), " bytes, more than ", kMaxLineBytes));
    }
    if (line.empty()) return Error("empty line");
    for (char c : line) {
      const auto u = static_cast<unsigned char>(c);
      if ((u < 0x20 && c != '\t') || u == 0x7f) {
        return Error("control character");
      }
    }
    if (line.size() < 2 || line[1] != '=' || !absl::ascii_islower(line[0])) {
      return Error("not of the form <letter>=<value>");
    }
    field_ = std::string(line.substr(0, 2));
    if (absl::Status s = Line(line[0], line.substr(2)); !s.ok()) return s;
  }
  field_ = "end of SDP";
  if (absl::Status s = Finish(); !s.ok()) return s;
  return std::move(desc_);
}

absl::Status Parser::Line(char type, absl::string_view value) {
  const int index = lines_seen_++;
  if (index == 0 && type != 'v') return Error("an SDP starts with v=");
  if (index == 1 && type != 'o') return Error("o= must follow v=");
  if (index == 2 && type != 's') return Error("s= must follow o=");
  if (type == 'm') return MediaLine(value);
  if (section_ == nullptr) return SessionLine(type, value);
  const int rank = MediaRank(type);
  if (rank < 0) return Error("not allowed in a media section");
  if (rank < rank_ || (rank == rank_ && !MediaRepeats(type))) {
    return Error("out of order or repeated");
  }
  rank_ = rank;
  if (type == 'c') {
    if (SplitSpaces(value).size() != 3) return Error("expected 3 fields");
  } else if (type == 'b') {
    if (!IsBandwidth(value)) return Error("expected <type>:<number>");
  } else if (type == 'a') {
    return Attribute(value);
  }
  return absl::OkStatus();
}

absl::Status Parser::SessionLine(char type, absl::string_view value) {
  switch (type) {
    case 'v':
      if (lines_seen_ != 1) return Error("repeated");
      if (value != "0") return Error("version must be 0");
      return absl::OkStatus();
    case 'o': {
      if (lines_seen_ != 2) return Error("repeated");
      const std::vector<absl::string_view> f = SplitSpaces(value);
      uint64_t number;
      if (f.size() != 6 || !ParseDecimal(f[1], UINT64_MAX, &number) ||
          !ParseDecimal(f[2], UINT64_MAX, &number)) {
        return Error("expected <user> <id> <version> <net> <addr> <address>");
      }
      desc_.origin = std::string(value);
      return absl::OkStatus();
    }
    case 's':
      if (lines_seen_ != 3) return Error("repeated");
      if (value.empty()) return Error("empty session name");
      desc_.session_name = std::string(value);
      return absl::OkStatus();
    default:
      break;
  }
  const int rank = SessionRank(type);
  if (rank < 0) return Error("unknown or misplaced line type");
  if (rank < rank_ || (rank == rank_ && !SessionRepeats(type))) {
    return Error("out of order or repeated");
  }
  if (type == 'r' && !seen_t_) return Error("r= before any t=");
  rank_ = rank;
  switch (type) {
    case 't': {
      const std::vector<absl::string_view> f = SplitSpaces(value);
      uint64_t time;
      if (f.size() != 2 || !ParseDecimal(f[0], UINT64_MAX, &time) ||
          !ParseDecimal(f[1], UINT64_MAX, &time)) {
        return Error("expected <start> <stop>");
      }
      seen_t_ = true;
      return absl::OkStatus();
    }
    case 'c':
      if (SplitSpaces(value).size() != 3) return Error("expected 3 fields");
      return absl::OkStatus();
    case 'b':
      if (!IsBandwidth(value)) return Error("expected <type>:<number>");
      return absl::OkStatus();
    case 'a':
      return Attribute(value);
    default:
      return absl::OkStatus();
  }
}

absl::Status Parser::MediaLine(absl::string_view value) {
  if (!seen_t_) return Error("m= before any t=");
  if (absl::Status s = EndSection(); !s.ok()) return s;
  if (desc_.media.size() >= kMaxMediaSections) {
    return Error(
        absl::StrCat("more than ", kMaxMediaSections, " media sections"));
  }
  const std::vector<absl::string_view> f = SplitSpaces(value);
  if (f.size() < 4) return Error("expected <media> <port> <proto> <fmt>...");
  if (f.size() - 3 > kMaxFormats) return Error("too many formats");
  MediaSection section;
  section.line = line_;
  if (!IsToken(f[0]) || f[0].size() > kMaxMediaTypeLength) {
    return Error("bad media type");
  }
  section.media = std::string(f[0]);
  section.kind = f[0] == "audio"   ? MediaKind::kAudio
                 : f[0] == "video" ? MediaKind::kVideo
                                   : MediaKind::kOther;
  // <port>[/<number of ports>]
  const std::vector<absl::string_view> port =
      absl::StrSplit(f[1], absl::MaxSplits('/', 1));
  uint64_t number, count;
  if (!ParseDecimal(port[0], 65535, &number) ||
      (port.size() == 2 && !ParseDecimal(port[1], 65535, &count))) {
    return Error("bad port");
  }
  section.port = static_cast<int>(number);
  if (f[2].size() > kMaxProtoOrFormatLength) return Error("bad proto");
  for (absl::string_view part : absl::StrSplit(f[2], '/')) {
    if (!IsToken(part)) return Error("bad proto");
  }
  section.proto = std::string(f[2]);
  const bool rtp = absl::StrContains(section.proto, "RTP/") &&
                   section.kind != MediaKind::kOther;
  absl::flat_hash_set<absl::string_view> seen;
  for (size_t i = 3; i < f.size(); ++i) {
    if (!IsToken(f[i]) || f[i].size() > kMaxProtoOrFormatLength) {
      return Error("bad format");
    }
    if (!seen.insert(f[i]).second) return Error("repeated format");
    section.formats.push_back(std::string(f[i]));
    if (rtp) {
      uint64_t pt;
      if (!ParseDecimal(f[i], 127, &pt)) return Error("bad payload type");
      Codec codec;
      codec.payload_type = static_cast<int>(pt);
      section.codecs.push_back(std::move(codec));
    }
  }
  desc_.media.push_back(std::move(section));
  section_ = &desc_.media.back();
  section_transport_ = Transport();
  rtpmapped_.clear();
  fmtped_.clear();
  rank_ = -1;
  return absl::OkStatus();
}

absl::Status Parser::EndSection() {
  if (section_ == nullptr) return absl::OkStatus();
  if (section_->mid.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "SDP line ", section_->line, " (m=): media section has no a=mid"));
  }
  section_transports_.push_back(std::move(section_transport_));
  section_ = nullptr;
  return absl::OkStatus();
}

absl::Status Parser::Attribute(absl::string_view text) {
  const size_t colon = text.find(':');
  const absl::string_view name = text.substr(0, colon);
  const bool has_value = colon != absl::string_view::npos;
  const absl::string_view value =
      has_value ? text.substr(colon + 1) : absl::string_view();
  field_ = absl::StrCat("a=", name.substr(0, 32));
  if (!IsToken(name)) return Error("bad attribute name");
  if (section_ == nullptr) {
    if (MediaOnlyAttribute(name)) return Error("only allowed in m= sections");
    if (name == "group") {
      group_lines_.push_back(line_);
      return Append(ParseGroup(value), &desc_.groups, kMaxGroups);
    }
    if (name == "ice-lite") {
      if (has_value) return Error("takes no value");
      desc_.ice_lite = true;
      return absl::OkStatus();
    }
    if (name == "extmap-allow-mixed") {
      desc_.extmap_allow_mixed = true;
      return absl::OkStatus();
    }
    return TransportAttribute(name, value, has_value, &session_);
  }
  return MediaAttribute(name, value, has_value);
}

absl::Status Parser::TransportAttribute(absl::string_view name,
                                        absl::string_view value, bool has_value,
                                        Transport* level) {
  if (name == "ice-ufrag") {
    if (!level->ice_ufrag.empty()) return Error("repeated");
    if (!IsValidIceUfrag(value)) return Error("not 4-256 ice-chars");
    level->ice_ufrag = std::string(value);
  } else if (name == "ice-pwd") {
    if (!level->ice_pwd.empty()) return Error("repeated");
    if (!IsValidIcePwd(value)) return Error("not 22-256 ice-chars");
    level->ice_pwd = std::string(value);
  } else if (name == "fingerprint") {
    if (level->fingerprints.size() >= kMaxFingerprints) {
      return Error("too many fingerprints");
    }
    absl::StatusOr<Fingerprint> fingerprint = ParseFingerprint(value);
    if (!fingerprint.ok()) return Error(fingerprint.status().message());
    level->fingerprints.push_back(*std::move(fingerprint));
  } else if (name == "setup") {
    if (level->setup != Setup::kNone) return Error("repeated");
    const std::optional<Setup> setup = SetupOf(value);
    if (!setup) return Error("expected actpass, active, passive or holdconn");
    level->setup = *setup;
  } else if (std::optional<Direction> direction = DirectionOf(name)) {
    if (has_value) return Error("takes no value");
    if (level->direction) return Error("a second direction");
    level->direction = direction;
  }
  // Anything else (ice-options, msid-semantic, ...) is ignored, as RFC 8866
  // asks of attributes a receiver does not use.
  return absl::OkStatus();
}

absl::Status Parser::MediaAttribute(absl::string_view name,
                                    absl::string_view value, bool has_value) {
  MediaSection& s = *section_;
  const bool rtp = !s.codecs.empty();
  auto flag = [&](bool* field) {
    if (has_value) return Error("takes no value");
    *field = true;
    return absl::OkStatus();
  };
  if (name == "mid") {
    if (!s.mid.empty()) return Error("repeated");
    if (value.empty() || value.size() > kMaxIdLength || !IsToken(value)) {
      return Error("bad identification tag");
    }
    for (const MediaSection& other : desc_.media) {
      if (other.mid == value) return Error("mid used twice");
    }
    s.mid = std::string(value);
    return absl::OkStatus();
  }
  if (name == "rtcp-mux") return flag(&s.rtcp_mux);
  if (name == "rtcp-rsize") return flag(&s.rtcp_rsize);
  if (name == "bundle-only") return flag(&s.bundle_only);
  if (name == "extmap-allow-mixed") return absl::OkStatus();
  if (rtp) {
    if (name == "rtpmap") return Rtpmap(value);
    if (name == "fmtp") return Fmtp(value);
    if (name == "rtcp-fb") return RtcpFb(value);
    if (name == "extmap") {
      absl::StatusOr<Extmap> extmap = ParseExtmap(value);
      for (const Extmap& e : s.extmaps) {
        if (extmap.ok() && e.id == extmap->id) return Error("id used twice");
      }
      return Append(std::move(extmap), &s.extmaps, kMaxExtmaps);
    }
    if (name == "ssrc") {
      return Append(ParseSsrcAttribute(value), &s.ssrcs, kMaxSsrcLines);
    }
    if (name == "ssrc-group") {
      return Append(ParseSsrcGroup(value), &s.ssrc_groups, kMaxSsrcGroups);
    }
    if (name == "msid") return Append(ParseMsid(value), &s.msids, kMaxMsids);
  }
  return TransportAttribute(name, value, has_value, &section_transport_);
}

absl::StatusOr<Codec*> Parser::CodecOf(absl::string_view token) {
  uint64_t pt;
  if (!ParseDecimal(token, 127, &pt)) return Error("bad payload type");
  for (Codec& codec : section_->codecs) {
    if (codec.payload_type == static_cast<int>(pt)) return &codec;
  }
  return Error(absl::StrCat("payload type ", pt, " is not on the m= line"));
}

absl::Status Parser::Rtpmap(absl::string_view value) {
  const std::vector<absl::string_view> f = SplitSpaces(value);
  if (f.size() != 2) return Error("expected <pt> <name>/<rate>[/<channels>]");
  absl::StatusOr<Codec*> codec = CodecOf(f[0]);
  if (!codec.ok()) return codec.status();
  if (!rtpmapped_.insert((*codec)->payload_type).second) {
    return Error("second rtpmap for the payload type");
  }
  const std::vector<absl::string_view> parts = absl::StrSplit(f[1], '/');
  uint64_t rate = 0, channels = 0;
  if (parts.size() < 2 || parts.size() > 3 || !IsToken(parts[0]) ||
      !ParseDecimal(parts[1], UINT32_MAX, &rate) || rate == 0 ||
      (parts.size() == 3 &&
       (!ParseDecimal(parts[2], 255, &channels) || channels == 0))) {
    return Error("expected <pt> <name>/<rate>[/<channels>]");
  }
  (*codec)->name = std::string(parts[0]);
  (*codec)->clock_rate = static_cast<uint32_t>(rate);
  (*codec)->channels = static_cast<int>(channels);
  return absl::OkStatus();
}

absl::Status Parser::Fmtp(absl::string_view value) {
  const size_t space = value.find(' ');
  if (space == absl::string_view::npos) return Error("expected <pt> <params>");
  absl::StatusOr<Codec*> codec = CodecOf(value.substr(0, space));
  if (!codec.ok()) return codec.status();
  if (!fmtped_.insert((*codec)->payload_type).second) {
    return Error("second fmtp for the payload type");
  }
  for (absl::string_view param : absl::StrSplit(value.substr(space + 1), ';')) {
    param = absl::StripAsciiWhitespace(param);
    if (param.empty()) return Error("empty parameter");
    if ((*codec)->fmtp.size() >= kMaxFmtpParameters) {
      return Error("too many parameters");
    }
    const size_t eq = param.find('=');
    FmtpParameter p;
    p.name = absl::AsciiStrToLower(param.substr(0, eq));
    if (eq != absl::string_view::npos) {
      p.value = std::string(param.substr(eq + 1));
      if (p.name.empty() || p.value.empty()) return Error("bad parameter");
    }
    (*codec)->fmtp.push_back(std::move(p));
  }
  return absl::OkStatus();
}

absl::Status Parser::RtcpFb(absl::string_view value) {
  const size_t space = value.find(' ');
  if (space == absl::string_view::npos || space + 1 == value.size()) {
    return Error("expected <pt> <feedback>");
  }
  const std::vector<absl::string_view> feedback =
      SplitSpaces(value.substr(space + 1));
  if (feedback.empty() || feedback.size() > 4) return Error("bad feedback");
  for (absl::string_view token : feedback) {
    if (!IsToken(token) && !absl::StrContains(token, '=')) {
      return Error("bad feedback");
    }
  }
  const std::string joined = absl::StrJoin(feedback, " ");
  std::vector<Codec*> codecs;
  if (value.substr(0, space) == "*") {
    for (Codec& codec : section_->codecs) codecs.push_back(&codec);
  } else {
    absl::StatusOr<Codec*> codec = CodecOf(value.substr(0, space));
    if (!codec.ok()) return codec.status();
    codecs.push_back(*codec);
  }
  for (Codec* codec : codecs) {
    if (codec->rtcp_fb.size() >= kMaxFeedbackPerCodec) {
      return Error("too many feedback types");
    }
    codec->rtcp_fb.push_back(joined);
  }
  return absl::OkStatus();
}

absl::Status Parser::Finish() {
  if (!seen_t_) return Error("no t= line");
  if (absl::Status s = EndSection(); !s.ok()) return s;
  absl::flat_hash_set<std::string> bundled;
  for (size_t g = 0; g < desc_.groups.size(); ++g) {
    const Group& group = desc_.groups[g];
    line_ = group_lines_[g];
    field_ = "a=group";
    for (const std::string& mid : group.mids) {
      if (desc_.FindMid(mid) == nullptr) {
        return Error(absl::StrCat("a=group names unknown mid '", mid, "'"));
      }
      if (group.semantics == "BUNDLE" && !bundled.insert(mid).second) {
        return Error(absl::StrCat("mid '", mid, "' in two BUNDLE groups"));
      }
    }
  }
  for (size_t i = 0; i < desc_.media.size(); ++i) {
    MediaSection& m = desc_.media[i];
    Transport& t = section_transports_[i];
    m.ice_ufrag = t.ice_ufrag.empty() ? session_.ice_ufrag : t.ice_ufrag;
    m.ice_pwd = t.ice_pwd.empty() ? session_.ice_pwd : t.ice_pwd;
    m.fingerprints =
        t.fingerprints.empty() ? session_.fingerprints : t.fingerprints;
    m.setup = t.setup != Setup::kNone ? t.setup : session_.setup;
    m.direction =
        t.direction.value_or(session_.direction.value_or(Direction::kSendRecv));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<SessionDescription> ParseSdp(absl::string_view text) {
  return Parser().Run(text);
}

}  // namespace cascade::sdp
