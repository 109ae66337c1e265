#include "tools/probe/edge_relay.h"

#include <utility>

#include "base/files.h"
#include "control/edge_token.h"
#include "google/protobuf/text_format.h"

namespace cascade::probe {

cascade::v1::RelayConfig EdgeRelayConfig(const EdgeRelaySetup& setup) {
  cascade::v1::RelayConfig config;
  config.set_node_id(setup.relay_id);
  config.set_listen(setup.listen);
  cascade::v1::RelayParent* parent = config.add_parents();
  parent->set_id("source");
  parent->set_address(setup.source_address);
  for (const auto& [ssrc, audio] :
       {std::pair<uint32_t, bool>{setup.video_ssrc, false},
        {setup.audio_ssrc, true}}) {
    cascade::v1::RelayStream* stream = config.add_streams();
    stream->set_ssrc(ssrc);
    stream->set_direction(cascade::v1::RelayStream::DOWN);
    stream->set_h264(!audio);
    stream->set_audio(audio);
    stream->set_stream_id(setup.stream_id);
  }
  config.add_edge_token_keys(setup.token_key_der);
  return config;
}

absl::Status WriteEdgeRelayConfig(const EdgeRelaySetup& setup,
                                  const std::string& path) {
  std::string text;
  if (!google::protobuf::TextFormat::PrintToString(EdgeRelayConfig(setup),
                                                   &text)) {
    return absl::InternalError("cannot print the relay config");
  }
  return WriteFileAtomically(path, text);
}

absl::StatusOr<std::string> MintWatchToken(EVP_PKEY* key,
                                           const std::string& relay_id,
                                           const std::string& stream,
                                           absl::Time now) {
  control::EdgeToken token;
  token.relay = relay_id;
  token.stream = stream;
  token.action = control::EdgeAction::kWatch;
  token.issued = now - absl::Minutes(1);
  token.expires = now + absl::Hours(1);
  token.holder = "probe";
  return control::MintEdgeToken(key, token);
}

}  // namespace cascade::probe
