// The browser pages relayd serves itself (watch.html, publish.html and their
// scripts and style sheet), compiled in from this directory's files so the
// relay ships as one binary. A page never loads anything from another
// origin and has no inline script or style: relayd can serve them all under
// "Content-Security-Policy: default-src 'self'" (connect-src also https:,
// where the publisher reaches the other national relays).
#ifndef CASCADE_WEBRTC_EDGE_PAGES_PAGES_H_
#define CASCADE_WEBRTC_EDGE_PAGES_PAGES_H_

#include "absl/strings/string_view.h"

namespace cascade::edge {

struct Page {
  absl::string_view content_type;  // e.g. "text/html; charset=utf-8"
  absl::string_view body;
};

// The page served at `path` ("/watch", "/watch.html", "/publish",
// "/publish.html", "/watch.js", "/publish.js", "/session.js", "/style.css"),
// or nullptr. A query string is ignored, as WhepHandler ignores it.
const Page* FindPage(absl::string_view path);

}  // namespace cascade::edge

#endif  // CASCADE_WEBRTC_EDGE_PAGES_PAGES_H_
