#include "media/rtp/rtp.h"

#include <cstring>

#include "media/rtp/bytes.h"

namespace cascade::rtp {

using internal::ReadU16;
using internal::ReadU32;
using internal::WriteU16;
using internal::WriteU32;

absl::string_view ErrorName(RtpError error) {
  switch (error) {
    case RtpError::kOk:
      return "ok";
    case RtpError::kTooShort:
      return "too_short";
    case RtpError::kBadVersion:
      return "bad_version";
    case RtpError::kCsrcOverrun:
      return "csrc_overrun";
    case RtpError::kExtensionHeaderOverrun:
      return "extension_header_overrun";
    case RtpError::kExtensionOverrun:
      return "extension_overrun";
    case RtpError::kPaddingZero:
      return "padding_zero";
    case RtpError::kPaddingOverrun:
      return "padding_overrun";
  }
  return "unknown";
}

absl::string_view ErrorName(ExtensionError error) {
  switch (error) {
    case ExtensionError::kOk:
      return "ok";
    case ExtensionError::kUnsupportedProfile:
      return "unsupported_profile";
    case ExtensionError::kElementOverrun:
      return "element_overrun";
  }
  return "unknown";
}

uint32_t RtpView::csrc(size_t i) const {
  return ReadU32(packet.data() + kRtpFixedHeaderSize + 4 * i);
}

RtpError ParseRtp(absl::Span<const uint8_t> packet, RtpView* out) {
  const size_t size = packet.size();
  if (size < kRtpFixedHeaderSize) return RtpError::kTooShort;
  const uint8_t* p = packet.data();
  if ((p[0] >> 6) != 2) return RtpError::kBadVersion;
  const bool has_padding = (p[0] & 0x20) != 0;
  const bool has_extension = (p[0] & 0x10) != 0;
  const uint8_t csrc_count = p[0] & 0x0f;

  size_t pos = kRtpFixedHeaderSize + 4 * size_t{csrc_count};
  if (pos > size) return RtpError::kCsrcOverrun;

  RtpView view;
  if (has_extension) {
    if (size - pos < 4) return RtpError::kExtensionHeaderOverrun;
    view.extension_profile = ReadU16(p + pos);
    const size_t extension_size = 4 * size_t{ReadU16(p + pos + 2)};
    pos += 4;
    if (size - pos < extension_size) return RtpError::kExtensionOverrun;
    view.extension_data = packet.subspan(pos, extension_size);
    pos += extension_size;
  }

  size_t padding = 0;
  if (has_padding) {
    // The count is the last byte and includes itself (RFC 3550 5.1).
    padding = p[size - 1];
    if (padding == 0) return RtpError::kPaddingZero;
    if (padding > size - pos) return RtpError::kPaddingOverrun;
  }

  view.marker = (p[1] & 0x80) != 0;
  view.payload_type = p[1] & 0x7f;
  view.sequence_number = ReadU16(p + 2);
  view.timestamp = ReadU32(p + 4);
  view.ssrc = ReadU32(p + 8);
  view.csrc_count = csrc_count;
  view.has_extension = has_extension;
  view.payload = packet.subspan(pos, size - pos - padding);
  view.padding_size = static_cast<uint8_t>(padding);
  view.packet = packet;
  *out = view;
  return RtpError::kOk;
}

ExtensionReader::ExtensionReader(uint16_t profile,
                                 absl::Span<const uint8_t> data)
    : rest_(data) {
  if (profile == kOneByteExtensionProfile) {
    two_byte_ = false;
  } else if ((profile & kTwoByteExtensionProfileMask) ==
             kTwoByteExtensionProfile) {
    two_byte_ = true;
  } else {
    error_ = ExtensionError::kUnsupportedProfile;
    rest_ = {};
  }
}

ExtensionReader::ExtensionReader(const RtpView& packet)
    : ExtensionReader(packet.has_extension ? packet.extension_profile
                                           : kOneByteExtensionProfile,
                      packet.extension_data) {}

bool ExtensionReader::Next(ExtensionElement* element) {
  while (!rest_.empty()) {
    const uint8_t first = rest_[0];
    if (first == 0) {  // padding between or after elements
      rest_.remove_prefix(1);
      continue;
    }
    uint8_t id;
    size_t length;
    size_t header;
    if (two_byte_) {
      if (rest_.size() < 2) {
        error_ = ExtensionError::kElementOverrun;
        rest_ = {};
        return false;
      }
      id = first;
      length = rest_[1];
      header = 2;
    } else {
      id = first >> 4;
      if (id == 15) {  // reserved: stop processing the block
        rest_ = {};
        return false;
      }
      length = size_t{first & 0x0fu} + 1;
      header = 1;
    }
    if (rest_.size() - header < length) {
      error_ = ExtensionError::kElementOverrun;
      rest_ = {};
      return false;
    }
    if (id == 0) {  // a one-byte element with the padding id: not an element
      rest_.remove_prefix(header + length);
      continue;
    }
    element->id = id;
    element->data = rest_.subspan(header, length);
    rest_.remove_prefix(header + length);
    return true;
  }
  return false;
}

bool FindExtension(const RtpView& packet, uint8_t id,
                   absl::Span<const uint8_t>* data) {
  if (!packet.has_extension || id == 0) return false;
  ExtensionReader reader(packet);
  ExtensionElement element;
  while (reader.Next(&element)) {
    if (element.id == id) {
      *data = element.data;
      return true;
    }
  }
  return false;
}

namespace {

bool UsesOneByteForm(const RtpHeader& header) {
  for (const ExtensionElement& element : header.extensions) {
    if (element.id < 1 || element.id > 14 || element.data.empty() ||
        element.data.size() > 16) {
      return false;
    }
  }
  return true;
}

// Size of the extension block after its 4-byte header, padded to 4 bytes; 0
// when an element cannot be written.
size_t ExtensionBlockSize(const RtpHeader& header) {
  const size_t element_header = UsesOneByteForm(header) ? 1 : 2;
  size_t size = 0;
  for (const ExtensionElement& element : header.extensions) {
    if (element.id == 0 || element.data.size() > 255) return 0;
    size += element_header + element.data.size();
  }
  size = (size + 3) & ~size_t{3};
  // The length field counts 32-bit words in 16 bits.
  return size / 4 <= 0xffff ? size : 0;
}

}  // namespace

size_t RtpHeaderSize(const RtpHeader& header) {
  if (header.payload_type > 127 || header.csrcs.size() > kMaxCsrcs) return 0;
  size_t size = kRtpFixedHeaderSize + 4 * header.csrcs.size();
  if (!header.extensions.empty()) {
    const size_t block = ExtensionBlockSize(header);
    if (block == 0) return 0;
    size += 4 + block;
  }
  return size;
}

size_t WriteRtpHeader(const RtpHeader& header, absl::Span<uint8_t> out) {
  const size_t size = RtpHeaderSize(header);
  if (size == 0 || size > out.size()) return 0;
  uint8_t* p = out.data();
  const bool has_extension = !header.extensions.empty();
  p[0] = static_cast<uint8_t>(0x80 | (has_extension ? 0x10 : 0) |
                              header.csrcs.size());
  p[1] = static_cast<uint8_t>((header.marker ? 0x80 : 0) | header.payload_type);
  WriteU16(p + 2, header.sequence_number);
  WriteU32(p + 4, header.timestamp);
  WriteU32(p + 8, header.ssrc);
  size_t pos = kRtpFixedHeaderSize;
  for (uint32_t csrc : header.csrcs) {
    WriteU32(p + pos, csrc);
    pos += 4;
  }
  if (has_extension) {
    const size_t block = ExtensionBlockSize(header);
    const bool one_byte = UsesOneByteForm(header);
    WriteU16(p + pos,
             one_byte ? kOneByteExtensionProfile : kTwoByteExtensionProfile);
    WriteU16(p + pos + 2, static_cast<uint16_t>(block / 4));
    pos += 4;
    std::memset(p + pos, 0, block);
    for (const ExtensionElement& element : header.extensions) {
      const size_t length = element.data.size();
      if (one_byte) {
        p[pos] = static_cast<uint8_t>((element.id << 4) | (length - 1));
        pos += 1;
      } else {
        p[pos] = element.id;
        p[pos + 1] = static_cast<uint8_t>(length);
        pos += 2;
      }
      if (length > 0) std::memcpy(p + pos, element.data.data(), length);
      pos += length;
    }
  }
  return size;
}

size_t WriteRtpPacket(const RtpHeader& header,
                      absl::Span<const uint8_t> payload,
                      absl::Span<uint8_t> out) {
  const size_t header_size = RtpHeaderSize(header);
  if (header_size == 0 || out.size() < header_size ||
      out.size() - header_size < payload.size()) {
    return 0;
  }
  WriteRtpHeader(header, out);
  if (!payload.empty()) {
    std::memcpy(out.data() + header_size, payload.data(), payload.size());
  }
  return header_size + payload.size();
}

}  // namespace cascade::rtp
