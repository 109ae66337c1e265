#include "tools/relayctl/json_line.h"

#include <ostream>
#include <string>

#include "google/protobuf/util/json_util.h"

namespace cascade::relayctl {

void PrintJsonLine(const google::protobuf::Message& message,
                   std::ostream& out) {
  google::protobuf::util::JsonPrintOptions json;
  json.preserve_proto_field_names = true;
  json.always_print_primitive_fields = true;
  std::string text;
  google::protobuf::util::MessageToJsonString(message, &text, json);
  out << text << "\n";
}

}  // namespace cascade::relayctl
