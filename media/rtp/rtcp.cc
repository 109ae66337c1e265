#include "media/rtp/rtcp.h"

#include <algorithm>
#include <cstring>

#include "media/rtp/seq.h"

namespace cascade::rtp {

using internal::ReadU16;
using internal::ReadU24;
using internal::ReadU32;
using internal::ReadU64;
using internal::WriteU16;
using internal::WriteU24;
using internal::WriteU32;
using internal::WriteU64;

absl::string_view ErrorName(RtcpError error) {
  switch (error) {
    case RtcpError::kOk:
      return "ok";
    case RtcpError::kEmpty:
      return "empty";
    case RtcpError::kTooShort:
      return "too_short";
    case RtcpError::kBadVersion:
      return "bad_version";
    case RtcpError::kLengthOverrun:
      return "length_overrun";
    case RtcpError::kPaddingNotLast:
      return "padding_not_last";
    case RtcpError::kBadPadding:
      return "bad_padding";
    case RtcpError::kSrTooShort:
      return "sr_too_short";
    case RtcpError::kRrTooShort:
      return "rr_too_short";
    case RtcpError::kSdesChunkOverrun:
      return "sdes_chunk_overrun";
    case RtcpError::kSdesItemOverrun:
      return "sdes_item_overrun";
    case RtcpError::kByeTooShort:
      return "bye_too_short";
    case RtcpError::kByeReasonOverrun:
      return "bye_reason_overrun";
    case RtcpError::kAppTooShort:
      return "app_too_short";
    case RtcpError::kFeedbackTooShort:
      return "feedback_too_short";
    case RtcpError::kNackEmpty:
      return "nack_empty";
    case RtcpError::kNackBadLength:
      return "nack_bad_length";
    case RtcpError::kFirEmpty:
      return "fir_empty";
    case RtcpError::kFirBadLength:
      return "fir_bad_length";
  }
  return "unknown";
}

bool ReportBlock::operator==(const ReportBlock& other) const {
  return ssrc == other.ssrc && fraction_lost == other.fraction_lost &&
         cumulative_lost == other.cumulative_lost &&
         extended_highest_sequence == other.extended_highest_sequence &&
         jitter == other.jitter && last_sr == other.last_sr &&
         delay_since_last_sr == other.delay_since_last_sr;
}

bool SenderInfo::operator==(const SenderInfo& other) const {
  return ntp_timestamp == other.ntp_timestamp &&
         rtp_timestamp == other.rtp_timestamp &&
         packet_count == other.packet_count && octet_count == other.octet_count;
}

ReportBlock ReportBlocksView::operator[](size_t i) const {
  const uint8_t* p = bytes_.data() + i * kReportBlockSize;
  ReportBlock block;
  block.ssrc = ReadU32(p);
  block.fraction_lost = p[4];
  const uint32_t lost = ReadU24(p + 5);
  // Sign-extend the 24-bit field.
  block.cumulative_lost = static_cast<int32_t>(lost ^ 0x800000u) - 0x800000;
  block.extended_highest_sequence = ReadU32(p + 8);
  block.jitter = ReadU32(p + 12);
  block.last_sr = ReadU32(p + 16);
  block.delay_since_last_sr = ReadU32(p + 20);
  return block;
}

uint32_t ByeView::ssrc(size_t i) const {
  return ReadU32(ssrc_bytes.data() + 4 * i);
}

NackItem NackView::item(size_t i) const {
  return NackItem{ReadU16(fci.data() + 4 * i), ReadU16(fci.data() + 4 * i + 2)};
}

FirEntry FirView::entry(size_t i) const {
  return FirEntry{ReadU32(fci.data() + 8 * i), fci[8 * i + 4]};
}

size_t ExpandNackItem(const NackItem& item, std::array<uint16_t, 17>* out) {
  size_t n = 0;
  (*out)[n++] = item.pid;
  for (int bit = 0; bit < 16; ++bit) {
    if ((item.blp >> bit) & 1) {
      (*out)[n++] = static_cast<uint16_t>(item.pid + bit + 1);
    }
  }
  return n;
}

namespace {

// Checks an SDES body against the layout SdesView::ForEachItem walks.
RtcpError ValidateSdes(uint8_t chunk_count, absl::Span<const uint8_t> body) {
  size_t pos = 0;
  for (uint8_t chunk = 0; chunk < chunk_count; ++chunk) {
    if (body.size() - pos < 4) return RtcpError::kSdesChunkOverrun;
    pos += 4;
    while (true) {
      if (pos >= body.size()) return RtcpError::kSdesChunkOverrun;
      if (body[pos] == 0) break;
      if (body.size() - pos < 2 || body.size() - pos - 2 < body[pos + 1]) {
        return RtcpError::kSdesItemOverrun;
      }
      pos += 2 + body[pos + 1];
    }
    pos = (pos + 4) & ~size_t{3};
    if (pos > body.size()) return RtcpError::kSdesChunkOverrun;
  }
  return RtcpError::kOk;
}

// Validates one framed packet (header checked by the caller) and, when
// `visitor` is set, hands it over. `body` excludes the header and padding.
RtcpError ParsePacket(absl::Span<const uint8_t> packet,
                      absl::Span<const uint8_t> body, RtcpVisitor* visitor,
                      size_t* unknown_count) {
  const uint8_t count = packet[0] & 0x1f;
  const uint8_t type = packet[1];
  const uint8_t* b = body.data();
  switch (type) {
    case kRtcpSr: {
      const size_t blocks = kReportBlockSize * count;
      if (body.size() < 24 + blocks) return RtcpError::kSrTooShort;
      if (visitor == nullptr) return RtcpError::kOk;
      SenderReportView view;
      view.sender_ssrc = ReadU32(b);
      view.info.ntp_timestamp = ReadU64(b + 4);
      view.info.rtp_timestamp = ReadU32(b + 12);
      view.info.packet_count = ReadU32(b + 16);
      view.info.octet_count = ReadU32(b + 20);
      view.blocks = ReportBlocksView(body.subspan(24, blocks));
      view.extension = body.subspan(24 + blocks);
      view.packet = packet;
      visitor->OnSenderReport(view);
      return RtcpError::kOk;
    }
    case kRtcpRr: {
      const size_t blocks = kReportBlockSize * count;
      if (body.size() < 4 + blocks) return RtcpError::kRrTooShort;
      if (visitor == nullptr) return RtcpError::kOk;
      ReceiverReportView view;
      view.sender_ssrc = ReadU32(b);
      view.blocks = ReportBlocksView(body.subspan(4, blocks));
      view.extension = body.subspan(4 + blocks);
      view.packet = packet;
      visitor->OnReceiverReport(view);
      return RtcpError::kOk;
    }
    case kRtcpSdes: {
      const RtcpError error = ValidateSdes(count, body);
      if (error != RtcpError::kOk) return error;
      if (visitor != nullptr) visitor->OnSdes(SdesView(count, body, packet));
      return RtcpError::kOk;
    }
    case kRtcpBye: {
      const size_t ssrcs = 4 * size_t{count};
      if (body.size() < ssrcs) return RtcpError::kByeTooShort;
      absl::string_view reason;
      if (body.size() > ssrcs) {
        const size_t length = body[ssrcs];
        if (body.size() - ssrcs - 1 < length) {
          return RtcpError::kByeReasonOverrun;
        }
        reason = absl::string_view(reinterpret_cast<const char*>(b + ssrcs + 1),
                                   length);
      }
      if (visitor == nullptr) return RtcpError::kOk;
      ByeView view;
      view.ssrc_count = count;
      view.ssrc_bytes = body.subspan(0, ssrcs);
      view.reason = reason;
      view.packet = packet;
      visitor->OnBye(view);
      return RtcpError::kOk;
    }
    case kRtcpApp: {
      if (body.size() < 8) return RtcpError::kAppTooShort;
      if (visitor == nullptr) return RtcpError::kOk;
      AppView view;
      view.subtype = count;
      view.ssrc = ReadU32(b);
      view.name = absl::string_view(reinterpret_cast<const char*>(b + 4), 4);
      view.data = body.subspan(8);
      view.packet = packet;
      visitor->OnApp(view);
      return RtcpError::kOk;
    }
    case kRtcpRtpfb:
    case kRtcpPsfb: {
      if (body.size() < 8) return RtcpError::kFeedbackTooShort;
      const uint32_t sender_ssrc = ReadU32(b);
      const uint32_t media_ssrc = ReadU32(b + 4);
      const absl::Span<const uint8_t> fci = body.subspan(8);
      if (type == kRtcpRtpfb && count == kFmtNack) {
        if (fci.empty()) return RtcpError::kNackEmpty;
        if (fci.size() % 4 != 0) return RtcpError::kNackBadLength;
        if (visitor != nullptr) {
          visitor->OnNack(NackView{sender_ssrc, media_ssrc, fci, packet});
        }
        return RtcpError::kOk;
      }
      if (type == kRtcpPsfb && count == kFmtPli) {
        if (visitor != nullptr) {
          visitor->OnPli(PliView{sender_ssrc, media_ssrc, packet});
        }
        return RtcpError::kOk;
      }
      if (type == kRtcpPsfb && count == kFmtFir) {
        if (fci.empty()) return RtcpError::kFirEmpty;
        if (fci.size() % 8 != 0) return RtcpError::kFirBadLength;
        if (visitor != nullptr) {
          visitor->OnFir(FirView{sender_ssrc, media_ssrc, fci, packet});
        }
        return RtcpError::kOk;
      }
      break;
    }
    default:
      break;
  }
  if (visitor != nullptr) {
    if (unknown_count != nullptr) ++*unknown_count;
    visitor->OnUnknown(type, count, packet);
  }
  return RtcpError::kOk;
}

// One pass over the compound; visits only when `visitor` is set.
RtcpError WalkCompound(absl::Span<const uint8_t> datagram, RtcpVisitor* visitor,
                       size_t* unknown_count) {
  size_t pos = 0;
  while (pos < datagram.size()) {
    const size_t left = datagram.size() - pos;
    if (left < kRtcpHeaderSize) return RtcpError::kTooShort;
    const uint8_t* p = datagram.data() + pos;
    if ((p[0] >> 6) != 2) return RtcpError::kBadVersion;
    const size_t size = 4 * (size_t{ReadU16(p + 2)} + 1);
    if (size > left) return RtcpError::kLengthOverrun;
    const absl::Span<const uint8_t> packet = datagram.subspan(pos, size);
    size_t padding = 0;
    if (p[0] & 0x20) {
      if (size != left) return RtcpError::kPaddingNotLast;
      padding = packet[size - 1];
      if (padding == 0 || padding > size - kRtcpHeaderSize) {
        return RtcpError::kBadPadding;
      }
    }
    const RtcpError error = ParsePacket(
        packet, packet.subspan(4, size - 4 - padding), visitor, unknown_count);
    if (error != RtcpError::kOk) return error;
    pos += size;
  }
  return RtcpError::kOk;
}

}  // namespace

RtcpError ParseRtcpCompound(absl::Span<const uint8_t> datagram,
                            RtcpVisitor* visitor, size_t* unknown_count) {
  if (unknown_count != nullptr) *unknown_count = 0;
  if (datagram.empty()) return RtcpError::kEmpty;
  const RtcpError error = WalkCompound(datagram, nullptr, nullptr);
  if (error != RtcpError::kOk || visitor == nullptr) return error;
  return WalkCompound(datagram, visitor, unknown_count);
}

// ---- Builders ----

namespace {

// Writes the common header for a packet of `size` bytes (a multiple of 4).
void WriteHeader(uint8_t count_or_fmt, uint8_t type, size_t size, uint8_t* p) {
  p[0] = static_cast<uint8_t>(0x80 | count_or_fmt);
  p[1] = type;
  WriteU16(p + 2, static_cast<uint16_t>(size / 4 - 1));
}

void WriteReportBlock(const ReportBlock& block, uint8_t* p) {
  WriteU32(p, block.ssrc);
  p[4] = block.fraction_lost;
  // RFC 3550 6.4.1: the 24-bit field saturates.
  const int32_t lost =
      std::clamp<int32_t>(block.cumulative_lost, -0x800000, 0x7fffff);
  WriteU24(p + 5, static_cast<uint32_t>(lost) & 0xffffff);
  WriteU32(p + 8, block.extended_highest_sequence);
  WriteU32(p + 12, block.jitter);
  WriteU32(p + 16, block.last_sr);
  WriteU32(p + 20, block.delay_since_last_sr);
}

void WriteReportBlocks(absl::Span<const ReportBlock> blocks, uint8_t* p) {
  for (const ReportBlock& block : blocks) {
    WriteReportBlock(block, p);
    p += kReportBlockSize;
  }
}

constexpr size_t RoundUp4(size_t n) { return (n + 3) & ~size_t{3}; }

// Calls emit(NackItem) for the entries covering sorted `seqs`; false when
// `seqs` is empty or not sorted in wrap-aware order.
template <typename Emit>
bool CompressNack(absl::Span<const uint16_t> seqs, Emit&& emit) {
  if (seqs.empty()) return false;
  NackItem item{seqs[0], 0};
  for (size_t i = 1; i < seqs.size(); ++i) {
    const int32_t distance = SeqDistance(seqs[i], item.pid);
    if (SeqOlder(seqs[i], seqs[i - 1])) return false;
    if (distance == 0) continue;
    if (distance <= 16) {
      item.blp = static_cast<uint16_t>(item.blp | (1u << (distance - 1)));
    } else {
      emit(item);
      item = NackItem{seqs[i], 0};
    }
  }
  emit(item);
  return true;
}

}  // namespace

size_t BuildSenderReport(uint32_t sender_ssrc, const SenderInfo& info,
                         absl::Span<const ReportBlock> blocks,
                         absl::Span<uint8_t> out) {
  if (blocks.size() > kMaxReportBlocks) return 0;
  const size_t size = 4 + 24 + kReportBlockSize * blocks.size();
  if (size > out.size()) return 0;
  uint8_t* p = out.data();
  WriteHeader(static_cast<uint8_t>(blocks.size()), kRtcpSr, size, p);
  WriteU32(p + 4, sender_ssrc);
  WriteU64(p + 8, info.ntp_timestamp);
  WriteU32(p + 16, info.rtp_timestamp);
  WriteU32(p + 20, info.packet_count);
  WriteU32(p + 24, info.octet_count);
  WriteReportBlocks(blocks, p + 28);
  return size;
}

size_t BuildReceiverReport(uint32_t sender_ssrc,
                           absl::Span<const ReportBlock> blocks,
                           absl::Span<uint8_t> out) {
  if (blocks.size() > kMaxReportBlocks) return 0;
  const size_t size = 4 + 4 + kReportBlockSize * blocks.size();
  if (size > out.size()) return 0;
  uint8_t* p = out.data();
  WriteHeader(static_cast<uint8_t>(blocks.size()), kRtcpRr, size, p);
  WriteU32(p + 4, sender_ssrc);
  WriteReportBlocks(blocks, p + 8);
  return size;
}

size_t BuildSdesCname(uint32_t ssrc, absl::string_view cname,
                      absl::Span<uint8_t> out) {
  if (cname.empty() || cname.size() > 255) return 0;
  // SSRC, type, length, text, then at least one null octet to a boundary.
  const size_t size = 4 + 4 + RoundUp4(2 + cname.size() + 1);
  if (size > out.size()) return 0;
  uint8_t* p = out.data();
  std::memset(p, 0, size);
  WriteHeader(1, kRtcpSdes, size, p);
  WriteU32(p + 4, ssrc);
  p[8] = kSdesCname;
  p[9] = static_cast<uint8_t>(cname.size());
  std::memcpy(p + 10, cname.data(), cname.size());
  return size;
}

size_t BuildBye(absl::Span<const uint32_t> ssrcs, absl::string_view reason,
                absl::Span<uint8_t> out) {
  if (ssrcs.empty() || ssrcs.size() > 31 || reason.size() > 255) return 0;
  const size_t reason_size = reason.empty() ? 0 : RoundUp4(1 + reason.size());
  const size_t size = 4 + 4 * ssrcs.size() + reason_size;
  if (size > out.size()) return 0;
  uint8_t* p = out.data();
  std::memset(p, 0, size);
  WriteHeader(static_cast<uint8_t>(ssrcs.size()), kRtcpBye, size, p);
  size_t pos = 4;
  for (uint32_t ssrc : ssrcs) {
    WriteU32(p + pos, ssrc);
    pos += 4;
  }
  if (!reason.empty()) {
    p[pos] = static_cast<uint8_t>(reason.size());
    std::memcpy(p + pos + 1, reason.data(), reason.size());
  }
  return size;
}

size_t BuildApp(uint8_t subtype, uint32_t ssrc, absl::string_view name,
                absl::Span<const uint8_t> data, absl::Span<uint8_t> out) {
  if (subtype > 31 || name.size() != 4 || data.size() % 4 != 0) return 0;
  const size_t size = 12 + data.size();
  if (size > out.size() || size / 4 - 1 > 0xffff) return 0;
  uint8_t* p = out.data();
  WriteHeader(subtype, kRtcpApp, size, p);
  WriteU32(p + 4, ssrc);
  std::memcpy(p + 8, name.data(), 4);
  if (!data.empty()) std::memcpy(p + 12, data.data(), data.size());
  return size;
}

size_t NackItemCount(absl::Span<const uint16_t> seqs) {
  size_t count = 0;
  if (!CompressNack(seqs, [&count](const NackItem&) { ++count; })) return 0;
  return count;
}

size_t BuildNack(uint32_t sender_ssrc, uint32_t media_ssrc,
                 absl::Span<const uint16_t> seqs, absl::Span<uint8_t> out) {
  const size_t items = NackItemCount(seqs);
  if (items == 0) return 0;
  const size_t size = 12 + 4 * items;
  if (size > out.size() || size / 4 - 1 > 0xffff) return 0;
  uint8_t* p = out.data();
  WriteHeader(kFmtNack, kRtcpRtpfb, size, p);
  WriteU32(p + 4, sender_ssrc);
  WriteU32(p + 8, media_ssrc);
  size_t pos = 12;
  CompressNack(seqs, [p, &pos](const NackItem& item) {
    WriteU16(p + pos, item.pid);
    WriteU16(p + pos + 2, item.blp);
    pos += 4;
  });
  return size;
}

size_t BuildPli(uint32_t sender_ssrc, uint32_t media_ssrc,
                absl::Span<uint8_t> out) {
  constexpr size_t kSize = 12;
  if (kSize > out.size()) return 0;
  uint8_t* p = out.data();
  WriteHeader(kFmtPli, kRtcpPsfb, kSize, p);
  WriteU32(p + 4, sender_ssrc);
  WriteU32(p + 8, media_ssrc);
  return kSize;
}

size_t BuildFir(uint32_t sender_ssrc, absl::Span<const FirEntry> entries,
                absl::Span<uint8_t> out) {
  if (entries.empty()) return 0;
  const size_t size = 12 + 8 * entries.size();
  if (size > out.size() || size / 4 - 1 > 0xffff) return 0;
  uint8_t* p = out.data();
  std::memset(p, 0, size);
  WriteHeader(kFmtFir, kRtcpPsfb, size, p);
  WriteU32(p + 4, sender_ssrc);
  // Media source SSRC stays 0 (RFC 5104 4.3.1.2); targets are in the FCI.
  size_t pos = 12;
  for (const FirEntry& entry : entries) {
    WriteU32(p + pos, entry.ssrc);
    p[pos + 4] = entry.sequence_number;
    pos += 8;
  }
  return size;
}

}  // namespace cascade::rtp
