#include "media/rtp/rtp.h"

#include <cstdint>
#include <vector>

#include "gtest/gtest.h"

namespace cascade::rtp {
namespace {

using Bytes = std::vector<uint8_t>;

absl::Span<const uint8_t> S(const Bytes& b) { return absl::MakeConstSpan(b); }

// A minimal valid packet: V=2, PT 96, seq 0x1234, ts 0xdeadbeef,
// ssrc 0x01020304, payload "abc".
Bytes Minimal() {
  return {0x80, 96,   0x12, 0x34, 0xde, 0xad, 0xbe, 0xef,
          0x01, 0x02, 0x03, 0x04, 'a',  'b',  'c'};
}

RtpError Parse(const Bytes& b, RtpView* view = nullptr) {
  RtpView local;
  return ParseRtp(S(b), view ? view : &local);
}

TEST(ParseRtpTest, MinimalPacketFields) {
  const Bytes packet = Minimal();
  RtpView view;
  ASSERT_EQ(Parse(packet, &view), RtpError::kOk);
  EXPECT_FALSE(view.marker);
  EXPECT_EQ(view.payload_type, 96);
  EXPECT_EQ(view.sequence_number, 0x1234);
  EXPECT_EQ(view.timestamp, 0xdeadbeefu);
  EXPECT_EQ(view.ssrc, 0x01020304u);
  EXPECT_EQ(view.csrc_count, 0);
  EXPECT_FALSE(view.has_extension);
  EXPECT_EQ(view.padding_size, 0);
  EXPECT_EQ(view.header_size(), 12u);
  ASSERT_EQ(view.payload.size(), 3u);
  EXPECT_EQ(view.payload.data(), packet.data() + 12);
  EXPECT_EQ(view.packet.size(), packet.size());
}

TEST(ParseRtpTest, MarkerAndHeaderOnly) {
  Bytes packet = Minimal();
  packet[1] = 0x80 | 111;
  packet.resize(12);
  RtpView view;
  ASSERT_EQ(Parse(packet, &view), RtpError::kOk);
  EXPECT_TRUE(view.marker);
  EXPECT_EQ(view.payload_type, 111);
  EXPECT_TRUE(view.payload.empty());
}

TEST(ParseRtpTest, CsrcsExtensionAndPadding) {
  // CC=2, X=1, P=1; extension: one-byte profile, 1 word; payload 2 bytes;
  // padding 3 bytes.
  Bytes packet = {0xb2, 96,   0,    1,    0,    0,    0,    2,
                  0,    0,    0,    3,    0xaa, 0xaa, 0xaa, 0x01,  // CSRC 1
                  0xbb, 0xbb, 0xbb, 0x02,                          // CSRC 2
                  0xbe, 0xde, 0x00, 0x01,  // extension header
                  0x11, 0x77, 0x88, 0x00,  // id 1, 2 bytes, pad
                  'h',  'i',               // payload
                  0,    0,    3};          // padding
  RtpView view;
  ASSERT_EQ(Parse(packet, &view), RtpError::kOk);
  EXPECT_EQ(view.csrc_count, 2);
  EXPECT_EQ(view.csrc(0), 0xaaaaaa01u);
  EXPECT_EQ(view.csrc(1), 0xbbbbbb02u);
  EXPECT_TRUE(view.has_extension);
  EXPECT_EQ(view.extension_profile, kOneByteExtensionProfile);
  EXPECT_EQ(view.extension_data.size(), 4u);
  EXPECT_EQ(view.padding_size, 3);
  ASSERT_EQ(view.payload.size(), 2u);
  EXPECT_EQ(view.payload[0], 'h');
  EXPECT_EQ(view.header_size(), 28u);
  absl::Span<const uint8_t> data;
  ASSERT_TRUE(FindExtension(view, 1, &data));
  EXPECT_EQ(Bytes(data.begin(), data.end()), (Bytes{0x77, 0x88}));
  EXPECT_FALSE(FindExtension(view, 2, &data));
}

TEST(ParseRtpTest, PaddingMayConsumeWholePayload) {
  Bytes packet = Minimal();
  packet[0] |= 0x20;
  packet.back() = 3;  // the three payload bytes are all padding
  RtpView view;
  ASSERT_EQ(Parse(packet, &view), RtpError::kOk);
  EXPECT_TRUE(view.payload.empty());
  EXPECT_EQ(view.padding_size, 3);
}

TEST(ParseRtpTest, EmptyAndTooShort) {
  EXPECT_EQ(Parse({}), RtpError::kTooShort);
  Bytes packet = Minimal();
  for (size_t size = 0; size < 12; ++size) {
    EXPECT_EQ(Parse(Bytes(packet.begin(), packet.begin() + size)),
              RtpError::kTooShort)
        << size;
  }
}

TEST(ParseRtpTest, BadVersion) {
  for (uint8_t version : {0, 1, 3}) {
    Bytes packet = Minimal();
    packet[0] = static_cast<uint8_t>(version << 6);
    EXPECT_EQ(Parse(packet), RtpError::kBadVersion) << int{version};
  }
}

TEST(ParseRtpTest, CsrcOverrun) {
  Bytes packet = Minimal();  // 3 bytes after the fixed header
  packet[0] = 0x81;          // needs 4
  EXPECT_EQ(Parse(packet), RtpError::kCsrcOverrun);
  packet[0] = 0x8f;  // 15 CSRCs, 60 bytes
  EXPECT_EQ(Parse(packet), RtpError::kCsrcOverrun);
  packet.resize(12 + 60);
  EXPECT_EQ(Parse(packet), RtpError::kOk);  // exactly fits, empty payload
}

TEST(ParseRtpTest, ExtensionHeaderOverrun) {
  Bytes packet = Minimal();
  packet[0] = 0x90;  // X=1 but only 3 bytes follow
  EXPECT_EQ(Parse(packet), RtpError::kExtensionHeaderOverrun);
}

TEST(ParseRtpTest, ExtensionOverrun) {
  Bytes packet = {0x90, 96,   0,    1,    0,    0,    0,    2, 0,
                  0,    0,    3,    0xbe, 0xde, 0x00, 0x02,  // claims 8 bytes
                  0x10, 0x01, 0x02, 0x00};                   // has 4
  EXPECT_EQ(Parse(packet), RtpError::kExtensionOverrun);
  packet[14] = 0xff;  // huge length
  packet[15] = 0xff;
  EXPECT_EQ(Parse(packet), RtpError::kExtensionOverrun);
  packet[14] = 0;
  packet[15] = 1;
  EXPECT_EQ(Parse(packet), RtpError::kOk);
}

TEST(ParseRtpTest, PaddingZero) {
  Bytes packet = Minimal();
  packet[0] |= 0x20;
  packet.back() = 0;
  EXPECT_EQ(Parse(packet), RtpError::kPaddingZero);
}

TEST(ParseRtpTest, PaddingLongerThanPayload) {
  Bytes packet = Minimal();
  packet[0] |= 0x20;
  packet.back() = 4;  // only 3 bytes after the header
  EXPECT_EQ(Parse(packet), RtpError::kPaddingOverrun);
  packet.back() = 255;
  EXPECT_EQ(Parse(packet), RtpError::kPaddingOverrun);
}

TEST(ParseRtpTest, PaddingCannotReachIntoExtension) {
  Bytes packet = {
      0xb0, 96,   0,    1,    0,    0,    0,    2,    0,    0,   0,
      3,    0xbe, 0xde, 0x00, 0x01, 0x10, 0x01, 0x02, 0x00, 0x01};  // 1 byte
                                                                    // after the
                                                                    // header:
                                                                    // padding
                                                                    // of 1
  EXPECT_EQ(Parse(packet), RtpError::kOk);
  packet.back() = 2;  // would eat an extension byte
  EXPECT_EQ(Parse(packet), RtpError::kPaddingOverrun);
}

TEST(ParseRtpTest, PaddingWithHeaderOnlyPacket) {
  Bytes packet = Minimal();
  packet.resize(12);
  packet[0] |= 0x20;  // the count byte would be part of the SSRC
  EXPECT_EQ(Parse(packet), RtpError::kPaddingOverrun);
}

TEST(ErrorNameTest, StableAndDistinct) {
  EXPECT_EQ(ErrorName(RtpError::kOk), "ok");
  EXPECT_EQ(ErrorName(RtpError::kTooShort), "too_short");
  EXPECT_EQ(ErrorName(RtpError::kBadVersion), "bad_version");
  EXPECT_EQ(ErrorName(RtpError::kCsrcOverrun), "csrc_overrun");
  EXPECT_EQ(ErrorName(RtpError::kExtensionHeaderOverrun),
            "extension_header_overrun");
  EXPECT_EQ(ErrorName(RtpError::kExtensionOverrun), "extension_overrun");
  EXPECT_EQ(ErrorName(RtpError::kPaddingZero), "padding_zero");
  EXPECT_EQ(ErrorName(RtpError::kPaddingOverrun), "padding_overrun");
  EXPECT_EQ(ErrorName(ExtensionError::kUnsupportedProfile),
            "unsupported_profile");
  EXPECT_EQ(ErrorName(ExtensionError::kElementOverrun), "element_overrun");
}

// ---- Extension elements ----

std::vector<std::pair<int, Bytes>> ReadAll(uint16_t profile, const Bytes& data,
                                           ExtensionError* error) {
  ExtensionReader reader(profile, S(data));
  std::vector<std::pair<int, Bytes>> elements;
  ExtensionElement element;
  while (reader.Next(&element)) {
    elements.emplace_back(element.id,
                          Bytes(element.data.begin(), element.data.end()));
  }
  *error = reader.error();
  return elements;
}

TEST(ExtensionReaderTest, OneByteElementsAndPadding) {
  // id 1 len 1, padding, id 2 len 3, padding to the end.
  const Bytes data = {0x10, 0xaa, 0x00, 0x22, 1, 2, 3, 0x00};
  ExtensionError error;
  const auto elements = ReadAll(kOneByteExtensionProfile, data, &error);
  EXPECT_EQ(error, ExtensionError::kOk);
  ASSERT_EQ(elements.size(), 2u);
  EXPECT_EQ(elements[0], (std::pair<int, Bytes>{1, {0xaa}}));
  EXPECT_EQ(elements[1], (std::pair<int, Bytes>{2, {1, 2, 3}}));
}

TEST(ExtensionReaderTest, OneByteId15StopsProcessing) {
  const Bytes data = {0x10, 0xaa, 0xf0, 0x20, 0xbb, 0x00, 0x00, 0x00};
  ExtensionError error;
  const auto elements = ReadAll(kOneByteExtensionProfile, data, &error);
  EXPECT_EQ(error, ExtensionError::kOk);
  ASSERT_EQ(elements.size(), 1u);
  EXPECT_EQ(elements[0].first, 1);
}

TEST(ExtensionReaderTest, OneByteIdZeroWithLengthIsSkipped) {
  const Bytes data = {0x01, 0xee, 0xee, 0x30, 0x55, 0x00, 0x00, 0x00};
  ExtensionError error;
  const auto elements = ReadAll(kOneByteExtensionProfile, data, &error);
  EXPECT_EQ(error, ExtensionError::kOk);
  ASSERT_EQ(elements.size(), 1u);
  EXPECT_EQ(elements[0], (std::pair<int, Bytes>{3, {0x55}}));
}

TEST(ExtensionReaderTest, OneByteElementOverrun) {
  const Bytes data = {0x10, 0xaa, 0x23, 0x01};  // id 2 wants 4 bytes, has 1
  ExtensionError error;
  const auto elements = ReadAll(kOneByteExtensionProfile, data, &error);
  EXPECT_EQ(error, ExtensionError::kElementOverrun);
  EXPECT_EQ(elements.size(), 1u);
}

TEST(ExtensionReaderTest, TwoByteElements) {
  // id 20 len 0, id 200 len 3, padding.
  const Bytes data = {20, 0, 200, 3, 7, 8, 9, 0};
  ExtensionError error;
  const auto elements = ReadAll(0x1005, data, &error);  // app bits 5
  EXPECT_EQ(error, ExtensionError::kOk);
  ASSERT_EQ(elements.size(), 2u);
  EXPECT_EQ(elements[0], (std::pair<int, Bytes>{20, {}}));
  EXPECT_EQ(elements[1], (std::pair<int, Bytes>{200, {7, 8, 9}}));
}

TEST(ExtensionReaderTest, TwoByteOverruns) {
  ExtensionError error;
  ReadAll(kTwoByteExtensionProfile, {5}, &error);  // no length byte
  EXPECT_EQ(error, ExtensionError::kElementOverrun);
  ReadAll(kTwoByteExtensionProfile, {5, 9, 1, 2}, &error);
  EXPECT_EQ(error, ExtensionError::kElementOverrun);
}

TEST(ExtensionReaderTest, UnsupportedProfile) {
  ExtensionError error;
  const auto elements = ReadAll(0xabcd, {0x10, 0xaa, 0, 0}, &error);
  EXPECT_EQ(error, ExtensionError::kUnsupportedProfile);
  EXPECT_TRUE(elements.empty());
}

TEST(ExtensionReaderTest, PacketWithoutExtensionHasNoElements) {
  const Bytes packet = Minimal();
  RtpView view;
  ASSERT_EQ(Parse(packet, &view), RtpError::kOk);
  ExtensionReader reader(view);
  ExtensionElement element;
  EXPECT_FALSE(reader.Next(&element));
  EXPECT_EQ(reader.error(), ExtensionError::kOk);
  absl::Span<const uint8_t> data;
  EXPECT_FALSE(FindExtension(view, 1, &data));
}

// ---- Writer ----

TEST(WriteRtpTest, PlainHeaderRoundTrip) {
  const uint32_t csrcs[] = {11, 22};
  RtpHeader header;
  header.marker = true;
  header.payload_type = 96;
  header.sequence_number = 65535;
  header.timestamp = 0x80000001;
  header.ssrc = 0xcafebabe;
  header.csrcs = csrcs;
  const Bytes payload = {1, 2, 3, 4, 5};
  uint8_t buffer[64];
  const size_t size = WriteRtpPacket(header, S(payload), buffer);
  ASSERT_EQ(size, 12u + 8 + 5);
  RtpView view;
  ASSERT_EQ(ParseRtp(absl::MakeConstSpan(buffer, size), &view), RtpError::kOk);
  EXPECT_TRUE(view.marker);
  EXPECT_EQ(view.payload_type, 96);
  EXPECT_EQ(view.sequence_number, 65535);
  EXPECT_EQ(view.timestamp, 0x80000001u);
  EXPECT_EQ(view.ssrc, 0xcafebabeu);
  ASSERT_EQ(view.csrc_count, 2);
  EXPECT_EQ(view.csrc(1), 22u);
  EXPECT_FALSE(view.has_extension);
  EXPECT_EQ(Bytes(view.payload.begin(), view.payload.end()), payload);
}

void ExpectExtensionRoundTrip(uint8_t id, const Bytes& data,
                              uint16_t expected_profile) {
  RtpHeader header;
  header.payload_type = 100;
  header.sequence_number = 7;
  const ExtensionElement extensions[] = {{id, S(data)}};
  header.extensions = extensions;
  uint8_t buffer[512];
  const size_t size = WriteRtpPacket(header, {}, buffer);
  ASSERT_NE(size, 0u);
  ASSERT_EQ(size, RtpHeaderSize(header));
  ASSERT_EQ(size % 4, 0u);
  RtpView view;
  ASSERT_EQ(ParseRtp(absl::MakeConstSpan(buffer, size), &view), RtpError::kOk);
  EXPECT_EQ(view.extension_profile, expected_profile);
  absl::Span<const uint8_t> found;
  ASSERT_TRUE(FindExtension(view, id, &found)) << int{id};
  EXPECT_EQ(Bytes(found.begin(), found.end()), data);
  // Exactly one element: the padding is not mistaken for more.
  ExtensionReader reader(view);
  ExtensionElement element;
  int count = 0;
  while (reader.Next(&element)) ++count;
  EXPECT_EQ(count, 1);
  EXPECT_EQ(reader.error(), ExtensionError::kOk);
}

TEST(WriteRtpTest, ExtensionOneByteForm) {
  ExpectExtensionRoundTrip(3, {1, 2, 3, 4, 5, 6, 7, 8},
                           kOneByteExtensionProfile);  // a send timestamp
  ExpectExtensionRoundTrip(14, Bytes(16, 0xab), kOneByteExtensionProfile);
  ExpectExtensionRoundTrip(1, {9}, kOneByteExtensionProfile);
}

TEST(WriteRtpTest, ExtensionTwoByteForm) {
  ExpectExtensionRoundTrip(15, {1}, kTwoByteExtensionProfile);
  ExpectExtensionRoundTrip(3, Bytes(17, 0xcd), kTwoByteExtensionProfile);
  ExpectExtensionRoundTrip(255, Bytes(255, 0x11), kTwoByteExtensionProfile);
  ExpectExtensionRoundTrip(2, {}, kTwoByteExtensionProfile);
}

TEST(WriteRtpTest, SeveralElementsInOrder) {
  const Bytes send_time = {1, 2, 3, 4, 5, 6, 7, 8};
  const Bytes marking = {0xa0};
  const Bytes roc = {0, 0, 1, 2};
  const ExtensionElement one_byte[] = {
      {1, S(send_time)}, {2, S(marking)}, {3, S(roc)}};
  RtpHeader header;
  header.extensions = one_byte;
  // 9 + 2 + 5 = 16 bytes of elements: no padding.
  EXPECT_EQ(RtpHeaderSize(header), 12u + 4 + 16);
  uint8_t buffer[64];
  const size_t size = WriteRtpPacket(header, {}, buffer);
  RtpView view;
  ASSERT_EQ(ParseRtp(absl::MakeConstSpan(buffer, size), &view), RtpError::kOk);
  EXPECT_EQ(view.extension_profile, kOneByteExtensionProfile);
  ExtensionReader reader(view);
  ExtensionElement element;
  for (const ExtensionElement& written : one_byte) {
    ASSERT_TRUE(reader.Next(&element));
    EXPECT_EQ(element.id, written.id);
    EXPECT_EQ(Bytes(element.data.begin(), element.data.end()),
              Bytes(written.data.begin(), written.data.end()));
  }
  EXPECT_FALSE(reader.Next(&element));
  EXPECT_EQ(reader.error(), ExtensionError::kOk);

  // One element that needs the two-byte form takes the whole block there.
  const ExtensionElement mixed[] = {{2, S(marking)}, {20, S(roc)}};
  header.extensions = mixed;
  ASSERT_EQ(
      ParseRtp(absl::MakeConstSpan(buffer, WriteRtpPacket(header, {}, buffer)),
               &view),
      RtpError::kOk);
  EXPECT_EQ(view.extension_profile, kTwoByteExtensionProfile);
  absl::Span<const uint8_t> found;
  ASSERT_TRUE(FindExtension(view, 2, &found));
  EXPECT_EQ(Bytes(found.begin(), found.end()), marking);
  ASSERT_TRUE(FindExtension(view, 20, &found));
  EXPECT_EQ(Bytes(found.begin(), found.end()), roc);

  const ExtensionElement id_zero[] = {{0, S(marking)}};
  header.extensions = id_zero;
  EXPECT_EQ(RtpHeaderSize(header), 0u);
}

TEST(WriteRtpTest, RejectsInvalidHeaders) {
  uint8_t buffer[512];
  RtpHeader header;
  header.payload_type = 128;
  EXPECT_EQ(WriteRtpHeader(header, buffer), 0u);
  header.payload_type = 0;
  const uint32_t csrcs[16] = {};
  header.csrcs = csrcs;
  EXPECT_EQ(WriteRtpHeader(header, buffer), 0u);
  header.csrcs = {};
  const Bytes too_long(256, 0);
  const ExtensionElement too_long_element[] = {{9, S(too_long)}};
  header.extensions = too_long_element;
  EXPECT_EQ(RtpHeaderSize(header), 0u);
  EXPECT_EQ(WriteRtpHeader(header, buffer), 0u);
}

TEST(WriteRtpTest, ReturnsZeroWhenItDoesNotFit) {
  RtpHeader header;
  uint8_t buffer[28];
  EXPECT_EQ(WriteRtpHeader(header, absl::MakeSpan(buffer, 11)), 0u);
  EXPECT_EQ(WriteRtpHeader(header, absl::MakeSpan(buffer, 12)), 12u);
  const Bytes payload(5, 1);
  EXPECT_EQ(WriteRtpPacket(header, S(payload), absl::MakeSpan(buffer, 16)), 0u);
  EXPECT_EQ(WriteRtpPacket(header, S(payload), absl::MakeSpan(buffer, 17)),
            17u);
  const uint8_t ext[8] = {};
  const ExtensionElement extensions[] = {{1, ext}};
  header.extensions = extensions;  // 12 + 4 + 12 = 28 bytes
  EXPECT_EQ(WriteRtpHeader(header, absl::MakeSpan(buffer, 27)), 0u);
  EXPECT_EQ(WriteRtpHeader(header, buffer), 28u);
}

}  // namespace
}  // namespace cascade::rtp
