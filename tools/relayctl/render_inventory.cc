#include "tools/relayctl/render_inventory.h"

#include <memory>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/type_resolver.h"
#include "google/protobuf/util/type_resolver_util.h"

namespace cascade::relayctl {
namespace {

using google::protobuf::Struct;
using google::protobuf::Value;

// HOST of HOST:PORT, an IPv6 literal without its brackets (ssh takes it so).
std::string HostOf(absl::string_view address) {
  absl::string_view host = address.substr(0, address.rfind(':'));
  if (absl::ConsumePrefix(&host, "[")) absl::ConsumeSuffix(&host, "]");
  return std::string(host);
}

Struct* Child(Struct* parent, const std::string& name) {
  return (*parent->mutable_fields())[name].mutable_struct_value();
}

void Set(Struct* object, const std::string& name, const std::string& value) {
  (*object->mutable_fields())[name].set_string_value(value);
}

}  // namespace

absl::StatusOr<std::string> AnsibleInventory(
    const cascade::v1::Topology& topology, const std::string& topology_file,
    const std::string& controller, const std::string& render_dir) {
  Struct inventory;
  Struct* all = Child(&inventory, "all");
  Struct* vars = Child(all, "vars");
  Set(vars, "cascade_render_dir", render_dir);
  Set(vars, "cascade_topology", topology_file);
  Set(vars, "cascade_controller", controller);
  Struct* children = Child(all, "children");

  Struct* controllers = Child(Child(children, "cascade_controllers"), "hosts");
  for (absl::string_view address :
       absl::StrSplit(controller, ',', absl::SkipEmpty())) {
    Struct* host = Child(controllers, HostOf(address));
    Set(host, "ansible_host", HostOf(address));
    Set(host, "cascade_listen_port",
        std::string(address.substr(address.rfind(':') + 1)));
  }

  Struct* tiers = Child(Child(children, "cascade_relays"), "children");
  for (const cascade::v1::Node& node : topology.nodes()) {
    if (node.plain_endpoint() || node.tier() == cascade::v1::TIER_SITE) {
      continue;
    }
    // TIER_NATIONAL: cascade_national.
    const std::string group = absl::StrCat(
        "cascade_", absl::AsciiStrToLower(absl::StripPrefix(
                        cascade::v1::Tier_Name(node.tier()), "TIER_")));
    Struct* host = Child(Child(Child(tiers, group), "hosts"), node.id());
    Set(host, "ansible_host", HostOf(node.media_address()));
    Set(host, "cascade_node", node.id());
  }

  // Struct's fields are a map: serialised deterministically (keys sorted)
  // and printed from that, the same tree gives the same file.
  std::string binary;
  {
    google::protobuf::io::StringOutputStream stream(&binary);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    inventory.SerializeToCodedStream(&coded);
  }
  std::unique_ptr<google::protobuf::util::TypeResolver> resolver(
      google::protobuf::util::NewTypeResolverForDescriptorPool(
          "type.googleapis.com",
          google::protobuf::DescriptorPool::generated_pool()));
  google::protobuf::util::JsonPrintOptions json;
  json.add_whitespace = true;
  std::string text;
  if (auto status = google::protobuf::util::BinaryToJsonString(
          resolver.get(),
          absl::StrCat("type.googleapis.com/",
                       Struct::descriptor()->full_name()),
          binary, &text, json);
      !status.ok()) {
    return absl::InternalError(
        absl::StrCat("inventory: ", status.message().as_string()));
  }
  return text;
}

}  // namespace cascade::relayctl
