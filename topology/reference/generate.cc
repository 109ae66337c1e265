// Generates the reference topologies from DESIGN.md's table:
//   generate --profile=south19   19 provinces, 204 districts, 2,594 sites
//   generate --profile=national  63 provinces, ~700 districts, ~10,600 sites
// Every relay and site gets its own loopback address (the simulation runs
// the whole network on one machine):
//   national        127.1.0.{1,2}
//   province p      127.2.p.1, its standby 127.2.p.2
//   district g      127.3.(g/250).(g%250+1)     (g counts from 0)
//   site s          127.(10+s/62500).(s/250%250).(s%250+1)
// all on port 5004. Output is deterministic: the committed files are this
// program's output.
#include <iostream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/flags.h"
#include "google/protobuf/text_format.h"
#include "proto/topology.pb.h"
#include "topology/reference/provinces.h"

ABSL_FLAG(std::string, profile, "south19", "south19 or national");

namespace cascade::topology {
namespace {

using cascade::v1::Node;

struct Province {
  std::string name;
  int districts;
  int sites;
};

std::vector<Province> South19() {
  std::vector<Province> provinces;
  for (const ProvinceCounts& p : South19Provinces()) {
    provinces.push_back({p.name, p.districts, p.communes});
  }
  return provinces;
}

constexpr int kSouthSites = kSouth19Sites;
constexpr int kNationalProvinces = 63;
constexpr int kNationalDistricts = 700;
constexpr int kNationalSites = 10600;
constexpr int kPort = 5004;
constexpr uint32_t kCommandKbps = 2600;  // 720p30 H.264 + audio

// Splits `total` in proportion to `weights` (largest remainder), so the
// parts sum exactly to `total`.
std::vector<int> Apportion(int total, const std::vector<int>& weights) {
  long long weight_sum = 0;
  for (int w : weights) weight_sum += w;
  std::vector<int> parts(weights.size());
  std::vector<std::pair<long long, size_t>> remainders;
  int given = 0;
  for (size_t i = 0; i < weights.size(); ++i) {
    long long scaled = static_cast<long long>(total) * weights[i];
    parts[i] = static_cast<int>(scaled / weight_sum);
    given += parts[i];
    remainders.push_back({scaled % weight_sum, i});
  }
  std::stable_sort(
      remainders.begin(), remainders.end(),
      [](const auto& a, const auto& b) { return a.first > b.first; });
  for (int k = 0; k < total - given; ++k) ++parts[remainders[k].second];
  return parts;
}

std::vector<Province> Profile(const std::string& profile) {
  std::vector<Province> provinces = South19();
  std::vector<int> communes;
  int commune_total = 0;
  for (const Province& p : provinces) {
    communes.push_back(p.sites);
    commune_total += p.sites;
  }
  // The extra sites (field hospitals, checkpoints) spread by size.
  std::vector<int> extra = Apportion(kSouthSites - commune_total, communes);
  for (size_t i = 0; i < provinces.size(); ++i) provinces[i].sites += extra[i];
  if (profile == "south19") return provinces;

  // The rest of the country: synthetic provinces of varied size that bring
  // the totals to the national figures.
  int more = kNationalProvinces - static_cast<int>(provinces.size());
  std::vector<int> weights;
  for (int i = 0; i < more; ++i) weights.push_back(6 + (i * 7) % 11);
  int districts = kNationalDistricts, sites = kNationalSites;
  for (const Province& p : provinces) {
    districts -= p.districts;
    sites -= p.sites;
  }
  std::vector<int> district_parts = Apportion(districts, weights);
  std::vector<int> site_parts = Apportion(sites, weights);
  for (int i = 0; i < more; ++i) {
    provinces.push_back({absl::StrCat("Province ", provinces.size() + 1),
                         district_parts[i], site_parts[i]});
  }
  return provinces;
}

std::string Slug(const std::string& name) {
  std::string slug;
  for (char c : name) {
    if (absl::ascii_isalnum(static_cast<unsigned char>(c))) {
      slug += absl::ascii_tolower(static_cast<unsigned char>(c));
    } else if (!slug.empty() && slug.back() != '-') {
      slug += '-';
    }
  }
  return slug;
}

Node MakeNode(const std::string& id, cascade::v1::Tier tier,
              const std::string& address, uint32_t max_children) {
  Node node;
  node.set_id(id);
  node.set_tier(tier);
  node.set_media_address(absl::StrCat(address, ":", kPort));
  node.mutable_capacity()->set_max_children(max_children);
  node.mutable_capacity()->set_uplink_kbps(static_cast<uint64_t>(max_children) *
                                           kCommandKbps);
  return node;
}

void Print(const google::protobuf::Message& message, const char* field) {
  google::protobuf::TextFormat::Printer printer;
  printer.SetSingleLineMode(true);
  std::string text;
  printer.PrintToString(message, &text);
  while (!text.empty() && text.back() == ' ') text.pop_back();
  std::cout << field << " { " << text << " }\n";
}

int Generate(const std::string& profile) {
  std::vector<Province> provinces = Profile(profile);
  int total_districts = 0, total_sites = 0;
  for (const Province& p : provinces) {
    total_districts += p.districts;
    total_sites += p.sites;
  }
  std::cout << "# Cascade reference topology \"" << profile
            << "\": " << provinces.size() << " provinces, " << total_districts
            << " districts, " << total_sites << " sites.\n"
            << "# Generated by topology/reference/generate --profile="
            << profile << "; do not edit by hand.\n";

  cascade::v1::Stream command;
  command.set_id("command");
  command.set_direction(cascade::v1::DIRECTION_DOWNSTREAM);
  command.set_bitrate_kbps(kCommandKbps);
  // Empty source_node: the command center feeds every root.
  auto* video = command.add_tracks();
  video->set_ssrc(0x43430001);
  video->set_media("video");
  video->set_payload_type(96);
  video->set_encoding("H264/90000");
  auto* audio = command.add_tracks();
  audio->set_ssrc(0x43430002);
  audio->set_media("audio");
  audio->set_payload_type(111);
  audio->set_encoding("opus/48000/2");
  Print(command, "streams");

  const uint32_t national_capacity =
      static_cast<uint32_t>(2 * provinces.size() + 8);
  Node nat1 = MakeNode("nat-1", cascade::v1::TIER_NATIONAL, "127.1.0.1",
                       national_capacity);
  nat1.set_role(cascade::v1::ROLE_ACTIVE);
  (*nat1.mutable_labels())["region"] = "national";
  Print(nat1, "nodes");
  Node nat2 = MakeNode("nat-2", cascade::v1::TIER_NATIONAL, "127.1.0.2",
                       national_capacity);
  nat2.set_role(cascade::v1::ROLE_STANDBY);
  (*nat2.mutable_labels())["region"] = "national";
  Print(nat2, "nodes");

  int district_index = 0, site_index = 0;
  for (size_t p = 0; p < provinces.size(); ++p) {
    const Province& province = provinces[p];
    const std::string slug = Slug(province.name);
    std::vector<int> sites_per_district =
        Apportion(province.sites, std::vector<int>(province.districts, 1));
    const int most_sites = sites_per_district.front();
    std::string province_address = absl::StrCat("127.2.", p + 1, ".");

    // The primary takes its districts plus, as the sites' standby, the
    // sites of two failed districts.
    Node primary =
        MakeNode(slug, cascade::v1::TIER_PROVINCIAL, province_address + "1",
                 province.districts + 2 * most_sites + 4);
    primary.set_role(cascade::v1::ROLE_ACTIVE);
    primary.set_parent("nat-1");
    primary.add_standby_parents("nat-2");
    (*primary.mutable_labels())["region"] = slug;
    (*primary.mutable_labels())["name"] = province.name;
    Print(primary, "nodes");
    // The standby takes every district when the primary fails.
    Node standby = MakeNode(slug + "-sb", cascade::v1::TIER_PROVINCIAL,
                            province_address + "2", province.districts + 4);
    standby.set_role(cascade::v1::ROLE_STANDBY);
    standby.set_parent("nat-1");
    standby.add_standby_parents("nat-2");
    (*standby.mutable_labels())["region"] = slug;
    (*standby.mutable_labels())["name"] = province.name;
    Print(standby, "nodes");

    for (int d = 0; d < province.districts; ++d, ++district_index) {
      std::string district_id = absl::StrFormat("%s-d%02d", slug, d + 1);
      Node district = MakeNode(district_id, cascade::v1::TIER_DISTRICT,
                               absl::StrCat("127.3.", district_index / 250, ".",
                                            district_index % 250 + 1),
                               sites_per_district[d] + 4);
      district.set_role(cascade::v1::ROLE_ACTIVE);
      district.set_parent(slug);
      district.add_standby_parents(slug + "-sb");
      (*district.mutable_labels())["region"] = slug;
      Print(district, "nodes");
      for (int s = 0; s < sites_per_district[d]; ++s, ++site_index) {
        Node site = MakeNode(
            absl::StrFormat("%s-s%03d", district_id, s + 1),
            cascade::v1::TIER_SITE,
            absl::StrCat("127.", 10 + site_index / 62500, ".",
                         site_index / 250 % 250, ".", site_index % 250 + 1),
            0);
        site.clear_capacity();
        site.set_role(cascade::v1::ROLE_ACTIVE);
        site.set_parent(district_id);
        site.add_standby_parents(slug);
        (*site.mutable_labels())["region"] = slug;
        Print(site, "nodes");
      }
    }
  }
  return 0;
}

}  // namespace
}  // namespace cascade::topology

int main(int argc, char** argv) {
  cascade::ParseFlags(
      argc, argv,
      "prints a reference topology (text cascade.v1.Topology) on stdout.\n"
      "  generate --profile=south19|national > FILE");
  const std::string profile = absl::GetFlag(FLAGS_profile);
  if (profile != "south19" && profile != "national") {
    std::cerr << "generate: --profile must be south19 or national, not \""
              << profile << "\"\n";
    return 2;
  }
  return cascade::topology::Generate(profile);
}
