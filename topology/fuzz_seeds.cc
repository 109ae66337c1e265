#include "topology/fuzz_seeds.h"

#include "absl/strings/str_cat.h"

namespace cascade::topology {
namespace {

// tests/topology/topologyd_integration_test's tree: a standby province, a
// site with a standby parent two tiers up.
constexpr char kIntegration[] = R"txt(
streams { id: "command" direction: DIRECTION_DOWNSTREAM bitrate_kbps: 2600
  tracks { ssrc: 1 media: "video" payload_type: 96 encoding: "H264/90000" }
  tracks { ssrc: 2 media: "audio" payload_type: 111 encoding: "opus/48000/2" } }
nodes { id: "nat" tier: TIER_NATIONAL media_address: "127.1.0.1:5004"
  capacity { max_children: 8 } }
nodes { id: "p1" tier: TIER_PROVINCIAL parent: "nat" media_address: "127.2.1.1:5004"
  labels { key: "region" value: "r1" } capacity { max_children: 8 } }
nodes { id: "p1-sb" tier: TIER_PROVINCIAL parent: "nat" role: ROLE_STANDBY
  labels { key: "region" value: "r1" } media_address: "127.2.1.2:5004"
  capacity { max_children: 8 } }
nodes { id: "d1" tier: TIER_DISTRICT parent: "p1" media_address: "127.3.0.1:5004"
  capacity { max_children: 8 } }
nodes { id: "d2" tier: TIER_DISTRICT parent: "p1" media_address: "127.3.0.2:5004"
  capacity { max_children: 8 } }
nodes { id: "s1" tier: TIER_SITE parent: "d1" standby_parents: "p1"
  media_address: "127.10.0.1:5004" }
)txt";

// tests/failover/failover_scripts_test's: two regions, a standby national.
constexpr char kFailover[] = R"txt(
streams { id: "command" direction: DIRECTION_DOWNSTREAM bitrate_kbps: 100
  tracks { ssrc: 1 media: "video" payload_type: 96 encoding: "H264/90000" } }
nodes { id: "nat" tier: TIER_NATIONAL media_address: "127.1.0.1:5004"
  capacity { max_children: 8 } }
nodes { id: "nat-2" tier: TIER_NATIONAL role: ROLE_STANDBY
  media_address: "127.1.0.2:5004" capacity { max_children: 8 } }
nodes { id: "p1" tier: TIER_PROVINCIAL parent: "nat" standby_parents: "nat-2"
  labels { key: "region" value: "r1" } media_address: "127.2.1.1:5004"
  capacity { max_children: 8 } }
nodes { id: "p1-sb" tier: TIER_PROVINCIAL parent: "nat" standby_parents: "nat-2"
  role: ROLE_STANDBY labels { key: "region" value: "r1" }
  media_address: "127.2.1.2:5004" capacity { max_children: 8 } }
nodes { id: "d1" tier: TIER_DISTRICT parent: "p1" standby_parents: "p1-sb"
  labels { key: "region" value: "r1" } media_address: "127.3.0.1:5004"
  capacity { max_children: 8 } }
nodes { id: "s1" tier: TIER_SITE parent: "d1" standby_parents: "p1"
  labels { key: "region" value: "r1" } media_address: "127.10.0.1:5004" }
nodes { id: "p2" tier: TIER_PROVINCIAL parent: "nat" standby_parents: "nat-2"
  labels { key: "region" value: "r2" } media_address: "127.2.2.1:5004"
  capacity { max_children: 8 } }
nodes { id: "d2" tier: TIER_DISTRICT parent: "p2"
  labels { key: "region" value: "r2" } media_address: "127.3.0.2:5004"
  capacity { max_children: 8 } }
nodes { id: "s2" tier: TIER_SITE parent: "d2"
  labels { key: "region" value: "r2" } media_address: "127.10.0.2:5004" }
)txt";

// What the fields not above look like: a key, an uplink limit, a plain
// endpoint, an upstream stream from a site, names that need escapes.
constexpr char kEveryField[] = R"txt(
# comments and blank lines are text format too

nodes {
  id: "nat\x2d1"  # "nat-1"
  tier: TIER_NATIONAL
  media_address: "[::1]:5004"
  key: "\001\002\003\377"
  capacity { max_children: 2 uplink_kbps: 100000 }
}
nodes {
  id: "p"
  tier: TIER_PROVINCIAL
  parent: "nat-1"
  media_address: "relay-p.example:5004"
  edge_address: "edge.relay-p.example:443"
  capacity { max_children: 1 }
  labels { key: "region" value: "r\303\251gion" }
}
nodes {
  id: "tv"
  tier: TIER_SITE
  parent: "p"
  plain_endpoint: true
  media_address: "192.0.2.7:6000"
}
streams {
  id: "down"
  direction: DIRECTION_DOWNSTREAM
  bitrate_kbps: 3000
  tracks { ssrc: 4294967295 media: "video" payload_type: 96 encoding: "H264/90000" }
}
streams {
  id: "up-tv"
  direction: DIRECTION_UPSTREAM
  source_node: "tv"
  tracks { ssrc: 7 media: "audio" payload_type: 111 encoding: "opus/48000/2" }
}
)txt";

constexpr char kNational[] =
    "nodes { id: \"nat\" tier: TIER_NATIONAL media_address: "
    "\"127.1.0.1:5004\" capacity { max_children: 8 } }\n";

// The national node, then `more`.
std::string With(const std::string& more) {
  return absl::StrCat(kNational, more);
}

}  // namespace

std::vector<TopologySeed> TopologySeeds() {
  return {
      {"ok_integration", kIntegration, ""},
      {"ok_failover", kFailover, ""},
      {"ok_every_field", kEveryField, ""},
      {"ok_national_only", kNational, ""},
      {"ok_empty", "", ""},
      // The parser's refusals.
      {"bad_unterminated", "nodes { id: \"nat\" tier: TIER_NATIONAL",
       "seed:1:"},
      {"bad_unknown_field", "\nnodes { colour: \"red\" }\n", "seed:2:"},
      {"bad_unknown_enum", "nodes { id: \"n\" tier: TIER_GALACTIC }\n",
       "seed:1:"},
      {"bad_string_escape", "nodes { id: \"\\x\" }\n", "seed:1:"},
      {"bad_number", "nodes { capacity { max_children: 4294967296 } }\n",
       "seed:1:"},
      // The validation's, one of each.
      {"bad_node_id",
       With("nodes { id: \"two words\" tier: TIER_PROVINCIAL parent: \"nat\" "
            "media_address: \"127.2.0.1:5004\" }\n"),
       "seed:2: node \"two words\": "},
      {"bad_duplicate_id", With(kNational),
       "seed:2: node \"nat\": duplicate id (first at node #1)"},
      {"bad_no_tier",
       With("nodes { id: \"x\" parent: \"nat\" media_address: "
            "\"127.2.0.1:5004\" }\n"),
       "tier is not set"},
      {"bad_media_address",
       With("nodes { id: \"p\" tier: TIER_PROVINCIAL parent: \"nat\" "
            "media_address: \"127.2.0.1\" }\n"),
       "media_address \"127.2.0.1\" is not HOST:PORT"},
      {"bad_edge_address",
       With("nodes { id: \"p\" tier: TIER_PROVINCIAL parent: \"nat\" "
            "media_address: \"127.2.0.1:5004\" edge_address: \"443\" }\n"),
       "seed:2: node \"p\": edge_address \"443\" is not HOST:PORT"},
      {"bad_edge_address_on_site",
       With("nodes { id: \"s\" tier: TIER_SITE parent: \"nat\" "
            "media_address: \"127.10.0.1:5004\" "
            "edge_address: \"127.10.0.1:443\" }\n"),
       "seed:2: node \"s\": edge_address is only for a relay"},
      {"bad_no_parent",
       With("nodes { id: \"p\" tier: TIER_PROVINCIAL "
            "media_address: \"127.2.0.1:5004\" }\n"),
       "only national nodes may have no parent"},
      {"bad_unknown_parent",
       With("nodes { id: \"p\" tier: TIER_PROVINCIAL parent: \"ghost\" "
            "media_address: \"127.2.0.1:5004\" }\n"),
       "unknown parent \"ghost\""},
      {"bad_parent_twice",
       With("nodes { id: \"p\" tier: TIER_PROVINCIAL parent: \"nat\" "
            "standby_parents: \"nat\" media_address: \"127.2.0.1:5004\" }\n"),
       "parent \"nat\" listed twice"},
      {"bad_cycle",
       With("nodes { id: \"a\" tier: TIER_DISTRICT parent: \"b\" "
            "media_address: \"127.3.0.1:5004\" }\n"
            "nodes { id: \"b\" tier: TIER_DISTRICT parent: \"a\" "
            "media_address: \"127.3.0.2:5004\" }\n"),
       "parent cycle "},
      {"bad_tier_order",
       With("nodes { id: \"s\" tier: TIER_SITE parent: \"nat\" "
            "media_address: \"127.10.0.1:5004\" }\n"
            "nodes { id: \"d\" tier: TIER_DISTRICT parent: \"s\" "
            "media_address: \"127.3.0.1:5004\" }\n"),
       "tier out of order: parent \"s\" is TIER_SITE"},
      {"bad_capacity",
       absl::StrCat("streams { id: \"s\" direction: DIRECTION_DOWNSTREAM "
                    "bitrate_kbps: 1000 }\n"
                    "nodes { id: \"nat\" tier: TIER_NATIONAL media_address: "
                    "\"127.1.0.1:5004\" capacity { max_children: 8 "
                    "uplink_kbps: 1500 } }\n",
                    "nodes { id: \"p1\" tier: TIER_PROVINCIAL parent: \"nat\" "
                    "media_address: \"127.2.0.1:5004\" }\n"
                    "nodes { id: \"p2\" tier: TIER_PROVINCIAL parent: \"nat\" "
                    "media_address: \"127.2.0.2:5004\" }\n"),
       "impossible capacity: 2 children name it as parent but it can serve 1"},
      {"bad_stream_direction", With("streams { id: \"s\" }\n"),
       "stream \"s\": direction is not set"},
      {"bad_stream_source",
       With("streams { id: \"s\" direction: DIRECTION_UPSTREAM "
            "source_node: \"ghost\" }\n"),
       "unknown source node \"ghost\""},
      {"bad_ssrc_twice",
       With("streams { id: \"a\" direction: DIRECTION_DOWNSTREAM "
            "tracks { ssrc: 5 } }\n"
            "streams { id: \"b\" direction: DIRECTION_DOWNSTREAM "
            "tracks { ssrc: 5 } }\n"),
       "stream \"b\": SSRC 5 used twice"},
  };
}

}  // namespace cascade::topology
