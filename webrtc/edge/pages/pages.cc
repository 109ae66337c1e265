#include "webrtc/edge/pages/pages.h"

namespace cascade::edge {
namespace {

struct PageEntry {
  absl::string_view path;
  Page page;
};

// kPageEntries, written by :embed_pages from this directory's files.
#include "webrtc/edge/pages/pages_table.inc"

}  // namespace

const Page* FindPage(absl::string_view path) {
  path = path.substr(0, path.find('?'));
  for (const PageEntry& entry : kPageEntries) {
    if (entry.path == path) return &entry.page;
  }
  return nullptr;
}

}  // namespace cascade::edge
