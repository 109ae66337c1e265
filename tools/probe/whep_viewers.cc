#include "tools/probe/whep_viewers.h"

#include <random>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "tools/probe/whep_sdp.h"
#include "webrtc/edge/srtp_gcm_openssl.h"
#include "webrtc/ice/ice_lite.h"

namespace cascade {
namespace probe {
namespace {

using google::protobuf::Struct;
using google::protobuf::Value;

double Ms(absl::Duration d) { return absl::ToDoubleMilliseconds(d); }

Value& Field(Struct* s, const std::string& key) {
  return (*s->mutable_fields())[key];
}
void SetNumber(Struct* s, const std::string& key, double value) {
  Field(s, key).set_number_value(value);
}
void SetString(Struct* s, const std::string& key, const std::string& value) {
  Field(s, key).set_string_value(value);
}
void SetOptionalMs(Struct* s, const std::string& key,
                   const std::optional<absl::Duration>& value) {
  if (value.has_value()) {
    SetNumber(s, key, Ms(*value));
  } else {
    Field(s, key).set_null_value(google::protobuf::NULL_VALUE);
  }
}

}  // namespace

absl::StatusOr<std::unique_ptr<WhepViewers>> WhepViewers::Open(
    const WhepViewersOptions& options, const SiteOptions& base,
    std::vector<SiteOptions>* sites,
    std::vector<std::unique_ptr<SiteTransport>>* transports) {
  // libsrtp2 (and the NSS it runs on) loads on first use, some 60 ms in
  // which the loop would stall every other viewer's handshake.
  // And its AES-GCM on OpenSSL, as the relay's: NSS's costs a PKCS#11
  // context a packet, which hundreds of viewers in one process feel.
  if (absl::Status srtp = edge::UseOpenSslForSrtpGcm(); !srtp.ok()) {
    return srtp;
  }
  std::unique_ptr<WhepViewers> viewers(new WhepViewers());
  dtls::CertificateOptions certificate_options;
  certificate_options.now = absl::Now();
  certificate_options.common_name = "relay-probe";
  auto certificate = dtls::Certificate::Generate(certificate_options);
  if (!certificate.ok()) return certificate.status();
  viewers->certificate_ = *std::move(certificate);
  // The viewers' address (--listen) is also their HTTP requests' source.
  auto client = WhepClient::Create(options.url, options.tls, absl::Seconds(10),
                                   base.listen.ip);
  if (!client.ok()) return client.status();
  viewers->client_ = *std::move(client);

  std::mt19937_64 rng(std::random_device{}());
  for (int i = 0; i < options.viewers; ++i) {
    // What went wrong with this viewer, its sessions so far ended.
    auto failed = [&](const absl::Status& status) {
      viewers->Close();
      return absl::Status(status.code(),
                          absl::StrCat("viewer ", i, ": ", status.message()));
    };
    absl::StatusOr<ice::IceCredentials> credentials =
        ice::RandomIceCredentials();
    if (!credentials.ok()) return failed(credentials.status());
    WhepOfferOptions offer;
    offer.ice = *credentials;
    offer.fingerprint = viewers->certificate_->fingerprint();
    offer.session_id = (rng() >> 2) | 1;
    const absl::Time posted = absl::Now();
    absl::StatusOr<WhepResource> resource =
        viewers->client_->Post(BuildWhepOffer(offer));
    if (!resource.ok()) return failed(resource.status());
    viewers->post_times_.push_back(absl::Now() - posted);
    viewers->locations_.push_back(resource->location);
    viewers->deleted_.push_back(false);
    viewers->delete_errors_.emplace_back();
    absl::StatusOr<WhepAnswer> answer = ParseWhepAnswer(resource->answer);
    if (!answer.ok()) return failed(answer.status());
    auto transport = WhepTransport::Create(
        *credentials, *answer, *viewers->certificate_, options.transport);
    if (!transport.ok()) return failed(transport.status());
    viewers->transports_.push_back(transport->get());
    transports->push_back(*std::move(transport));

    SiteOptions site = base;
    site.parents.clear();
    site.video_payload_type = static_cast<uint8_t>(answer->video_payload_type);
    if (base.listen.port != 0) {
      site.listen.port = static_cast<uint16_t>(base.listen.port + i);
    }
    sites->push_back(site);
  }
  return viewers;
}

std::vector<std::string> WhepViewers::Close() {
  std::vector<std::string> errors;
  for (size_t i = 0; i < locations_.size(); ++i) {
    if (deleted_[i]) continue;
    const absl::Status status = client_->Delete(locations_[i]);
    deleted_[i] = true;
    if (!status.ok()) {
      delete_errors_[i] = std::string(status.message());
      errors.push_back(absl::StrCat("viewer ", i, ": ", status.message()));
    }
  }
  return errors;
}

std::vector<std::string> WhepViewers::Broken() const {
  std::vector<std::string> reasons;
  for (size_t i = 0; i < transports_.size(); ++i) {
    const WhepTransport& t = *transports_[i];
    const std::string who =
        absl::StrCat("viewer ", i, " (", locations_[i], ")");
    if (!t.connected_after().has_value()) {
      reasons.push_back(absl::StrCat(
          who, " never connected: ",
          t.error().ok() ? WhepStateName(t.state()) : t.error().message()));
    } else if (!t.error().ok()) {
      reasons.push_back(absl::StrCat(who, ": ", t.error().message()));
    }
    if (!delete_errors_[i].empty()) {
      reasons.push_back(absl::StrCat(who, ": ", delete_errors_[i]));
    }
  }
  return reasons;
}

Struct WhepViewers::Report(const Probe& probe, absl::Duration cpu) const {
  Struct whep;
  const WhepUrl& url = client_->url();
  SetString(&whep, "endpoint", url.Origin() + url.EndpointPath());
  SetNumber(&whep, "viewers", static_cast<double>(transports_.size()));
  int connected = 0;
  google::protobuf::ListValue* sessions =
      Field(&whep, "sessions").mutable_list_value();
  for (size_t i = 0; i < transports_.size(); ++i) {
    const WhepTransport& t = *transports_[i];
    const WhepTransportCounters& c = t.counters();
    if (t.connected_after().has_value()) ++connected;
    Struct* v = sessions->add_values()->mutable_struct_value();
    SetString(v, "session", locations_[i]);
    SetString(v, "state", std::string(WhepStateName(t.state())));
    if (!t.error().ok())
      SetString(v, "error", std::string(t.error().message()));
    SetString(v, "relay",
              t.selected().has_value() ? t.selected()->ToString() : "");
    SetNumber(v, "post_ms", Ms(post_times_[i]));
    SetOptionalMs(v, "connected_ms", t.connected_after());
    SetOptionalMs(v, "rtt_ms", c.last_rtt);
    SetNumber(v, "checks_sent", static_cast<double>(c.checks_sent));
    SetNumber(v, "check_answers", static_cast<double>(c.check_answers));
    SetNumber(v, "srtp_in", static_cast<double>(c.srtp_in));
    SetNumber(v, "srtp_dropped", static_cast<double>(c.srtp_dropped));
    SetNumber(v, "rtcp_sent", static_cast<double>(c.rtcp_sent));
    Field(v, "deleted")
        .set_bool_value(deleted_[i] && delete_errors_[i].empty());
    if (i >= probe.sites().size()) continue;
    const Site& site = *probe.sites()[i];
    const SiteReport r = site.Report();
    SetString(v, "listen", site.local().ToString());
    SetNumber(v, "packets", static_cast<double>(r.packets));
    SetNumber(v, "lost", static_cast<double>(r.lost));
    SetNumber(v, "frames_decoded", static_cast<double>(r.frames_decoded));
    SetNumber(v, "decode_errors", static_cast<double>(r.decode_errors));
    SetNumber(v, "freezes", static_cast<double>(r.freezes.size()));
    SetNumber(v, "nacks_sent", static_cast<double>(r.nacks_sent));
    SetNumber(v, "plis_sent", static_cast<double>(r.plis_sent));
    SetOptionalMs(v, "first_frame_ms", r.first_frame);
    SetNumber(v, "latency_p99_ms", Ms(site.latency().Percentile(0.99)));
  }
  SetNumber(&whep, "connected", connected);
  SetNumber(&whep, "cpu_s", absl::ToDoubleSeconds(cpu));
  if (!transports_.empty()) {
    SetNumber(&whep, "cpu_ms_per_viewer",
              Ms(cpu) / static_cast<double>(transports_.size()));
  }
  return whep;
}

}  // namespace probe
}  // namespace cascade
