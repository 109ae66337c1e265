// Fuzzes ParseRtcpCompound: views stay inside the input, and every typed
// view rebuilt with the matching builder parses back to the same fields.
#include <array>
#include <cstring>
#include <string>
#include <vector>

#include "media/rtp/fuzz_check.h"
#include "media/rtp/rtcp.h"

namespace cascade::rtp {
namespace {

// Parses a single built packet and returns the visitor that saw it.
template <typename Visitor>
Visitor Reparse(absl::Span<const uint8_t> built) {
  Visitor visitor;
  FUZZ_CHECK(!built.empty());
  FUZZ_CHECK(ParseRtcpCompound(built, &visitor) == RtcpError::kOk);
  FUZZ_CHECK(visitor.seen == 1);
  return visitor;
}

std::vector<ReportBlock> Blocks(const ReportBlocksView& view) {
  std::vector<ReportBlock> blocks;
  for (size_t i = 0; i < view.size(); ++i) blocks.push_back(view[i]);
  return blocks;
}

struct SrCapture : RtcpVisitor {
  int seen = 0;
  uint32_t ssrc = 0;
  SenderInfo info;
  std::vector<ReportBlock> blocks;
  void OnSenderReport(const SenderReportView& v) override {
    ++seen;
    ssrc = v.sender_ssrc;
    info = v.info;
    blocks = Blocks(v.blocks);
  }
};

struct RrCapture : RtcpVisitor {
  int seen = 0;
  uint32_t ssrc = 0;
  std::vector<ReportBlock> blocks;
  void OnReceiverReport(const ReceiverReportView& v) override {
    ++seen;
    ssrc = v.sender_ssrc;
    blocks = Blocks(v.blocks);
  }
};

struct SdesCapture : RtcpVisitor {
  int seen = 0;
  uint32_t ssrc = 0;
  std::string cname;
  void OnSdes(const SdesView& v) override {
    ++seen;
    v.ForEachItem([this](uint32_t s, uint8_t type, absl::string_view value) {
      FUZZ_CHECK(type == kSdesCname);
      ssrc = s;
      cname = std::string(value);
    });
  }
};

struct ByeCapture : RtcpVisitor {
  int seen = 0;
  std::vector<uint32_t> ssrcs;
  std::string reason;
  void OnBye(const ByeView& v) override {
    ++seen;
    for (size_t i = 0; i < v.ssrc_count; ++i) ssrcs.push_back(v.ssrc(i));
    reason = std::string(v.reason);
  }
};

struct AppCapture : RtcpVisitor {
  int seen = 0;
  AppView app;
  void OnApp(const AppView& v) override {
    ++seen;
    app = v;
  }
};

struct NackCapture : RtcpVisitor {
  int seen = 0;
  uint32_t sender = 0, media = 0;
  std::vector<NackItem> items;
  void OnNack(const NackView& v) override {
    ++seen;
    sender = v.sender_ssrc;
    media = v.media_ssrc;
    for (size_t i = 0; i < v.item_count(); ++i) items.push_back(v.item(i));
  }
};

struct PliCapture : RtcpVisitor {
  int seen = 0;
  uint32_t sender = 0, media = 0;
  void OnPli(const PliView& v) override {
    ++seen;
    sender = v.sender_ssrc;
    media = v.media_ssrc;
  }
};

struct FirCapture : RtcpVisitor {
  int seen = 0;
  uint32_t sender = 0;
  std::vector<FirEntry> entries;
  void OnFir(const FirView& v) override {
    ++seen;
    sender = v.sender_ssrc;
    for (size_t i = 0; i < v.entry_count(); ++i) entries.push_back(v.entry(i));
  }
};

class Checker : public RtcpVisitor {
 public:
  void Reset(absl::Span<const uint8_t> input) {
    input_ = input;
    offset_ = 0;
    packets_ = 0;
  }
  size_t packets() const { return packets_; }

  void OnSenderReport(const SenderReportView& v) override {
    Framed(v.packet);
    FUZZ_CHECK(Within(v.extension, v.packet));
    const std::vector<ReportBlock> blocks = Blocks(v.blocks);
    const size_t size =
        BuildSenderReport(v.sender_ssrc, v.info, blocks, buffer());
    const auto again = Reparse<SrCapture>(built(size));
    FUZZ_CHECK(again.ssrc == v.sender_ssrc);
    FUZZ_CHECK(again.info == v.info);
    FUZZ_CHECK(again.blocks == blocks);
  }
  void OnReceiverReport(const ReceiverReportView& v) override {
    Framed(v.packet);
    FUZZ_CHECK(Within(v.extension, v.packet));
    const std::vector<ReportBlock> blocks = Blocks(v.blocks);
    const size_t size = BuildReceiverReport(v.sender_ssrc, blocks, buffer());
    const auto again = Reparse<RrCapture>(built(size));
    FUZZ_CHECK(again.ssrc == v.sender_ssrc);
    FUZZ_CHECK(again.blocks == blocks);
  }
  void OnSdes(const SdesView& v) override {
    Framed(v.packet());
    size_t items = 0;
    v.ForEachItem([&](uint32_t ssrc, uint8_t type, absl::string_view value) {
      FUZZ_CHECK(type != 0);
      const absl::Span<const uint8_t> bytes(
          reinterpret_cast<const uint8_t*>(value.data()), value.size());
      FUZZ_CHECK(Within(bytes, v.packet()));
      FUZZ_CHECK(++items <= v.packet().size());
      if (type != kSdesCname || value.empty()) return;
      const size_t size = BuildSdesCname(ssrc, value, buffer());
      const auto again = Reparse<SdesCapture>(built(size));
      FUZZ_CHECK(again.ssrc == ssrc && again.cname == value);
    });
  }
  void OnBye(const ByeView& v) override {
    Framed(v.packet);
    FUZZ_CHECK(Within(v.ssrc_bytes, v.packet));
    std::vector<uint32_t> ssrcs;
    for (size_t i = 0; i < v.ssrc_count; ++i) ssrcs.push_back(v.ssrc(i));
    if (ssrcs.empty()) return;
    const size_t size = BuildBye(ssrcs, v.reason, buffer());
    const auto again = Reparse<ByeCapture>(built(size));
    FUZZ_CHECK(again.ssrcs == ssrcs && again.reason == v.reason);
  }
  void OnApp(const AppView& v) override {
    Framed(v.packet);
    FUZZ_CHECK(Within(v.data, v.packet));
    FUZZ_CHECK(v.name.size() == 4 && v.subtype < 32);
    if (v.data.size() % 4 != 0) return;  // only with RTCP padding
    const size_t size = BuildApp(v.subtype, v.ssrc, v.name, v.data, buffer());
    const auto again = Reparse<AppCapture>(built(size));
    FUZZ_CHECK(again.app.subtype == v.subtype && again.app.ssrc == v.ssrc);
    FUZZ_CHECK(again.app.name == v.name);
    FUZZ_CHECK(again.app.data.size() == v.data.size());
    FUZZ_CHECK(
        v.data.empty() ||
        std::memcmp(again.app.data.data(), v.data.data(), v.data.size()) == 0);
  }
  void OnNack(const NackView& v) override {
    Framed(v.packet);
    FUZZ_CHECK(Within(v.fci, v.packet));
    FUZZ_CHECK(v.item_count() > 0);
    // Each item expands to sorted numbers that compress back to itself.
    std::array<uint16_t, 17> seqs;
    for (size_t i = 0; i < v.item_count(); ++i) {
      const NackItem item = v.item(i);
      const size_t n = ExpandNackItem(item, &seqs);
      FUZZ_CHECK(n >= 1 && n <= 17 && seqs[0] == item.pid);
      const size_t size =
          BuildNack(v.sender_ssrc, v.media_ssrc,
                    absl::MakeConstSpan(seqs.data(), n), buffer());
      const auto again = Reparse<NackCapture>(built(size));
      FUZZ_CHECK(again.sender == v.sender_ssrc && again.media == v.media_ssrc);
      FUZZ_CHECK(again.items.size() == 1 && again.items[0] == item);
    }
  }
  void OnPli(const PliView& v) override {
    Framed(v.packet);
    const size_t size = BuildPli(v.sender_ssrc, v.media_ssrc, buffer());
    const auto again = Reparse<PliCapture>(built(size));
    FUZZ_CHECK(again.sender == v.sender_ssrc && again.media == v.media_ssrc);
  }
  void OnFir(const FirView& v) override {
    Framed(v.packet);
    FUZZ_CHECK(Within(v.fci, v.packet));
    std::vector<FirEntry> entries;
    for (size_t i = 0; i < v.entry_count(); ++i) entries.push_back(v.entry(i));
    FUZZ_CHECK(!entries.empty());
    const size_t size = BuildFir(v.sender_ssrc, entries, buffer());
    const auto again = Reparse<FirCapture>(built(size));
    FUZZ_CHECK(again.sender == v.sender_ssrc && again.entries == entries);
  }
  void OnUnknown(uint8_t, uint8_t, absl::Span<const uint8_t> packet) override {
    Framed(packet);
  }

 private:
  // Packets arrive in order, back to back, and tile the input exactly.
  void Framed(absl::Span<const uint8_t> packet) {
    FUZZ_CHECK(packet.size() >= kRtcpHeaderSize && packet.size() % 4 == 0);
    FUZZ_CHECK(packet.data() == input_.data() + offset_);
    FUZZ_CHECK(Within(packet, input_));
    offset_ += packet.size();
    ++packets_;
  }
  absl::Span<uint8_t> buffer() { return absl::MakeSpan(buffer_); }
  absl::Span<const uint8_t> built(size_t size) const {
    return absl::MakeConstSpan(buffer_.data(), size);
  }

  absl::Span<const uint8_t> input_;
  size_t offset_ = 0;
  size_t packets_ = 0;
  // Large enough for any rebuilt packet: SDES/BYE/APP are bounded by the
  // input's 16-bit length field.
  std::array<uint8_t, 4 * 65536 + 16> buffer_;
};

}  // namespace
}  // namespace cascade::rtp

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace cascade::rtp;
  const absl::Span<const uint8_t> input(data, size);
  // One checker for the process: its rebuild buffer is large.
  static Checker* const checker = new Checker();
  checker->Reset(input);
  size_t unknown = 0;
  const RtcpError error = ParseRtcpCompound(input, checker, &unknown);
  // Validation alone agrees with the full parse.
  FUZZ_CHECK(ParseRtcpCompound(input, nullptr) == error);
  if (error != RtcpError::kOk) {
    FUZZ_CHECK(checker->packets() == 0);
    return 0;
  }
  FUZZ_CHECK(checker->packets() >= 1 && unknown <= checker->packets());
  return 0;
}
