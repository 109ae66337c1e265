// Fuzzes ParseRtp and the extension reader: views stay inside the input, the
// parts add up, and writing the parsed fields back gives the same fields.
#include <cstring>
#include <vector>

#include "media/rtp/demux.h"
#include "media/rtp/fuzz_check.h"
#include "media/rtp/rtp.h"

namespace cascade::rtp {
namespace {

void CheckExtension(const RtpView& view) {
  ExtensionReader reader(view);
  ExtensionElement element;
  size_t elements = 0;
  while (reader.Next(&element)) {
    FUZZ_CHECK(element.id != 0);
    FUZZ_CHECK(Within(element.data, view.extension_data));
    ++elements;
    FUZZ_CHECK(elements <= view.extension_data.size());
  }
}

void CheckRewrite(const RtpView& view) {
  uint32_t csrcs[kMaxCsrcs];
  for (size_t i = 0; i < view.csrc_count; ++i) csrcs[i] = view.csrc(i);
  RtpHeader header;
  header.marker = view.marker;
  header.payload_type = view.payload_type;
  header.sequence_number = view.sequence_number;
  header.timestamp = view.timestamp;
  header.ssrc = view.ssrc;
  header.csrcs = absl::MakeConstSpan(csrcs, view.csrc_count);
  // Every element the reader yields, in order (the block may be malformed
  // after them: only what was read is written back).
  std::vector<ExtensionElement> elements;
  ExtensionReader reader(view);
  ExtensionElement element;
  while (reader.Next(&element)) elements.push_back(element);
  header.extensions = elements;
  std::vector<uint8_t> out(RtpHeaderSize(header) + view.payload.size());
  const size_t size = WriteRtpPacket(header, view.payload, absl::MakeSpan(out));
  FUZZ_CHECK(size == out.size());
  RtpView again;
  FUZZ_CHECK(ParseRtp(absl::MakeConstSpan(out), &again) == RtpError::kOk);
  FUZZ_CHECK(again.marker == view.marker);
  FUZZ_CHECK(again.payload_type == view.payload_type);
  FUZZ_CHECK(again.sequence_number == view.sequence_number);
  FUZZ_CHECK(again.timestamp == view.timestamp);
  FUZZ_CHECK(again.ssrc == view.ssrc);
  FUZZ_CHECK(again.csrc_count == view.csrc_count);
  for (size_t i = 0; i < view.csrc_count; ++i) {
    FUZZ_CHECK(again.csrc(i) == view.csrc(i));
  }
  FUZZ_CHECK(again.payload.size() == view.payload.size());
  FUZZ_CHECK(view.payload.empty() ||
             std::memcmp(again.payload.data(), view.payload.data(),
                         view.payload.size()) == 0);
  FUZZ_CHECK(again.has_extension == !elements.empty());
  ExtensionReader again_reader(again);
  for (const ExtensionElement& written : elements) {
    FUZZ_CHECK(again_reader.Next(&element));
    FUZZ_CHECK(element.id == written.id);
    FUZZ_CHECK(element.data.size() == written.data.size());
    FUZZ_CHECK(element.data.empty() ||
               std::memcmp(element.data.data(), written.data.data(),
                           element.data.size()) == 0);
  }
  FUZZ_CHECK(!again_reader.Next(&element));
  FUZZ_CHECK(again_reader.error() == ExtensionError::kOk);
}

}  // namespace
}  // namespace cascade::rtp

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace cascade::rtp;
  const absl::Span<const uint8_t> input(data, size);
  RtpView view;
  if (ParseRtp(input, &view) != RtpError::kOk) return 0;
  FUZZ_CHECK(Classify(input) != PacketKind::kNotRtp);
  FUZZ_CHECK(view.packet.data() == data && view.packet.size() == size);
  FUZZ_CHECK(Within(view.payload, input));
  FUZZ_CHECK(Within(view.extension_data, input));
  FUZZ_CHECK(view.header_size() + view.payload.size() + view.padding_size ==
             size);
  FUZZ_CHECK(view.header_size() ==
             kRtpFixedHeaderSize + 4 * size_t{view.csrc_count} +
                 (view.has_extension ? 4 + view.extension_data.size() : 0));
  CheckExtension(view);
  CheckRewrite(view);
  return 0;
}
