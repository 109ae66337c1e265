#include "tools/probe/config.h"

#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "media/rtp/activation.h"
#include "tools/media/cli.h"

namespace cascade {
namespace probe {
namespace {

absl::Status Prefixed(absl::string_view prefix, const absl::Status& status) {
  return absl::Status(status.code(), absl::StrCat(prefix, status.message()));
}

// A second entry for the same address would make failover a no-op.
absl::Status CheckDistinct(const std::vector<ParentLink>& parents) {
  for (size_t i = 0; i < parents.size(); ++i) {
    for (size_t j = 0; j < i; ++j) {
      if (parents[i].address == parents[j].address) {
        return absl::InvalidArgumentError(absl::StrCat(
            "parent ", parents[i].address.ToString(), " is listed twice"));
      }
    }
  }
  return absl::OkStatus();
}

// Pairs addresses with keys: one key for all, or one each.
absl::StatusOr<std::vector<ParentLink>> BuildParents(
    const std::vector<absl::string_view>& addresses,
    const std::vector<absl::string_view>& keys) {
  if (keys.size() != 1 && keys.size() != addresses.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat(keys.size(), " keys for ", addresses.size(),
                     " parents: give one key for all or one per parent"));
  }
  std::vector<ParentLink> links;
  for (size_t i = 0; i < addresses.size(); ++i) {
    const std::string which = absl::StrCat("parent ", i + 1, ": ");
    auto address = media::Endpoint::Parse(addresses[i]);
    if (!address.ok()) return Prefixed(which, address.status());
    if (address->port == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(which, "port 0 is not an address to join"));
    }
    auto key = media::ParseHex(keys.size() == 1 ? keys[0] : keys[i]);
    if (!key.ok()) return Prefixed(which, key.status());
    links.push_back(ParentLink{"", *address, *key});
  }
  if (absl::Status distinct = CheckDistinct(links); !distinct.ok()) {
    return distinct;
  }
  return links;
}

}  // namespace

absl::StatusOr<std::vector<ParentLink>> ParseParents(absl::string_view parents,
                                                     absl::string_view keys) {
  return BuildParents(absl::StrSplit(parents, ','), absl::StrSplit(keys, ','));
}

absl::Status CheckNodeId(absl::string_view node_id) {
  if (node_id.empty() || node_id.size() > rtp::kMaxNodeIdSize) {
    return absl::InvalidArgumentError(
        absl::StrCat("node id must be 1..", rtp::kMaxNodeIdSize,
                     " bytes, got \"", node_id, "\""));
  }
  return absl::OkStatus();
}

absl::StatusOr<uint32_t> ParseUpstreamSsrc(absl::string_view text) {
  uint32_t ssrc = 0;
  if (!absl::SimpleAtoi(text, &ssrc) || ssrc == 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "SSRC must be a decimal number 1..4294967295, got \"", text, "\""));
  }
  return ssrc;
}

absl::StatusOr<std::vector<SiteOptions>> ParseSites(absl::string_view name,
                                                    absl::string_view contents,
                                                    const SiteOptions& base) {
  std::vector<SiteOptions> sites;
  // Each key file read once, however many sites name it.
  absl::flat_hash_map<std::string, std::vector<srtp::StreamKey>> key_files;
  int number = 0;
  for (absl::string_view line : absl::StrSplit(contents, '\n')) {
    ++number;
    std::vector<absl::string_view> fields =
        absl::StrSplit(line, absl::ByAnyChar(" \t\r"), absl::SkipEmpty());
    if (fields.empty() || fields[0][0] == '#') continue;
    const std::string where = absl::StrCat(name, ":", number, ": ");
    SiteOptions site = base;
    // NAME=VALUE options after the positional fields, in any order.
    constexpr absl::string_view kUpstream = "upstream=";
    constexpr absl::string_view kSrtpKeyFile = "srtp_key_file=";
    constexpr absl::string_view kUpstreamKeyFile = "upstream_key_file=";
    bool upstream = false;
    while (fields.size() > 1 && absl::StrContains(fields.back(), '=')) {
      const absl::string_view option = fields.back();
      fields.pop_back();
      if (absl::StartsWith(option, kUpstream)) {
        auto ssrc = ParseUpstreamSsrc(option.substr(kUpstream.size()));
        if (!ssrc.ok()) {
          return Prefixed(absl::StrCat(where, "upstream: "), ssrc.status());
        }
        site.upstream_ssrc = *ssrc;
        upstream = true;
      } else if (absl::StartsWith(option, kSrtpKeyFile) ||
                 absl::StartsWith(option, kUpstreamKeyFile)) {
        const bool up = absl::StartsWith(option, kUpstreamKeyFile);
        const std::string path(
            option.substr((up ? kUpstreamKeyFile : kSrtpKeyFile).size()));
        auto& keys = key_files[path];
        if (keys.empty()) {
          auto read = media::ReadSrtpKeyFile(path);
          if (!read.ok()) {
            return Prefixed(absl::StrCat(where, up ? "upstream_key_file: "
                                                   : "srtp_key_file: "),
                            read.status());
          }
          keys = *std::move(read);
        }
        (up ? site.upstream_srtp_keys : site.srtp_keys) = keys;
      } else {
        return absl::InvalidArgumentError(
            absl::StrCat(where, "unknown option \"", option,
                         "\"; want upstream=SSRC, srtp_key_file=PATH or "
                         "upstream_key_file=PATH"));
      }
    }
    if (!site.upstream_srtp_keys.empty() && !upstream) {
      return absl::InvalidArgumentError(absl::StrCat(
          where, "upstream_key_file= needs upstream=SSRC (a stream to send)"));
    }
    if (upstream && fields.size() < 4) {
      return absl::InvalidArgumentError(
          absl::StrCat(where,
                       "upstream= needs a parent to send to (PARENT NODE_ID "
                       "KEY_HEX before it)"));
    }
    if (fields.size() != 1 && (fields.size() < 4 || fields.size() % 2 != 0)) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, fields.size(),
                       " fields; want LISTEN [PARENT NODE_ID KEY_HEX [PARENT "
                       "KEY_HEX]... [upstream=SSRC [upstream_key_file=PATH]]] "
                       "[srtp_key_file=PATH]"));
    }
    auto listen = media::Endpoint::Parse(fields[0]);
    if (!listen.ok()) {
      return Prefixed(absl::StrCat(where, "LISTEN: "), listen.status());
    }
    site.listen = *listen;
    site.parents.clear();
    if (fields.size() > 1) {
      site.node_id = std::string(fields[2]);
      if (absl::Status id = CheckNodeId(site.node_id); !id.ok()) {
        return Prefixed(absl::StrCat(where, "NODE_ID: "), id);
      }
      // Parent/key pairs: fields 1 and 3, then 4 and 5, 6 and 7...
      std::vector<absl::string_view> addresses = {fields[1]};
      std::vector<absl::string_view> keys = {fields[3]};
      for (size_t i = 4; i + 1 < fields.size(); i += 2) {
        addresses.push_back(fields[i]);
        keys.push_back(fields[i + 1]);
      }
      auto parents = BuildParents(addresses, keys);
      if (!parents.ok()) return Prefixed(where, parents.status());
      site.parents = *std::move(parents);
    }
    sites.push_back(std::move(site));
  }
  if (sites.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(name, " lists no sites"));
  }
  return sites;
}

}  // namespace probe
}  // namespace cascade
