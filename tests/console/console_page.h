// What the console's tests share: the console's port, a bearer header, and
// the page driven as an operator would (token, a click on the map, an
// action confirmed in its dialog).
#ifndef CASCADE_TESTS_CONSOLE_CONSOLE_PAGE_H_
#define CASCADE_TESTS_CONSOLE_CONSOLE_PAGE_H_

#include <httplib.h>

#include <string>

#include "absl/status/status.h"
#include "tests/browser/chromium.h"

namespace cascade::testing {

// The console's port from topologyd's port file (console=PORT); 0: none.
int ConsolePort(const std::string& port_file);

httplib::Headers Bearer(const std::string& token);

// Gives the page `token` as its login form would (sessionStorage), then
// opens it again (fatal failures: wrap in ASSERT_NO_FATAL_FAILURE).
void OpenWithToken(browser::Chromium* chromium, const std::string& url,
                   const std::string& token);

// Clicks node `id`'s mark on the map and waits for its detail pane.
absl::Status ClickNode(browser::Chromium* chromium, const std::string& id);

// Clicks the detail pane's `action` button, checks that a confirmation is
// asked, runs `before_ok` (a page expression, e.g. choosing a parent; may
// be empty) and confirms.
absl::Status ConfirmAction(browser::Chromium* chromium,
                           const std::string& action,
                           const std::string& before_ok = "");

}  // namespace cascade::testing

#endif  // CASCADE_TESTS_CONSOLE_CONSOLE_PAGE_H_
