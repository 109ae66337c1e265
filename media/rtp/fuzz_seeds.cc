#include "media/rtp/fuzz_seeds.h"

#include <array>
#include <functional>

#include "media/rtp/activation.h"
#include "media/rtp/frame_marking.h"
#include "media/rtp/rtcp.h"
#include "media/rtp/rtp.h"

namespace cascade::rtp {
namespace {

using Bytes = std::vector<uint8_t>;
using Builder = std::function<size_t(absl::Span<uint8_t>)>;

Bytes Built(const Builder& build) {
  Bytes out(2048);
  out.resize(build(absl::MakeSpan(out)));
  return out;
}

Bytes Concat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const Bytes& part : parts)
    out.insert(out.end(), part.begin(), part.end());
  return out;
}

Bytes RtpPacket(const RtpHeader& header, const Bytes& payload) {
  return Built([&](absl::Span<uint8_t> out) {
    return WriteRtpPacket(header, payload, out);
  });
}

std::vector<Seed> RtpSeeds() {
  RtpHeader plain;
  plain.payload_type = 96;
  plain.sequence_number = 65535;
  plain.timestamp = 3000;
  plain.ssrc = 0x1234;
  const Bytes payload = {0x65, 0x88, 0x84, 0x00, 0x33};

  RtpHeader with_csrcs = plain;
  static constexpr uint32_t kCsrcs[] = {1, 2, 3};
  with_csrcs.csrcs = kCsrcs;
  with_csrcs.marker = true;

  static constexpr uint8_t kSendTime[8] = {0xe1, 2, 3, 4, 5, 6, 7, 8};
  static const ExtensionElement kOneByte[] = {{3, kSendTime}};
  RtpHeader one_byte = plain;
  one_byte.extensions = kOneByte;
  static const ExtensionElement kTwoByte[] = {{200, kSendTime}};
  RtpHeader two_byte = plain;
  two_byte.extensions = kTwoByte;

  Bytes padded = RtpPacket(plain, {1, 2, 3, 0, 0, 3});
  padded[0] |= 0x20;
  Bytes bad_padding = padded;
  bad_padding.back() = 200;
  Bytes bad_version = RtpPacket(plain, payload);
  bad_version[0] = 0x40;
  Bytes csrc_overrun = RtpPacket(plain, payload);
  csrc_overrun[0] |= 0x0f;
  Bytes too_short = RtpPacket(plain, {});
  too_short.resize(kRtpFixedHeaderSize - 1);
  Bytes extension_overrun = RtpPacket(one_byte, payload);
  extension_overrun[15] = 0x40;

  return {
      {"ok_plain", RtpPacket(plain, payload)},
      {"ok_csrcs_marker", RtpPacket(with_csrcs, payload)},
      {"ok_one_byte_extension", RtpPacket(one_byte, payload)},
      {"ok_two_byte_extension", RtpPacket(two_byte, payload)},
      {"ok_padding", padded},
      {"bad_too_short", too_short},
      {"bad_version", bad_version},
      {"bad_csrc_overrun", csrc_overrun},
      {"bad_extension_overrun", extension_overrun},
      {"bad_padding", bad_padding},
  };
}

std::vector<Seed> RtcpSeeds() {
  ReportBlock block;
  block.ssrc = 0x1234;
  block.fraction_lost = 12;
  block.cumulative_lost = -2;
  block.extended_highest_sequence = 70000;
  block.jitter = 30;
  block.last_sr = 0x11223344;
  block.delay_since_last_sr = 6553;
  const ReportBlock blocks[] = {block, block};
  SenderInfo info{0xe1000000'80000000ULL, 90000, 100, 120000};
  static constexpr uint32_t kByeSsrcs[] = {0x1234, 0x5678};
  static constexpr uint16_t kLost[] = {65530, 65533, 0, 2, 40};
  static constexpr FirEntry kFir[] = {{0x1234, 7}};
  static constexpr uint8_t kAppData[] = {1, 2, 3, 4};

  const Bytes sr = Built([&](absl::Span<uint8_t> out) {
    return BuildSenderReport(1, info, blocks, out);
  });
  const Bytes rr = Built([&](absl::Span<uint8_t> out) {
    return BuildReceiverReport(2, blocks, out);
  });
  const Bytes sdes = Built([](absl::Span<uint8_t> out) {
    return BuildSdesCname(2, "relay@hcm", out);
  });
  const Bytes bye = Built([](absl::Span<uint8_t> out) {
    return BuildBye(kByeSsrcs, "drain", out);
  });
  const Bytes app = Built([](absl::Span<uint8_t> out) {
    return BuildApp(5, 2, "TEST", kAppData, out);
  });
  const Bytes nack = Built(
      [](absl::Span<uint8_t> out) { return BuildNack(2, 0x1234, kLost, out); });
  const Bytes pli =
      Built([](absl::Span<uint8_t> out) { return BuildPli(2, 0x1234, out); });
  const Bytes fir =
      Built([](absl::Span<uint8_t> out) { return BuildFir(2, kFir, out); });
  const Bytes xr = {0x80, 207, 0, 1, 0, 0, 0, 2};
  const Bytes padded_rr = {0xa0, 201, 0, 2, 0, 0, 0, 2, 0, 0, 0, 4};
  Bytes padding_not_last = Concat({padded_rr, pli});
  Bytes length_overrun = rr;
  length_overrun[3] = 0xff;
  Bytes sdes_overrun = sdes;
  sdes_overrun[9] = 0xf0;

  return {
      {"ok_sr", sr},
      {"ok_rr_sdes", Concat({rr, sdes})},
      {"ok_bye", bye},
      {"ok_app", app},
      {"ok_nack", nack},
      {"ok_pli_fir", Concat({pli, fir})},
      {"ok_everything", Concat({sr, sdes, nack, pli, fir, app, xr, bye})},
      {"ok_padded_last", Concat({rr, padded_rr})},
      {"bad_padding_not_last", padding_not_last},
      {"bad_length_overrun", length_overrun},
      {"bad_sdes_item_overrun", sdes_overrun},
  };
}

std::vector<Seed> H264Seeds() {
  return {
      {"ok_idr", {0x65, 0x88, 0x84, 0x00, 0x33}},
      {"ok_p_slice", {0x41, 0x9a, 0x02, 0x04}},
      {"ok_sps", {0x67, 0x42, 0xc0, 0x1f, 0xda}},
      {"ok_stap_a",
       {0x78, 0, 3, 0x67, 0x42, 0xc0, 0, 2, 0x68, 0xce, 0, 3, 0x65, 0x88,
        0x84}},
      {"ok_fu_a_start", {0x7c, 0x85, 0x88, 0x84, 0x00}},
      {"ok_fu_a_middle", {0x7c, 0x05, 0x11, 0x22}},
      {"ok_fu_a_end", {0x7c, 0x45, 0x33}},
      {"bad_stap_overrun", {0x78, 0, 9, 0x67, 0x42}},
      {"bad_fu_start_and_end", {0x7c, 0xc5, 0x88}},
      {"bad_forbidden", {0xe5, 0x88}},
  };
}

std::vector<Seed> ActivationSeeds() {
  const absl::Span<const uint8_t> key(
      reinterpret_cast<const uint8_t*>(kFuzzActivationKey.data()),
      kFuzzActivationKey.size());
  ActivationRequest request;
  request.sender_ssrc = 0x5678;
  request.node_id = "district-07";
  request.timestamp_ms = 1'700'000'000'000;
  request.nonce = 0x0123456789abcdefULL;
  request.requested_ssrc = 0x1234;
  const Bytes activate = Built([&](absl::Span<uint8_t> out) {
    return BuildActivation(request, key, out);
  });
  ActivationRequest leave = request;
  leave.kind = ActivationKind::kDeactivate;
  leave.requested_ssrc.reset();
  leave.node_id = "site-0001-long-name";
  const Bytes deactivate = Built([&](absl::Span<uint8_t> out) {
    return BuildActivation(leave, key, out);
  });
  const Bytes rr = Built([](absl::Span<uint8_t> out) {
    return BuildReceiverReport(0x5678, {}, out);
  });
  Bytes bad_mac = activate;
  bad_mac.back() ^= 1;
  return {
      {"ok_activate", activate},
      {"ok_deactivate", deactivate},
      {"ok_rr_then_activate", Concat({rr, activate})},
      {"bad_mac", bad_mac},
  };
}

// RTP packets as relay-source sends them (send time, frame marking, SRTP
// rollover counter), and broken markings.
std::vector<Seed> FrameMarkingSeeds() {
  static constexpr uint8_t kSendTime[8] = {0xe1, 2, 3, 4, 5, 6, 7, 8};
  static constexpr uint8_t kRoc[4] = {0, 0, 0x12, 0x34};
  const Bytes payload = {0x7c, 0x85, 0x88, 0x84, 0x00};
  auto packet = [&](absl::Span<const uint8_t> marking) {
    const ExtensionElement elements[] = {
        {1, kSendTime}, {kFrameMarkingExtensionId, marking}, {3, kRoc}};
    RtpHeader header;
    header.payload_type = 96;
    header.sequence_number = 9;
    header.ssrc = 0x1234;
    header.extensions = elements;
    return RtpPacket(header, payload);
  };
  FrameMarking keyframe;
  keyframe.start_of_frame = true;
  keyframe.independent = true;
  FrameMarking delta_end;
  delta_end.end_of_frame = true;
  delta_end.discardable = true;
  const uint8_t keyframe_byte[] = {FrameMarkingByte(keyframe)};
  const uint8_t delta_end_byte[] = {FrameMarkingByte(delta_end)};
  // S, I, B, TID 2, then LID and TL0PICIDX.
  const uint8_t scalable[] = {0xaa, 1, 200};
  const uint8_t too_long[] = {0xa0, 0, 0, 0};

  RtpHeader send_time_only;
  send_time_only.payload_type = 96;
  const ExtensionElement send_time[] = {{1, kSendTime}};
  send_time_only.extensions = send_time;
  // An element header claiming 16 bytes where 2 remain.
  Bytes malformed = packet(keyframe_byte);
  malformed[16] = 0x1f;

  return {
      {"ok_keyframe_start", packet(keyframe_byte)},
      {"ok_delta_end", packet(delta_end_byte)},
      {"ok_scalable", packet(scalable)},
      {"bad_absent", RtpPacket(send_time_only, payload)},
      {"bad_too_long", packet(too_long)},
      {"bad_malformed_elements", malformed},
  };
}

}  // namespace

std::vector<std::string> FuzzTargets() {
  return {"rtp_fuzz", "rtcp_fuzz", "h264_fuzz", "activation_fuzz",
          "frame_marking_fuzz"};
}

std::vector<Seed> SeedsFor(absl::string_view target) {
  if (target == "rtp_fuzz") return RtpSeeds();
  if (target == "rtcp_fuzz") return RtcpSeeds();
  if (target == "h264_fuzz") return H264Seeds();
  if (target == "activation_fuzz") return ActivationSeeds();
  if (target == "frame_marking_fuzz") return FrameMarkingSeeds();
  return {};
}

}  // namespace cascade::rtp
