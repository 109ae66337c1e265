#include "tests/console/console_page.h"

#include <gtest/gtest.h>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/substitute.h"
#include "tests/media/process.h"

namespace cascade::testing {

int ConsolePort(const std::string& port_file) {
  for (absl::string_view line : absl::StrSplit(ReadFile(port_file), '\n')) {
    int port = 0;
    if (absl::ConsumePrefix(&line, "console=") &&
        absl::SimpleAtoi(line, &port)) {
      return port;
    }
  }
  return 0;
}

httplib::Headers Bearer(const std::string& token) {
  return {{"Authorization", "Bearer " + token}};
}

void OpenWithToken(browser::Chromium* chromium, const std::string& url,
                   const std::string& token) {
  ASSERT_TRUE(chromium->Navigate(url, absl::Seconds(10)).ok());
  ASSERT_TRUE(chromium
                  ->Evaluate(absl::StrCat("sessionStorage.setItem('cascade."
                                          "console.token', '",
                                          token, "'); true"),
                             absl::Seconds(5))
                  .ok());
  ASSERT_TRUE(chromium->Navigate(url, absl::Seconds(10)).ok());
}

absl::Status ClickNode(browser::Chromium* chromium, const std::string& id) {
  absl::StatusOr<google::protobuf::Value> clicked = chromium->Evaluate(
      absl::Substitute(
          "(() => { const at = cascadeConsole.state.where.get('$0');"
          " const s = cascadeConsole.state.cell;"
          " const map = document.getElementById('map');"
          " const box = map.getBoundingClientRect();"
          " map.dispatchEvent(new MouseEvent('click', {clientX: box.left + "
          "at.x + s / 2, clientY: box.top + at.y + s / 2})); return true; "
          "})()",
          id),
      absl::Seconds(5));
  if (!clicked.ok()) return clicked.status();
  return chromium->WaitFor(
      absl::Substitute("document.getElementById('detail-title').textContent"
                       ".startsWith('$0 (') && document.querySelector("
                       "'#actions button') !== null",
                       id),
      absl::Seconds(10));
}

absl::Status ConfirmAction(browser::Chromium* chromium,
                           const std::string& action,
                           const std::string& before_ok) {
  absl::StatusOr<google::protobuf::Value> asked = chromium->Evaluate(
      absl::Substitute("document.querySelector('#actions "
                       "button[data-action=$0]').click(); "
                       "document.getElementById('confirm').open",
                       action),
      absl::Seconds(5));
  if (!asked.ok()) return asked.status();
  if (!asked->bool_value()) {
    return absl::FailedPreconditionError(
        absl::StrCat(action, ": no confirmation asked"));
  }
  if (!before_ok.empty()) {
    absl::StatusOr<google::protobuf::Value> done =
        chromium->Evaluate(absl::StrCat(before_ok, "; true"), absl::Seconds(5));
    if (!done.ok()) return done.status();
  }
  return chromium
      ->Evaluate("document.getElementById('confirm-ok').click(); true",
                 absl::Seconds(5))
      .status();
}

}  // namespace cascade::testing
