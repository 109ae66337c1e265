#include "webrtc/ice/stun.h"

#include <openssl/evp.h>

#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace cascade::ice {
namespace {

using Bytes = std::vector<uint8_t>;

Bytes Hex(absl::string_view hex) {
  const std::string bytes = absl::HexStringToBytes(hex);
  return Bytes(bytes.begin(), bytes.end());
}

absl::Span<const uint8_t> AsBytes(absl::string_view s) {
  return absl::Span<const uint8_t>(reinterpret_cast<const uint8_t*>(s.data()),
                                   s.size());
}

// RFC 5769's test vectors (section 2), byte for byte.
const TransactionId kVectorId = {0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34,
                                 0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae};
constexpr absl::string_view kVectorPassword = "VOkJxbRl1RmTxUk/WvJxBt";

const Bytes& SampleRequest() {  // 2.1
  static const Bytes bytes = Hex(
      "000100582112a442b7e7a701bc34d686fa87dfae"
      "802200105354554e207465737420636c69656e74"  // SOFTWARE
      "002400046e0001ff"                          // PRIORITY
      "80290008932ff9b151263b36"                  // ICE-CONTROLLED
      "000600096576746a3a68367659202020"          // USERNAME, space padding
      "000800149aeaa70cbfd8cb56781ef2b5b2d3f249c1b571a2"  // MESSAGE-INTEGRITY
      "80280004e57a3bcf");                                // FINGERPRINT
  return bytes;
}

const Bytes& SampleIpv4Response() {  // 2.2
  static const Bytes bytes =
      Hex("0101003c2112a442b7e7a701bc34d686fa87dfae"
          "8022000b7465737420766563746f7220"
          "002000080001a147e112a643"
          "000800142b91f599fd9e90c38c7489f92af9ba53f06be7d7"
          "80280004c07d4c96");
  return bytes;
}

const Bytes& SampleIpv6Response() {  // 2.3
  static const Bytes bytes =
      Hex("010100482112a442b7e7a701bc34d686fa87dfae"
          "8022000b7465737420766563746f7220"
          "002000140002a1470113a9faa5d3f179bc25f4b5bed2b9d9"
          "00080014a382954e4be67bf11784c97c8292c275bfe3ed41"
          "80280004c8fb0b4c");
  return bytes;
}

const Bytes& SampleLongTermRequest() {  // 2.4
  static const Bytes bytes =
      Hex("000100602112a44278ad3433c6ad72c029da412e"
          "00060012e3839ee38388e383aae38383e382afe382b90000"  // USERNAME
          "0015001c662f2f3439396b39353464364f4c33346f4c39465354767936347341"
          "0014000b6578616d706c652e6f726700"  // REALM
          "00080014f67024656dd64a3e02b8e0712e85c9a28ca89666");
  return bytes;
}

TransportAddress Vector6() {
  return TransportAddress::V6({0x20, 0x01, 0x0d, 0xb8, 0x12, 0x34, 0x56, 0x78,
                               0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77},
                              32853);
}

StunMessage MustParse(absl::Span<const uint8_t> bytes) {
  StunMessage message;
  EXPECT_EQ(ParseStun(bytes, &message), StunError::kOk);
  return message;
}

TEST(StunTest, VectorsAreWhatTheRfcSays) {
  // Hex() ignores nothing: a typo in a vector shows up as a wrong size.
  EXPECT_EQ(SampleRequest().size(), 108u);
  EXPECT_EQ(SampleIpv4Response().size(), 80u);
  EXPECT_EQ(SampleIpv6Response().size(), 92u);
  EXPECT_EQ(SampleLongTermRequest().size(), 116u);
}

TEST(StunTest, ParsesRfc5769SampleRequest) {
  const StunMessage m = MustParse(SampleRequest());
  EXPECT_EQ(m.method, kBindingMethod);
  EXPECT_EQ(m.cls, StunClass::kRequest);
  EXPECT_EQ(m.transaction_id, kVectorId);
  ASSERT_TRUE(m.username.has_value());
  EXPECT_EQ(*m.username, "evtj:h6vY");
  EXPECT_EQ(m.priority, 0x6e0001ffu);
  EXPECT_EQ(m.ice_controlled, 0x932ff9b151263b36u);
  EXPECT_FALSE(m.ice_controlling.has_value());
  EXPECT_FALSE(m.use_candidate);
  EXPECT_EQ(m.unknown_count, 0u);  // SOFTWARE is comprehension-optional
  EXPECT_TRUE(FingerprintValid(m));
  EXPECT_TRUE(IntegrityValid(m, kVectorPassword));
  EXPECT_FALSE(IntegrityValid(m, "VOkJxbRl1RmTxUk/WvJxBT"));
  EXPECT_FALSE(IntegrityValid(m, ""));
}

TEST(StunTest, ParsesRfc5769Responses) {
  const StunMessage v4 = MustParse(SampleIpv4Response());
  EXPECT_EQ(v4.cls, StunClass::kSuccess);
  EXPECT_EQ(v4.xor_mapped_address,
            TransportAddress::V4(0xC0000201, 32853));  // 192.0.2.1
  EXPECT_TRUE(FingerprintValid(v4));
  EXPECT_TRUE(IntegrityValid(v4, kVectorPassword));

  const StunMessage v6 = MustParse(SampleIpv6Response());
  EXPECT_EQ(v6.xor_mapped_address, Vector6());
  EXPECT_EQ(v6.xor_mapped_address->ToString(),
            "[2001:db8:1234:5678:11:2233:4455:6677]:32853");
  EXPECT_TRUE(FingerprintValid(v6));
  EXPECT_TRUE(IntegrityValid(v6, kVectorPassword));
}

// 2.4 uses the long-term mechanism: its key is MD5(username:realm:password)
// and it carries NONCE and REALM, which ICE does not use.
TEST(StunTest, LongTermVectorReportsUnknownAttributesAndVerifies) {
  const StunMessage m = MustParse(SampleLongTermRequest());
  ASSERT_EQ(m.unknown_count, 2u);
  EXPECT_EQ(m.unknown[0], 0x0015);  // NONCE
  EXPECT_EQ(m.unknown[1], 0x0014);  // REALM
  EXPECT_FALSE(m.has_fingerprint());
  EXPECT_FALSE(FingerprintValid(m));
  const std::string input = absl::StrCat(*m.username, ":example.org:TheMatrIX");
  uint8_t key[16];
  unsigned int key_size = 0;
  ASSERT_EQ(EVP_Digest(input.data(), input.size(), key, &key_size, EVP_md5(),
                       nullptr),
            1);
  const absl::string_view key_view(reinterpret_cast<const char*>(key),
                                   key_size);
  EXPECT_TRUE(IntegrityValid(m, key_view));
  EXPECT_FALSE(IntegrityValid(m, kVectorPassword));
}

// The builder reproduces the vectors exactly once their non-zero padding
// (the RFC pads with spaces) is copied in before the integrity is computed.
TEST(StunTest, BuilderReproducesRfc5769Request) {
  Bytes out(200);
  StunBuilder b(absl::MakeSpan(out), kBindingMethod, StunClass::kRequest,
                kVectorId);
  b.AddRaw(kAttrSoftware, AsBytes("STUN test client"));
  b.AddPriority(0x6e0001ff);
  b.AddIceControlled(0x932ff9b151263b36);
  b.AddUsername("evtj:h6vY");
  for (size_t i = 73; i < 76; ++i) out[i] = ' ';
  b.AddMessageIntegrity(kVectorPassword);
  b.AddFingerprint();
  out.resize(b.Finish());
  EXPECT_EQ(out, SampleRequest());
}

TEST(StunTest, BuilderReproducesRfc5769Responses) {
  for (const bool v6 : {false, true}) {
    Bytes out(200);
    StunBuilder b(absl::MakeSpan(out), kBindingMethod, StunClass::kSuccess,
                  kVectorId);
    b.AddRaw(kAttrSoftware, AsBytes("test vector"));
    out[35] = ' ';
    b.AddXorMappedAddress(v6 ? Vector6()
                             : TransportAddress::V4(0xC0000201, 32853));
    b.AddMessageIntegrity(kVectorPassword);
    b.AddFingerprint();
    out.resize(b.Finish());
    EXPECT_EQ(out, v6 ? SampleIpv6Response() : SampleIpv4Response());
  }
}

TEST(StunTest, FlippedIntegrityBitFails) {
  const size_t mi_value = 80;  // MESSAGE-INTEGRITY's value in 2.1
  for (size_t bit = 0; bit < 8 * kHmacSha1Size; ++bit) {
    Bytes bytes = SampleRequest();
    bytes[mi_value + bit / 8] ^= static_cast<uint8_t>(1 << (bit % 8));
    const StunMessage m = MustParse(bytes);
    EXPECT_FALSE(IntegrityValid(m, kVectorPassword)) << bit;
    EXPECT_FALSE(FingerprintValid(m)) << bit;
  }
}

// Every single-bit change anywhere in a signed message is caught: by the
// parse, else by the fingerprint (which covers all before it) and, before
// the fingerprint, by the integrity (padding included).
TEST(StunTest, EveryFlippedBitIsCaught) {
  const size_t fingerprint_at = 100;
  for (size_t bit = 0; bit < 8 * SampleRequest().size(); ++bit) {
    Bytes bytes = SampleRequest();
    bytes[bit / 8] ^= static_cast<uint8_t>(1 << (bit % 8));
    StunMessage m;
    if (ParseStun(bytes, &m) != StunError::kOk) continue;
    EXPECT_FALSE(FingerprintValid(m)) << bit;
    if (bit / 8 < fingerprint_at) {
      EXPECT_FALSE(IntegrityValid(m, kVectorPassword)) << bit;
    }
  }
}

TEST(StunTest, MessageTypes) {
  EXPECT_EQ(MessageType(kBindingMethod, StunClass::kRequest), 0x0001);
  EXPECT_EQ(MessageType(kBindingMethod, StunClass::kIndication), 0x0011);
  EXPECT_EQ(MessageType(kBindingMethod, StunClass::kSuccess), 0x0101);
  EXPECT_EQ(MessageType(kBindingMethod, StunClass::kError), 0x0111);
  EXPECT_EQ(MessageType(0xFFF, StunClass::kRequest), 0x3EEF);
  for (const uint16_t method : {0x001, 0x003, 0x0AB, 0xFFF}) {
    for (const StunClass cls : {StunClass::kRequest, StunClass::kIndication,
                                StunClass::kSuccess, StunClass::kError}) {
      Bytes out(20);
      StunBuilder b(absl::MakeSpan(out), method, cls, kVectorId);
      ASSERT_EQ(b.Finish(), 20u);
      const StunMessage m = MustParse(out);
      EXPECT_EQ(m.method, method);
      EXPECT_EQ(m.cls, cls);
    }
  }
}

TEST(StunTest, RejectsMalformedMessages) {
  auto error_of = [](const Bytes& bytes) {
    StunMessage m;
    return ParseStun(bytes, &m);
  };
  const Bytes ok = SampleRequest();
  EXPECT_EQ(error_of(Bytes(ok.begin(), ok.begin() + 19)), StunError::kTooShort);
  Bytes b = ok;
  b[0] = 0x80;  // RTP's first byte
  EXPECT_EQ(error_of(b), StunError::kNotStun);
  b = ok;
  b[7] ^= 1;
  EXPECT_EQ(error_of(b), StunError::kBadMagicCookie);
  b = ok;
  b[3] = 0x57;  // not a multiple of 4
  EXPECT_EQ(error_of(b), StunError::kBadLength);
  b = ok;
  b.push_back(0);  // a byte past the length
  EXPECT_EQ(error_of(b), StunError::kBadLength);
  b = ok;
  b[22] = 0xff;  // SOFTWARE runs past the end
  EXPECT_EQ(error_of(b), StunError::kAttributeOverrun);
  b = ok;
  b[43] = 3;  // PRIORITY of 3 bytes (plus one of padding)
  EXPECT_EQ(error_of(b), StunError::kBadAttributeValue);
  b = ok;
  b[79] = 0x10;  // MESSAGE-INTEGRITY of 16 bytes, then 4 more
  EXPECT_EQ(error_of(b), StunError::kBadAttributeValue);

  Bytes after(100);
  StunBuilder builder(absl::MakeSpan(after), kBindingMethod,
                      StunClass::kRequest, kVectorId);
  builder.AddFingerprint();
  builder.AddPriority(1);
  after.resize(builder.Finish());
  EXPECT_EQ(error_of(after), StunError::kAfterFingerprint);

  Bytes address = SampleIpv4Response();
  address[41] = 3;  // address family 3
  EXPECT_EQ(error_of(address), StunError::kBadAttributeValue);
  address = SampleIpv4Response();
  address[41] = 2;  // IPv6 with an IPv4-sized value
  EXPECT_EQ(error_of(address), StunError::kBadAttributeValue);

  Bytes error(100);
  StunBuilder e(absl::MakeSpan(error), kBindingMethod, StunClass::kError,
                kVectorId);
  e.AddErrorCode(401, "x");
  error.resize(e.Finish());
  EXPECT_EQ(error_of(error), StunError::kOk);
  error[26] = 7;  // class 7
  EXPECT_EQ(error_of(error), StunError::kBadAttributeValue);
  error[26] = 4;
  error[27] = 100;  // number 100
  EXPECT_EQ(error_of(error), StunError::kBadAttributeValue);
}

TEST(StunTest, IgnoresWhatFollowsIntegrityButFingerprint) {
  Bytes out(200);
  StunBuilder b(absl::MakeSpan(out), kBindingMethod, StunClass::kRequest,
                kVectorId);
  b.AddUsername("a:b");
  b.AddUsername("second:ignored");
  b.AddMessageIntegrity("key");
  b.AddPriority(7);
  b.AddRaw(0x7777, {});  // unknown, comprehension-required, ignored here
  b.AddFingerprint();
  out.resize(b.Finish());
  const StunMessage m = MustParse(out);
  EXPECT_EQ(*m.username, "a:b");
  EXPECT_FALSE(m.priority.has_value());
  EXPECT_EQ(m.unknown_count, 0u);
  EXPECT_TRUE(FingerprintValid(m));
  EXPECT_TRUE(IntegrityValid(m, "key"));
}

TEST(StunTest, ListsUnknownComprehensionRequiredAttributes) {
  Bytes out(400);
  StunBuilder b(absl::MakeSpan(out), kBindingMethod, StunClass::kRequest,
                kVectorId);
  for (uint16_t type = 0x7000; type < 0x7000 + kMaxUnknownAttributes + 2;
       ++type) {
    b.AddRaw(type, AsBytes("v"));
  }
  b.AddRaw(0xC057, AsBytes("optional"));  // comprehension-optional: fine
  out.resize(b.Finish());
  const StunMessage m = MustParse(out);
  EXPECT_EQ(m.unknown_count, kMaxUnknownAttributes + 2);
  ASSERT_EQ(m.unknown_listed().size(), kMaxUnknownAttributes);
  EXPECT_EQ(m.unknown_listed()[0], 0x7000);
  EXPECT_EQ(m.unknown_listed()[kMaxUnknownAttributes - 1],
            0x7000 + kMaxUnknownAttributes - 1);
}

TEST(StunTest, BindingResponsesParseBack) {
  const TransportAddress mapped = TransportAddress::V4(0x7F000001, 5000);
  Bytes out(200);
  out.resize(
      BuildBindingSuccess(kVectorId, mapped, "pwd", absl::MakeSpan(out)));
  ASSERT_EQ(out.size(), 64u);  // header, address, integrity, fingerprint
  StunMessage m = MustParse(out);
  EXPECT_EQ(m.cls, StunClass::kSuccess);
  EXPECT_EQ(m.transaction_id, kVectorId);
  EXPECT_EQ(m.xor_mapped_address, mapped);
  EXPECT_TRUE(IntegrityValid(m, "pwd"));
  EXPECT_TRUE(FingerprintValid(m));

  const uint16_t unknown[] = {0x7001, 0x0015, 0x0014};
  out.assign(200, 0);
  out.resize(BuildBindingError(kVectorId, 420, "Unknown Attribute", unknown,
                               "pwd", absl::MakeSpan(out)));
  m = MustParse(out);
  EXPECT_EQ(m.cls, StunClass::kError);
  ASSERT_TRUE(m.error_code.has_value());
  EXPECT_EQ(m.error_code->code, 420);
  EXPECT_EQ(m.error_code->reason, "Unknown Attribute");
  EXPECT_TRUE(IntegrityValid(m, "pwd"));
  EXPECT_TRUE(FingerprintValid(m));

  out.assign(200, 0);
  out.resize(BuildBindingError(kVectorId, 401, "Unauthenticated", {}, "",
                               absl::MakeSpan(out)));
  EXPECT_EQ(out.size(), 52u);
  m = MustParse(out);
  EXPECT_EQ(m.error_code->code, 401);
  EXPECT_FALSE(m.has_integrity());
  EXPECT_TRUE(FingerprintValid(m));
}

TEST(StunTest, BuilderFailsWhenOutOfRoom) {
  Bytes out(63);  // one byte short of a success response
  EXPECT_EQ(BuildBindingSuccess(kVectorId, TransportAddress::V4(1, 2), "pwd",
                                absl::MakeSpan(out)),
            0u);
  Bytes tiny(19);
  StunBuilder b(absl::MakeSpan(tiny), kBindingMethod, StunClass::kRequest,
                kVectorId);
  EXPECT_FALSE(b.ok());
  EXPECT_EQ(b.Finish(), 0u);
}

TEST(StunTest, ErrorNames) {
  EXPECT_EQ(ErrorName(StunError::kOk), "ok");
  EXPECT_EQ(ErrorName(StunError::kBadLength), "bad_length");
  EXPECT_EQ(ErrorName(StunError::kAfterFingerprint), "after_fingerprint");
}

}  // namespace
}  // namespace cascade::ice
