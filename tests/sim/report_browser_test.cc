// relay-sim's report.html in a real headless Chromium, at the national
// scale (10,600 sites) from a made-up run: the tree has one mark per site,
// each at its own place inside the picture, the latency CDF one point per
// site, and a missed target's card is red.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <iostream>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "base/files.h"
#include "tests/browser/chromium.h"
#include "tools/sim/report.h"
#include "tools/sim/report_fixture.h"
#include "tools/sim/report_html.h"
#include "topology/topology_file.h"

namespace cascade::sim {
namespace {

constexpr absl::Duration kTimeout = absl::Seconds(30);

std::string OutputDir() {
  for (const char* name : {"TEST_UNDECLARED_OUTPUTS_DIR", "TEST_TMPDIR"}) {
    if (const char* dir = getenv(name)) return dir;
  }
  return "/tmp";
}

TEST(ReportBrowserTest, NationalTreeHasAMarkAndTheCdfAPointPerSite) {
  auto text =
      topology::ReadTopologyFile("topology/reference/national.textproto");
  ASSERT_TRUE(text.ok()) << text.status();
  auto plan = PlanNetwork(text->topology, 0, 5000);
  ASSERT_TRUE(plan.ok()) << plan.status();
  SyntheticRunOptions options;
  options.missing_every = 97;
  options.kill_gap_ms = 604;
  const cascade::v1::SimReport report =
      BuildReport(*plan, SyntheticRun(*plan, options));
  const uint32_t sites = report.sites_total();
  ASSERT_EQ(sites, 10600u);
  const uint32_t missing = sites - report.sites_all_packets();
  ASSERT_GT(missing, 0u);
  const std::string html = ReportHtml(report);
  std::cout << "report.html: " << html.size() << " bytes\n";
  const std::string path = OutputDir() + "/report.html";
  ASSERT_TRUE(WriteFileAtomically(path, html).ok());

  auto chromium = browser::Chromium::Launch();
  if (absl::IsNotFound(chromium.status())) {
    GTEST_SKIP() << "no chromium: " << chromium.status();
  }
  ASSERT_TRUE(chromium.ok()) << chromium.status();
  const absl::Status loaded =
      (*chromium)->Navigate(absl::StrCat("file://", path), kTimeout);
  ASSERT_TRUE(loaded.ok()) << loaded;
  auto number = [&](const std::string& expression) -> double {
    auto value = (*chromium)->Evaluate(expression, kTimeout);
    EXPECT_TRUE(value.ok()) << expression << ": " << value.status();
    return value.ok() ? value->number_value() : -1;
  };

  EXPECT_EQ(number("document.querySelectorAll('svg.tree rect.site').length"),
            sites);
  EXPECT_EQ(
      number("document.querySelectorAll('svg.tree rect.site.miss').length"),
      missing);
  EXPECT_EQ(number("document.querySelector(\"svg.latency "
                   "polyline.cdf[data-tier='site']\").points.numberOfItems"),
            sites);
  // Every mark drawn, inside the picture, none on top of another.
  EXPECT_EQ(number(R"js((() => {
      const svg = document.querySelector('svg.tree');
      const box = svg.getBoundingClientRect();
      const places = new Set();
      for (const mark of svg.querySelectorAll('rect.site')) {
        const b = mark.getBoundingClientRect();
        if (b.width < 1 || b.height < 1 || b.left < box.left ||
            b.right > box.right || b.top < box.top || b.bottom > box.bottom) {
          continue;
        }
        places.add(b.left + ',' + b.top);
      }
      return places.size;
    })())js"),
            sites);
  // A missed target is red, a met one green.
  auto colour = [&](const std::string& figure) {
    auto value = (*chromium)->Evaluate(
        absl::StrCat("getComputedStyle(document.querySelector(\"[data-figure='",
                     figure, "'] b\")).color"),
        kTimeout);
    EXPECT_TRUE(value.ok()) << value.status();
    return value.ok() ? value->string_value() : "";
  };
  EXPECT_EQ(colour("kill_gap_ms"), "rgb(214, 69, 69)");
  EXPECT_EQ(colour("kill_switches_beyond_children"), "rgb(46, 158, 79)");
  for (const std::string& line : (*chromium)->ConsoleLog()) {
    ADD_FAILURE() << "the page printed: " << line;
  }
}

}  // namespace
}  // namespace cascade::sim
