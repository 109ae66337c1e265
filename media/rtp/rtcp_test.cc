#include "media/rtp/rtcp.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "media/rtp/seq.h"

namespace cascade::rtp {
namespace {

using Bytes = std::vector<uint8_t>;

// Records everything the parser hands over, copying out of the views.
struct Recorder : RtcpVisitor {
  std::vector<std::string> order;
  std::vector<SenderReportView> srs;
  std::vector<std::vector<ReportBlock>> sr_blocks, rr_blocks;
  std::vector<uint32_t> rr_ssrcs;
  std::vector<std::tuple<uint32_t, uint8_t, std::string>> sdes_items;
  std::vector<std::vector<uint32_t>> bye_ssrcs;
  std::vector<std::string> bye_reasons;
  std::vector<std::tuple<uint8_t, uint32_t, std::string, Bytes>> apps;
  std::vector<std::vector<uint16_t>> nacked;
  std::vector<std::pair<uint32_t, uint32_t>> nack_ssrcs, plis;
  std::vector<std::vector<FirEntry>> firs;
  std::vector<std::pair<uint8_t, uint8_t>> unknown;

  static std::vector<ReportBlock> Blocks(const ReportBlocksView& view) {
    std::vector<ReportBlock> blocks;
    for (size_t i = 0; i < view.size(); ++i) blocks.push_back(view[i]);
    return blocks;
  }
  void OnSenderReport(const SenderReportView& v) override {
    order.push_back("sr");
    srs.push_back(v);
    sr_blocks.push_back(Blocks(v.blocks));
  }
  void OnReceiverReport(const ReceiverReportView& v) override {
    order.push_back("rr");
    rr_ssrcs.push_back(v.sender_ssrc);
    rr_blocks.push_back(Blocks(v.blocks));
  }
  void OnSdes(const SdesView& v) override {
    order.push_back("sdes");
    v.ForEachItem([this](uint32_t ssrc, uint8_t type, absl::string_view s) {
      sdes_items.emplace_back(ssrc, type, std::string(s));
    });
  }
  void OnBye(const ByeView& v) override {
    order.push_back("bye");
    std::vector<uint32_t> ssrcs;
    for (size_t i = 0; i < v.ssrc_count; ++i) ssrcs.push_back(v.ssrc(i));
    bye_ssrcs.push_back(ssrcs);
    bye_reasons.emplace_back(v.reason);
  }
  void OnApp(const AppView& v) override {
    order.push_back("app");
    apps.emplace_back(v.subtype, v.ssrc, std::string(v.name),
                      Bytes(v.data.begin(), v.data.end()));
  }
  void OnNack(const NackView& v) override {
    order.push_back("nack");
    nack_ssrcs.emplace_back(v.sender_ssrc, v.media_ssrc);
    std::vector<uint16_t> seqs;
    v.ForEachSequenceNumber([&seqs](uint16_t seq) { seqs.push_back(seq); });
    nacked.push_back(seqs);
  }
  void OnPli(const PliView& v) override {
    order.push_back("pli");
    plis.emplace_back(v.sender_ssrc, v.media_ssrc);
  }
  void OnFir(const FirView& v) override {
    order.push_back("fir");
    std::vector<FirEntry> entries;
    for (size_t i = 0; i < v.entry_count(); ++i) entries.push_back(v.entry(i));
    firs.push_back(entries);
  }
  void OnUnknown(uint8_t type, uint8_t fmt,
                 absl::Span<const uint8_t>) override {
    order.push_back("unknown");
    unknown.emplace_back(type, fmt);
  }
};

RtcpError Parse(const Bytes& bytes, Recorder* recorder = nullptr,
                size_t* unknown = nullptr) {
  Recorder local;
  return ParseRtcpCompound(absl::MakeConstSpan(bytes),
                           recorder ? recorder : &local, unknown);
}

// Appends a built packet to a compound.
template <typename Build>
void Append(Bytes* compound, Build&& build) {
  uint8_t buffer[1500];
  const size_t size = build(absl::MakeSpan(buffer));
  ASSERT_NE(size, 0u);
  ASSERT_EQ(size % 4, 0u);
  compound->insert(compound->end(), buffer, buffer + size);
}

ReportBlock SampleBlock(uint32_t ssrc, int32_t lost) {
  ReportBlock block;
  block.ssrc = ssrc;
  block.fraction_lost = 25;
  block.cumulative_lost = lost;
  block.extended_highest_sequence = 0x00012345;
  block.jitter = 77;
  block.last_sr = 0xabcdef01;
  block.delay_since_last_sr = 65536;
  return block;
}

// ---- Builders round trip ----

TEST(RtcpRoundTripTest, SenderReport) {
  SenderInfo info;
  info.ntp_timestamp = 0xe1234567'89abcdefULL;
  info.rtp_timestamp = 90000;
  info.packet_count = 1000;
  info.octet_count = 1200000;
  const std::vector<ReportBlock> blocks = {SampleBlock(10, 5),
                                           SampleBlock(11, -3)};
  Bytes packet;
  Append(&packet, [&](absl::Span<uint8_t> out) {
    return BuildSenderReport(0x5eed, info, blocks, out);
  });
  EXPECT_EQ(packet.size(), 4u + 24 + 48);
  Recorder r;
  ASSERT_EQ(Parse(packet, &r), RtcpError::kOk);
  ASSERT_EQ(r.srs.size(), 1u);
  EXPECT_EQ(r.srs[0].sender_ssrc, 0x5eedu);
  EXPECT_EQ(r.srs[0].info, info);
  EXPECT_TRUE(r.srs[0].extension.empty());
  EXPECT_EQ(r.sr_blocks[0], blocks);
}

TEST(RtcpRoundTripTest, SenderReportWithoutBlocks) {
  Bytes packet;
  Append(&packet, [](absl::Span<uint8_t> out) {
    return BuildSenderReport(1, SenderInfo{}, {}, out);
  });
  Recorder r;
  ASSERT_EQ(Parse(packet, &r), RtcpError::kOk);
  ASSERT_EQ(r.sr_blocks.size(), 1u);
  EXPECT_TRUE(r.sr_blocks[0].empty());
}

TEST(RtcpRoundTripTest, ReceiverReportAndLostSaturation) {
  std::vector<ReportBlock> blocks;
  for (uint32_t i = 0; i < kMaxReportBlocks; ++i) {
    blocks.push_back(SampleBlock(i, static_cast<int32_t>(i) - 15));
  }
  blocks[0].cumulative_lost = 0x7fffff;
  blocks[1].cumulative_lost = -0x800000;
  Bytes packet;
  Append(&packet, [&](absl::Span<uint8_t> out) {
    return BuildReceiverReport(42, blocks, out);
  });
  Recorder r;
  ASSERT_EQ(Parse(packet, &r), RtcpError::kOk);
  ASSERT_EQ(r.rr_ssrcs, std::vector<uint32_t>{42});
  EXPECT_EQ(r.rr_blocks[0], blocks);

  // Values past 24 bits saturate instead of wrapping.
  std::vector<ReportBlock> big = {SampleBlock(1, 100000000),
                                  SampleBlock(2, -100000000)};
  Bytes saturated;
  Append(&saturated, [&](absl::Span<uint8_t> out) {
    return BuildReceiverReport(42, big, out);
  });
  Recorder r2;
  ASSERT_EQ(Parse(saturated, &r2), RtcpError::kOk);
  EXPECT_EQ(r2.rr_blocks[0][0].cumulative_lost, 0x7fffff);
  EXPECT_EQ(r2.rr_blocks[0][1].cumulative_lost, -0x800000);
}

TEST(RtcpRoundTripTest, SdesCname) {
  for (size_t length : {1, 2, 5, 6, 255}) {
    const std::string cname(length, 'c');
    Bytes packet;
    Append(&packet, [&](absl::Span<uint8_t> out) {
      return BuildSdesCname(0x1234, cname, out);
    });
    Recorder r;
    ASSERT_EQ(Parse(packet, &r), RtcpError::kOk) << length;
    ASSERT_EQ(r.sdes_items.size(), 1u);
    EXPECT_EQ(r.sdes_items[0], std::make_tuple(0x1234u, kSdesCname, cname));
  }
}

TEST(RtcpRoundTripTest, Bye) {
  const uint32_t ssrcs[] = {1, 2, 0xffffffff};
  for (const std::string reason : {"", "x", "shutting down", "abc"}) {
    Bytes packet;
    Append(&packet, [&](absl::Span<uint8_t> out) {
      return BuildBye(ssrcs, reason, out);
    });
    Recorder r;
    ASSERT_EQ(Parse(packet, &r), RtcpError::kOk) << reason;
    EXPECT_EQ(r.bye_ssrcs[0], std::vector<uint32_t>(ssrcs, ssrcs + 3));
    EXPECT_EQ(r.bye_reasons[0], reason);
  }
}

TEST(RtcpRoundTripTest, App) {
  const Bytes data = {1, 2, 3, 4, 5, 6, 7, 8};
  Bytes packet;
  Append(&packet, [&](absl::Span<uint8_t> out) {
    return BuildApp(17, 0xaabbccdd, "TEST", data, out);
  });
  Recorder r;
  ASSERT_EQ(Parse(packet, &r), RtcpError::kOk);
  ASSERT_EQ(r.apps.size(), 1u);
  EXPECT_EQ(r.apps[0], std::make_tuple(uint8_t{17}, 0xaabbccddu,
                                       std::string("TEST"), data));
}

TEST(RtcpRoundTripTest, PliAndFir) {
  const FirEntry entries[] = {{0x1111, 3}, {0x2222, 255}};
  Bytes compound;
  Append(&compound,
         [](absl::Span<uint8_t> out) { return BuildPli(7, 8, out); });
  Append(&compound,
         [&](absl::Span<uint8_t> out) { return BuildFir(9, entries, out); });
  Recorder r;
  ASSERT_EQ(Parse(compound, &r), RtcpError::kOk);
  EXPECT_EQ(r.order, (std::vector<std::string>{"pli", "fir"}));
  EXPECT_EQ(r.plis[0], std::make_pair(7u, 8u));
  EXPECT_EQ(r.firs[0], std::vector<FirEntry>(entries, entries + 2));
}

std::vector<uint16_t> NackRoundTrip(const std::vector<uint16_t>& seqs,
                                    size_t* items) {
  uint8_t buffer[1500];
  const size_t size = BuildNack(1, 2, seqs, buffer);
  EXPECT_NE(size, 0u);
  *items = (size - 12) / 4;
  EXPECT_EQ(*items, NackItemCount(seqs));
  Recorder r;
  EXPECT_EQ(ParseRtcpCompound(absl::MakeConstSpan(buffer, size), &r),
            RtcpError::kOk);
  EXPECT_EQ(r.nack_ssrcs.size(), 1u);
  return r.nacked.empty() ? std::vector<uint16_t>{} : r.nacked[0];
}

TEST(NackTest, SingleAndBitmask) {
  size_t items;
  EXPECT_EQ(NackRoundTrip({100}, &items), std::vector<uint16_t>{100});
  EXPECT_EQ(items, 1u);
  // 100 and the 16 after it share one entry; 117 needs a second.
  std::vector<uint16_t> seqs;
  for (uint16_t s = 100; s <= 117; ++s) seqs.push_back(s);
  EXPECT_EQ(NackRoundTrip(seqs, &items), seqs);
  EXPECT_EQ(items, 2u);
  // 10 covers 12 and 26; 27 is 17 after it and starts a second entry.
  const std::vector<uint16_t> sparse = {10, 12, 26, 27, 60};
  EXPECT_EQ(NackRoundTrip(sparse, &items), sparse);
  EXPECT_EQ(items, 3u);
}

TEST(NackTest, AcrossTheWrap) {
  const std::vector<uint16_t> seqs = {65530, 65533, 65535, 0, 1, 9};
  size_t items;
  EXPECT_EQ(NackRoundTrip(seqs, &items), seqs);
  EXPECT_EQ(items, 1u);  // all within 16 after 65530
}

TEST(NackTest, DuplicatesAreMerged) {
  size_t items;
  EXPECT_EQ(NackRoundTrip({5, 5, 6, 6, 6, 40, 40}, &items),
            (std::vector<uint16_t>{5, 6, 40}));
  EXPECT_EQ(items, 2u);
}

TEST(NackTest, RejectsEmptyUnsortedAndTooSmall) {
  uint8_t buffer[64];
  EXPECT_EQ(BuildNack(1, 2, {}, buffer), 0u);
  const uint16_t unsorted[] = {5, 3};
  EXPECT_EQ(BuildNack(1, 2, unsorted, buffer), 0u);
  EXPECT_EQ(NackItemCount(unsorted), 0u);
  const uint16_t wrapped_unsorted[] = {1, 65535};
  EXPECT_EQ(BuildNack(1, 2, wrapped_unsorted, buffer), 0u);
  const uint16_t two_items[] = {1, 100};
  EXPECT_EQ(BuildNack(1, 2, two_items, absl::MakeSpan(buffer, 19)), 0u);
  EXPECT_EQ(BuildNack(1, 2, two_items, absl::MakeSpan(buffer, 20)), 20u);
}

TEST(NackTest, ExpandItem) {
  std::array<uint16_t, 17> out;
  ASSERT_EQ(ExpandNackItem({65535, 0x8001}, &out), 3u);
  EXPECT_EQ(out[0], 65535);
  EXPECT_EQ(out[1], 0);
  EXPECT_EQ(out[2], 15);
  ASSERT_EQ(ExpandNackItem({7, 0xffff}, &out), 17u);
  EXPECT_EQ(out[16], 23);
}

TEST(RtcpRoundTripTest, CompoundInOrder) {
  Bytes compound;
  const std::vector<ReportBlock> blocks = {SampleBlock(5, 0)};
  Append(&compound, [&](absl::Span<uint8_t> out) {
    return BuildReceiverReport(1, blocks, out);
  });
  Append(&compound, [](absl::Span<uint8_t> out) {
    return BuildSdesCname(1, "relay-1", out);
  });
  const uint16_t lost[] = {3, 4};
  Append(&compound,
         [&](absl::Span<uint8_t> out) { return BuildNack(1, 5, lost, out); });
  Append(&compound,
         [](absl::Span<uint8_t> out) { return BuildPli(1, 5, out); });
  const uint32_t ssrcs[] = {1};
  Append(&compound,
         [&](absl::Span<uint8_t> out) { return BuildBye(ssrcs, "", out); });
  Recorder r;
  ASSERT_EQ(Parse(compound, &r), RtcpError::kOk);
  EXPECT_EQ(r.order,
            (std::vector<std::string>{"rr", "sdes", "nack", "pli", "bye"}));
  EXPECT_EQ(r.nacked[0], (std::vector<uint16_t>{3, 4}));
  EXPECT_EQ(r.nack_ssrcs[0], std::make_pair(1u, 5u));
}

TEST(BuilderTest, RejectsInvalidInputAndSmallBuffers) {
  uint8_t buffer[2048];
  std::vector<ReportBlock> too_many(32);
  EXPECT_EQ(BuildReceiverReport(1, too_many, buffer), 0u);
  EXPECT_EQ(BuildSenderReport(1, {}, too_many, buffer), 0u);
  EXPECT_EQ(BuildReceiverReport(1, {}, absl::MakeSpan(buffer, 7)), 0u);
  EXPECT_EQ(BuildReceiverReport(1, {}, absl::MakeSpan(buffer, 8)), 8u);
  EXPECT_EQ(BuildSenderReport(1, {}, {}, absl::MakeSpan(buffer, 27)), 0u);
  EXPECT_EQ(BuildSdesCname(1, "", buffer), 0u);
  EXPECT_EQ(BuildSdesCname(1, std::string(256, 'a'), buffer), 0u);
  EXPECT_EQ(BuildSdesCname(1, "abc", absl::MakeSpan(buffer, 11)), 0u);
  EXPECT_EQ(BuildSdesCname(1, "abc", absl::MakeSpan(buffer, 16)), 16u);
  EXPECT_EQ(BuildBye({}, "", buffer), 0u);
  const uint32_t one[] = {1};
  EXPECT_EQ(BuildBye(one, std::string(256, 'r'), buffer), 0u);
  EXPECT_EQ(BuildBye(one, "", absl::MakeSpan(buffer, 7)), 0u);
  EXPECT_EQ(BuildApp(32, 1, "NAME", {}, buffer), 0u);
  EXPECT_EQ(BuildApp(0, 1, "NAM", {}, buffer), 0u);
  const uint8_t odd[3] = {};
  EXPECT_EQ(BuildApp(0, 1, "NAME", odd, buffer), 0u);
  EXPECT_EQ(BuildApp(0, 1, "NAME", {}, absl::MakeSpan(buffer, 11)), 0u);
  EXPECT_EQ(BuildPli(1, 2, absl::MakeSpan(buffer, 11)), 0u);
  EXPECT_EQ(BuildFir(1, {}, buffer), 0u);
  const FirEntry entry[] = {{1, 1}};
  EXPECT_EQ(BuildFir(1, entry, absl::MakeSpan(buffer, 19)), 0u);
}

// ---- Malformed input, each with its own reason ----

// An RR with no blocks from SSRC 1: the smallest well-formed packet here.
Bytes EmptyRr() { return {0x80, 201, 0, 1, 0, 0, 0, 1}; }

TEST(RtcpMalformedTest, EmptyAndTruncatedHeader) {
  EXPECT_EQ(Parse({}), RtcpError::kEmpty);
  EXPECT_EQ(Parse({0x80, 201, 0}), RtcpError::kTooShort);
  Bytes trailing = EmptyRr();
  trailing.push_back(0x80);  // a stray byte after a good packet
  EXPECT_EQ(Parse(trailing), RtcpError::kTooShort);
}

TEST(RtcpMalformedTest, BadVersion) {
  Bytes packet = EmptyRr();
  packet[0] = 0x40;
  EXPECT_EQ(Parse(packet), RtcpError::kBadVersion);
  Bytes second = EmptyRr();
  Bytes bad = EmptyRr();
  bad[0] = 0xc0;
  second.insert(second.end(), bad.begin(), bad.end());
  EXPECT_EQ(Parse(second), RtcpError::kBadVersion);
}

TEST(RtcpMalformedTest, LengthOverrun) {
  Bytes packet = EmptyRr();
  packet[3] = 2;  // claims 12 bytes, has 8
  EXPECT_EQ(Parse(packet), RtcpError::kLengthOverrun);
  packet[2] = 0xff;
  packet[3] = 0xff;
  EXPECT_EQ(Parse(packet), RtcpError::kLengthOverrun);
}

TEST(RtcpMalformedTest, PaddingOnlyOnLast) {
  // RR with 4 bytes of padding, followed by another RR.
  Bytes padded = {0xa0, 201, 0, 2, 0, 0, 0, 1, 0, 0, 0, 4};
  EXPECT_EQ(Parse(padded), RtcpError::kOk);
  Bytes compound = padded;
  const Bytes rr = EmptyRr();
  compound.insert(compound.end(), rr.begin(), rr.end());
  EXPECT_EQ(Parse(compound), RtcpError::kPaddingNotLast);
  // Padding on the last packet of a compound is fine.
  Bytes ok = rr;
  ok.insert(ok.end(), padded.begin(), padded.end());
  EXPECT_EQ(Parse(ok), RtcpError::kOk);
}

TEST(RtcpMalformedTest, BadPadding) {
  Bytes zero = {0xa0, 201, 0, 2, 0, 0, 0, 1, 0, 0, 0, 0};
  EXPECT_EQ(Parse(zero), RtcpError::kBadPadding);
  Bytes too_long = {0xa0, 201, 0, 2, 0, 0, 0, 1, 0, 0, 0, 9};
  EXPECT_EQ(Parse(too_long), RtcpError::kBadPadding);
  // Padding that eats the RR's SSRC leaves an RR too short.
  Bytes eats_body = {0xa0, 201, 0, 2, 0, 0, 0, 1, 0, 0, 0, 8};
  EXPECT_EQ(Parse(eats_body), RtcpError::kRrTooShort);
}

TEST(RtcpMalformedTest, SrAndRrTooShortForTheirBlocks) {
  Bytes sr(28, 0);
  sr[0] = 0x80;
  sr[1] = 200;
  sr[3] = 6;
  EXPECT_EQ(Parse(sr), RtcpError::kOk);
  sr[0] = 0x81;  // one report block claimed, none present
  EXPECT_EQ(Parse(sr), RtcpError::kSrTooShort);
  Bytes short_sr = {0x80, 200, 0, 1, 0, 0, 0, 1};  // no sender info
  EXPECT_EQ(Parse(short_sr), RtcpError::kSrTooShort);
  Bytes rr = EmptyRr();
  rr[0] = 0x9f;  // 31 blocks claimed
  EXPECT_EQ(Parse(rr), RtcpError::kRrTooShort);
  Bytes no_ssrc = {0x80, 201, 0, 0};
  EXPECT_EQ(Parse(no_ssrc), RtcpError::kRrTooShort);
}

TEST(RtcpMalformedTest, SdesChunkOverrun) {
  // Two chunks claimed, one present.
  Bytes two = {0x82, 202, 0, 2, 0, 0, 0, 1, 0, 0, 0, 0};
  EXPECT_EQ(Parse(two), RtcpError::kSdesChunkOverrun);
  // Items never terminated.
  Bytes no_end = {0x81, 202, 0, 2, 0, 0, 0, 1, 1, 2, 'a', 'b'};
  EXPECT_EQ(Parse(no_end), RtcpError::kSdesChunkOverrun);
  // A chunk with no items is fine.
  Bytes empty_chunk = {0x81, 202, 0, 2, 0, 0, 0, 1, 0, 0, 0, 0};
  Recorder r;
  EXPECT_EQ(Parse(empty_chunk, &r), RtcpError::kOk);
  EXPECT_TRUE(r.sdes_items.empty());
}

TEST(RtcpMalformedTest, SdesItemOverrun) {
  Bytes long_item = {0x81, 202, 0, 2, 0, 0, 0, 1, 1, 9, 'a', 'b'};
  EXPECT_EQ(Parse(long_item), RtcpError::kSdesItemOverrun);
  // Item type in the last byte, without its length byte.
  Bytes cut = {0x81, 202, 0, 2, 0, 0, 0, 1, 1, 1, 'x', 1};
  EXPECT_EQ(Parse(cut), RtcpError::kSdesItemOverrun);
}

TEST(RtcpMalformedTest, ByeTooShortAndReasonOverrun) {
  Bytes bye = {0x83, 203, 0, 2, 0, 0, 0, 1, 0, 0, 0, 2};  // 3 SSRCs claimed
  EXPECT_EQ(Parse(bye), RtcpError::kByeTooShort);
  Bytes reason = {0x81, 203, 0, 2, 0, 0, 0, 1, 5, 'a', 'b', 'c'};
  EXPECT_EQ(Parse(reason), RtcpError::kByeReasonOverrun);
  reason[8] = 3;
  Recorder r;
  EXPECT_EQ(Parse(reason, &r), RtcpError::kOk);
  EXPECT_EQ(r.bye_reasons[0], "abc");
}

TEST(RtcpMalformedTest, AppTooShort) {
  Bytes app = {0x80, 204, 0, 1, 0, 0, 0, 1};  // SSRC but no name
  EXPECT_EQ(Parse(app), RtcpError::kAppTooShort);
}

TEST(RtcpMalformedTest, FeedbackTooShort) {
  Bytes nack = {0x81, 205, 0, 1, 0, 0, 0, 1};  // no media SSRC
  EXPECT_EQ(Parse(nack), RtcpError::kFeedbackTooShort);
  Bytes pli = {0x81, 206, 0, 1, 0, 0, 0, 1};
  EXPECT_EQ(Parse(pli), RtcpError::kFeedbackTooShort);
  Bytes unknown_fb = {0x8f, 206, 0, 1, 0, 0, 0, 1};  // REMB-like, too short
  EXPECT_EQ(Parse(unknown_fb), RtcpError::kFeedbackTooShort);
}

TEST(RtcpMalformedTest, NackEmptyAndBadLength) {
  Bytes empty = {0x81, 205, 0, 2, 0, 0, 0, 1, 0, 0, 0, 2};
  EXPECT_EQ(Parse(empty), RtcpError::kNackEmpty);
  // Padding leaves a 2-byte FCI.
  Bytes partial = {0xa1, 205, 0, 3, 0, 0, 0, 1, 0, 0, 0, 2, 0, 7, 0, 2};
  EXPECT_EQ(Parse(partial), RtcpError::kNackBadLength);
}

TEST(RtcpMalformedTest, FirEmptyAndBadLength) {
  Bytes empty = {0x84, 206, 0, 2, 0, 0, 0, 1, 0, 0, 0, 0};
  EXPECT_EQ(Parse(empty), RtcpError::kFirEmpty);
  Bytes half = {0x84, 206, 0, 3, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 5};
  EXPECT_EQ(Parse(half), RtcpError::kFirBadLength);
}

TEST(RtcpMalformedTest, OneBadPacketRejectsTheWholeCompound) {
  Bytes compound;
  Append(&compound,
         [](absl::Span<uint8_t> out) { return BuildPli(1, 2, out); });
  const Bytes bad = {0x81, 205, 0, 2, 0, 0, 0, 1, 0, 0, 0, 2};  // empty NACK
  compound.insert(compound.end(), bad.begin(), bad.end());
  Recorder r;
  EXPECT_EQ(Parse(compound, &r), RtcpError::kNackEmpty);
  EXPECT_TRUE(r.order.empty()) << "the PLI before it must not act";
}

TEST(RtcpUnknownTest, SkippedAndCounted) {
  Bytes compound = {0x80, 207, 0, 1, 1, 2, 3, 4};  // XR
  Append(&compound,
         [](absl::Span<uint8_t> out) { return BuildPli(1, 2, out); });
  // RTPFB fmt 15 (transport-wide CC) and PSFB fmt 15 (REMB).
  const Bytes twcc = {0x8f, 205, 0, 2, 0, 0, 0, 1, 0, 0, 0, 2};
  const Bytes remb = {0x8f, 206, 0, 2, 0, 0, 0, 1, 0, 0, 0, 2};
  compound.insert(compound.end(), twcc.begin(), twcc.end());
  compound.insert(compound.end(), remb.begin(), remb.end());
  Recorder r;
  size_t unknown = 99;
  ASSERT_EQ(Parse(compound, &r, &unknown), RtcpError::kOk);
  EXPECT_EQ(unknown, 3u);
  EXPECT_EQ(r.order,
            (std::vector<std::string>{"unknown", "pli", "unknown", "unknown"}));
  EXPECT_EQ(r.unknown[0], std::make_pair(uint8_t{207}, uint8_t{0}));
  EXPECT_EQ(r.unknown[2], std::make_pair(uint8_t{206}, uint8_t{15}));
}

TEST(RtcpParseTest, NullVisitorOnlyValidates) {
  Bytes packet = EmptyRr();
  EXPECT_EQ(ParseRtcpCompound(absl::MakeConstSpan(packet), nullptr),
            RtcpError::kOk);
  packet[0] = 0x40;
  EXPECT_EQ(ParseRtcpCompound(absl::MakeConstSpan(packet), nullptr),
            RtcpError::kBadVersion);
}

TEST(RtcpParseTest, ViewsPointIntoTheDatagram) {
  Bytes compound = EmptyRr();
  Append(&compound, [](absl::Span<uint8_t> out) {
    return BuildApp(1, 2, "ABCD", {}, out);
  });
  struct Check : RtcpVisitor {
    absl::Span<const uint8_t> app_packet;
    void OnApp(const AppView& v) override { app_packet = v.packet; }
  } check;
  ASSERT_EQ(ParseRtcpCompound(absl::MakeConstSpan(compound), &check),
            RtcpError::kOk);
  EXPECT_EQ(check.app_packet.data(), compound.data() + 8);
  EXPECT_EQ(check.app_packet.size(), 12u);
}

TEST(RtcpErrorNameTest, EveryValueHasADistinctName) {
  std::vector<std::string> names;
  for (int e = 0; e <= static_cast<int>(RtcpError::kFirBadLength); ++e) {
    names.emplace_back(ErrorName(static_cast<RtcpError>(e)));
    EXPECT_NE(names.back(), "unknown") << e;
  }
  std::vector<std::string> sorted = names;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(std::unique(sorted.begin(), sorted.end()), sorted.end());
  EXPECT_EQ(ErrorName(RtcpError::kPaddingNotLast), "padding_not_last");
}

}  // namespace
}  // namespace cascade::rtp
