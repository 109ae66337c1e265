// The console's page, script and style sheet, compiled in from pages/ by
// //webrtc/edge/pages:embed_pages (the same tool as relayd's pages). They
// load nothing from another origin and have no inline script or style:
// served under "Content-Security-Policy: default-src 'self'".
#ifndef CASCADE_CONSOLE_PAGES_H_
#define CASCADE_CONSOLE_PAGES_H_

#include "absl/strings/string_view.h"

namespace cascade::console {

struct Page {
  absl::string_view content_type;
  absl::string_view body;
};

// The file served at `path` ("/console", "/console/console.js", ...), or
// nullptr. A query string is ignored.
const Page* FindPage(absl::string_view path);

}  // namespace cascade::console

#endif  // CASCADE_CONSOLE_PAGES_H_
