#include "console/pages.h"

namespace cascade::console {
namespace {

struct PageEntry {
  absl::string_view path;
  Page page;
};

// kPageEntries, written by //webrtc/edge/pages:embed_pages from pages/.
#include "console/pages_table.inc"

}  // namespace

const Page* FindPage(absl::string_view path) {
  path = path.substr(0, path.find('?'));
  for (const PageEntry& entry : kPageEntries) {
    if (entry.path == path) return &entry.page;
  }
  return nullptr;
}

}  // namespace cascade::console
