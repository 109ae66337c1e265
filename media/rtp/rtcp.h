// RTCP (RFC 3550, RFC 4585, RFC 5104): a compound-packet parser that hands
// typed views to a visitor, and builders that write into a caller's buffer.
//
// Nothing here allocates; views point into the parsed bytes and are only
// valid during the visitor call (or while those bytes live).
#ifndef CASCADE_MEDIA_RTP_RTCP_H_
#define CASCADE_MEDIA_RTP_RTCP_H_

#include <array>
#include <cstddef>
#include <cstdint>

#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "media/rtp/bytes.h"

namespace cascade::rtp {

// RTCP packet types.
inline constexpr uint8_t kRtcpSr = 200;
inline constexpr uint8_t kRtcpRr = 201;
inline constexpr uint8_t kRtcpSdes = 202;
inline constexpr uint8_t kRtcpBye = 203;
inline constexpr uint8_t kRtcpApp = 204;
inline constexpr uint8_t kRtcpRtpfb = 205;  // transport layer feedback
inline constexpr uint8_t kRtcpPsfb = 206;   // payload-specific feedback
// Feedback message types (FMT).
inline constexpr uint8_t kFmtNack = 1;  // RTPFB: generic NACK
inline constexpr uint8_t kFmtPli = 1;   // PSFB: picture loss indication
inline constexpr uint8_t kFmtFir = 4;   // PSFB: full intra request

inline constexpr uint8_t kSdesCname = 1;

inline constexpr size_t kRtcpHeaderSize = 4;
inline constexpr size_t kReportBlockSize = 24;
inline constexpr size_t kMaxReportBlocks = 31;

// Why an RTCP compound packet was rejected: one value per drop reason.
enum class RtcpError : uint8_t {
  kOk = 0,
  kEmpty,             // zero bytes
  kTooShort,          // fewer than 4 bytes left for a packet header
  kBadVersion,        // version field is not 2
  kLengthOverrun,     // length field runs past the end of the datagram
  kPaddingNotLast,    // P set on a packet that is not the last one
  kBadPadding,        // padding count 0, or longer than the packet body
  kSrTooShort,        // SR shorter than its sender info + report blocks
  kRrTooShort,        // RR shorter than its report blocks
  kSdesChunkOverrun,  // SDES chunk count or items run past the packet
  kSdesItemOverrun,   // an SDES item's length runs past the packet
  kByeTooShort,       // BYE shorter than its SSRC count
  kByeReasonOverrun,  // BYE reason length runs past the packet
  kAppTooShort,       // APP shorter than SSRC + name
  kFeedbackTooShort,  // RTPFB/PSFB shorter than its two SSRCs
  kNackEmpty,         // generic NACK without any FCI entry
  kNackBadLength,     // NACK FCI not a whole number of 4-byte entries
  kFirEmpty,          // FIR without any entry
  kFirBadLength,      // FIR FCI not a whole number of 8-byte entries
};

absl::string_view ErrorName(RtcpError error);

struct ReportBlock {
  uint32_t ssrc = 0;
  uint8_t fraction_lost = 0;
  int32_t cumulative_lost = 0;  // 24-bit signed on the wire
  uint32_t extended_highest_sequence = 0;
  uint32_t jitter = 0;
  uint32_t last_sr = 0;              // middle 32 bits of the last SR's NTP time
  uint32_t delay_since_last_sr = 0;  // units of 1/65536 s

  bool operator==(const ReportBlock& other) const;
};

struct SenderInfo {
  uint64_t ntp_timestamp = 0;
  uint32_t rtp_timestamp = 0;
  uint32_t packet_count = 0;
  uint32_t octet_count = 0;

  bool operator==(const SenderInfo& other) const;
};

// Report blocks of an SR or RR, decoded on access.
class ReportBlocksView {
 public:
  ReportBlocksView() = default;
  explicit ReportBlocksView(absl::Span<const uint8_t> bytes) : bytes_(bytes) {}
  size_t size() const { return bytes_.size() / kReportBlockSize; }
  ReportBlock operator[](size_t i) const;

 private:
  absl::Span<const uint8_t> bytes_;
};

struct SenderReportView {
  uint32_t sender_ssrc = 0;
  SenderInfo info;
  ReportBlocksView blocks;
  absl::Span<const uint8_t> extension;  // profile-specific, usually empty
  absl::Span<const uint8_t> packet;     // the whole RTCP packet
};

struct ReceiverReportView {
  uint32_t sender_ssrc = 0;
  ReportBlocksView blocks;
  absl::Span<const uint8_t> extension;
  absl::Span<const uint8_t> packet;
};

// An SDES packet whose chunks and items were validated by the parser.
class SdesView {
 public:
  SdesView() = default;
  SdesView(uint8_t chunk_count, absl::Span<const uint8_t> chunks,
           absl::Span<const uint8_t> packet)
      : chunk_count_(chunk_count), chunks_(chunks), packet_(packet) {}

  uint8_t chunk_count() const { return chunk_count_; }
  absl::Span<const uint8_t> packet() const { return packet_; }

  // Calls f(uint32_t ssrc, uint8_t item_type, absl::string_view value) for
  // every item of every chunk, in order.
  template <typename F>
  void ForEachItem(F&& f) const;

 private:
  uint8_t chunk_count_ = 0;
  absl::Span<const uint8_t> chunks_;
  absl::Span<const uint8_t> packet_;
};

struct ByeView {
  uint8_t ssrc_count = 0;
  absl::Span<const uint8_t> ssrc_bytes;
  absl::string_view reason;  // empty when absent
  absl::Span<const uint8_t> packet;

  uint32_t ssrc(size_t i) const;  // i < ssrc_count
};

struct AppView {
  uint8_t subtype = 0;  // 0..31
  uint32_t ssrc = 0;
  absl::string_view name;  // always 4 bytes
  absl::Span<const uint8_t> data;
  absl::Span<const uint8_t> packet;
};

// One generic NACK FCI entry: `pid` is lost, and bit i of `blp` marks
// pid + i + 1 as lost too.
struct NackItem {
  uint16_t pid = 0;
  uint16_t blp = 0;

  bool operator==(const NackItem& other) const {
    return pid == other.pid && blp == other.blp;
  }
};

// Writes the sequence numbers an item names, in order, into out; returns
// how many (1..17).
size_t ExpandNackItem(const NackItem& item, std::array<uint16_t, 17>* out);

struct NackView {
  uint32_t sender_ssrc = 0;
  uint32_t media_ssrc = 0;
  absl::Span<const uint8_t> fci;  // validated: a non-empty multiple of 4
  absl::Span<const uint8_t> packet;

  size_t item_count() const { return fci.size() / 4; }
  NackItem item(size_t i) const;
  // Calls f(uint16_t seq) for every lost sequence number, in packet order.
  template <typename F>
  void ForEachSequenceNumber(F&& f) const;
};

struct PliView {
  uint32_t sender_ssrc = 0;
  uint32_t media_ssrc = 0;
  absl::Span<const uint8_t> packet;
};

struct FirEntry {
  uint32_t ssrc = 0;
  uint8_t sequence_number = 0;

  bool operator==(const FirEntry& other) const {
    return ssrc == other.ssrc && sequence_number == other.sequence_number;
  }
};

struct FirView {
  uint32_t sender_ssrc = 0;
  uint32_t media_ssrc = 0;        // 0 per RFC 5104
  absl::Span<const uint8_t> fci;  // validated: a non-empty multiple of 8
  absl::Span<const uint8_t> packet;

  size_t entry_count() const { return fci.size() / 8; }
  FirEntry entry(size_t i) const;
};

// Receives the packets of a compound in order. Override what you need.
class RtcpVisitor {
 public:
  virtual ~RtcpVisitor() = default;
  virtual void OnSenderReport(const SenderReportView&) {}
  virtual void OnReceiverReport(const ReceiverReportView&) {}
  virtual void OnSdes(const SdesView&) {}
  virtual void OnBye(const ByeView&) {}
  virtual void OnApp(const AppView&) {}
  virtual void OnNack(const NackView&) {}
  virtual void OnPli(const PliView&) {}
  virtual void OnFir(const FirView&) {}
  // A well-framed packet of a type (or feedback FMT) this library does not
  // decode; `count_or_fmt` is the 5-bit field of its first byte.
  virtual void OnUnknown(uint8_t packet_type, uint8_t count_or_fmt,
                         absl::Span<const uint8_t> packet) {
    (void)packet_type;
    (void)count_or_fmt;
    (void)packet;
  }
};

// Parses an RTCP compound packet. The whole datagram is validated first: on
// any error the visitor is not called at all, so a half-valid compound never
// acts. On kOk each packet is handed to the visitor in order (visitor may be
// null to only validate). Per RFC 5506 a compound need not begin with an SR
// or RR (reduced-size RTCP carries a lone PLI or NACK). `unknown_count`, if
// not null, receives the number of packets passed to OnUnknown.
RtcpError ParseRtcpCompound(absl::Span<const uint8_t> datagram,
                            RtcpVisitor* visitor,
                            size_t* unknown_count = nullptr);

// ---- Builders ----
// Each writes one RTCP packet at the start of `out` and returns its size, or
// 0 when the input is invalid or the packet does not fit. Concatenate the
// results for a compound packet.

size_t BuildSenderReport(uint32_t sender_ssrc, const SenderInfo& info,
                         absl::Span<const ReportBlock> blocks,
                         absl::Span<uint8_t> out);

size_t BuildReceiverReport(uint32_t sender_ssrc,
                           absl::Span<const ReportBlock> blocks,
                           absl::Span<uint8_t> out);

// One chunk with one CNAME item (1..255 bytes).
size_t BuildSdesCname(uint32_t ssrc, absl::string_view cname,
                      absl::Span<uint8_t> out);

// 1..31 SSRCs and an optional reason of up to 255 bytes.
size_t BuildBye(absl::Span<const uint32_t> ssrcs, absl::string_view reason,
                absl::Span<uint8_t> out);

// `name` is exactly 4 bytes; `data` a multiple of 4 bytes; subtype 0..31.
size_t BuildApp(uint8_t subtype, uint32_t ssrc, absl::string_view name,
                absl::Span<const uint8_t> data, absl::Span<uint8_t> out);

// Number of FCI entries BuildNack needs for `seqs` (sorted by SeqLess, as
// below).
size_t NackItemCount(absl::Span<const uint16_t> seqs);

// Generic NACK naming every number of `seqs`, which must be non-empty and
// sorted oldest first in wrap-aware order (SeqLess, e.g. 65534, 65535, 0, 1).
// Duplicates are allowed. Each entry covers a PID and the 16 numbers after
// it, so runs across the 16-bit wrap share entries.
size_t BuildNack(uint32_t sender_ssrc, uint32_t media_ssrc,
                 absl::Span<const uint16_t> seqs, absl::Span<uint8_t> out);

size_t BuildPli(uint32_t sender_ssrc, uint32_t media_ssrc,
                absl::Span<uint8_t> out);

// One or more entries (media SSRC + command sequence number).
size_t BuildFir(uint32_t sender_ssrc, absl::Span<const FirEntry> entries,
                absl::Span<uint8_t> out);

// ---- Template definitions ----

template <typename F>
void SdesView::ForEachItem(F&& f) const {
  // The parser checked every bound below; these loops just walk the layout.
  size_t pos = 0;
  for (uint8_t chunk = 0; chunk < chunk_count_; ++chunk) {
    const uint32_t ssrc = internal::ReadU32(chunks_.data() + pos);
    pos += 4;
    while (chunks_[pos] != 0) {
      const uint8_t type = chunks_[pos];
      const uint8_t length = chunks_[pos + 1];
      f(ssrc, type,
        absl::string_view(
            reinterpret_cast<const char*>(chunks_.data() + pos + 2), length));
      pos += 2 + length;
    }
    pos = (pos + 4) & ~size_t{3};  // the null item, then pad to 4
  }
}

template <typename F>
void NackView::ForEachSequenceNumber(F&& f) const {
  std::array<uint16_t, 17> seqs;
  for (size_t i = 0; i < item_count(); ++i) {
    const size_t n = ExpandNackItem(item(i), &seqs);
    for (size_t j = 0; j < n; ++j) f(seqs[j]);
  }
}

}  // namespace cascade::rtp

#endif  // CASCADE_MEDIA_RTP_RTCP_H_
