#include "tools/sim/report_tree.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "tools/sim/report.h"
#include "tools/sim/report_svg.h"

namespace cascade::sim {
namespace {

using cascade::v1::SimNodeHealth;
using cascade::v1::SimReport;
using NodesById = absl::flat_hash_map<std::string, const SimNodeHealth*>;

// A site's mark: 4 px, 5 apart, five high per block unless a block would
// be wider than the picture.
constexpr int kMark = 4;
constexpr int kPitch = 5;
constexpr int kRows = 5;
constexpr int kGap = 4;     // between blocks, and between boxes
constexpr int kPad = 5;     // inside a box
constexpr int kLabel = 15;  // a box's title line
constexpr int kEdge = 10;   // around the picture
// About the width of a character of an 11 px label.
constexpr double kCharPx = 6.2;

bool IsSite(const SimNodeHealth& node) { return node.tier() == "site"; }

// One site: its node, or null for a site known only from its relay's
// counts (an older report).
struct Mark {
  const SimNodeHealth* site;
  bool ok;
};

// A relay's own sites, laid out in its box.
struct Block {
  const SimNodeHealth* relay;
  std::vector<Mark> marks;
  int cols = 0, rows = 0, x = 0, y = 0;
  int width() const { return cols * kPitch + 1; }
  int height() const { return rows * kPitch + 1; }
};

// A relay just below a root, with the blocks below it.
struct Box {
  const SimNodeHealth* relay;
  std::vector<Block> blocks;
  int width = 0, height = 0;
};

// The relay just below a root on the way up from `node`; `node` itself
// when it is a root or its parent is unknown. Bounded against a cycle.
const SimNodeHealth* TopOf(const SimNodeHealth* node, const NodesById& by_id) {
  for (size_t hops = 0; hops <= by_id.size(); ++hops) {
    const auto parent = by_id.find(node->parent());
    if (parent == by_id.end() || parent->second->parent().empty()) return node;
    node = parent->second;
  }
  return node;
}

// Every relay with sites of its own, its sites in the report's order.
std::vector<Block> Blocks(const SimReport& report, const NodesById& by_id) {
  std::vector<Block> blocks;
  absl::flat_hash_map<std::string, size_t> index;
  auto block_of = [&](const SimNodeHealth* relay) -> std::vector<Mark>& {
    const auto [it, added] = index.try_emplace(relay->id(), blocks.size());
    if (added) blocks.push_back(Block{relay, {}});
    return blocks[it->second].marks;
  };
  const bool have_sites =
      std::any_of(report.nodes().begin(), report.nodes().end(), IsSite);
  if (have_sites) {
    for (const SimNodeHealth& site : report.nodes()) {
      if (!IsSite(site)) continue;
      const auto parent = by_id.find(site.parent());
      // A site whose parent is unknown is a block of its own.
      block_of(parent == by_id.end() ? &site : parent->second)
          .push_back(Mark{&site, site.sites_all_packets() > 0});
    }
    return blocks;
  }
  // An older report: a relay's own sites are those its relay children do
  // not account for.
  absl::flat_hash_map<std::string, std::pair<uint32_t, uint32_t>> below;
  for (const SimNodeHealth& node : report.nodes()) {
    auto& [sites, all] = below[node.parent()];
    sites += node.sites();
    all += node.sites_all_packets();
  }
  for (const SimNodeHealth& relay : report.nodes()) {
    const auto [sites, all] = below[relay.id()];
    const int own = static_cast<int>(relay.sites()) - static_cast<int>(sites);
    const int own_ok =
        static_cast<int>(relay.sites_all_packets()) - static_cast<int>(all);
    for (int i = 0; i < own; ++i) {
      block_of(&relay).push_back(Mark{nullptr, i < own_ok});
    }
  }
  return blocks;
}

std::string HealthLabel(const SimNodeHealth& node) {
  return absl::StrCat(node.id(), " ", node.sites_all_packets(), "/",
                      node.sites());
}

std::string Title(const SimNodeHealth& node) {
  return HtmlEscape(absl::StrFormat("%s (%s): %d of %d sites got every packet",
                                    node.id(), node.tier(),
                                    node.sites_all_packets(), node.sites()));
}

// Places the blocks in the box, and sizes it.
void LayOut(Box* box) {
  const int inner = kPlotWidth - 2 * kEdge - 2 * kPad;
  const int max_cols = inner / kPitch;
  int x = 0, y = 0, line_height = 0, content_width = 0;
  for (Block& block : box->blocks) {
    const int n = static_cast<int>(block.marks.size());
    block.cols = (n + kRows - 1) / kRows;
    block.rows = std::min(n, kRows);
    if (block.cols > max_cols) {
      block.cols = max_cols;
      block.rows = (n + max_cols - 1) / max_cols;
    }
    if (x > 0 && x + block.width() > inner) {
      x = 0;
      y += line_height + kGap;
      line_height = 0;
    }
    block.x = x;
    block.y = y;
    x += block.width() + kGap;
    line_height = std::max(line_height, block.height());
    content_width = std::max(content_width, x - kGap);
  }
  const int label = static_cast<int>(
      static_cast<double>(HealthLabel(*box->relay).size()) * kCharPx);
  box->width = std::min(std::max(content_width, label) + 2 * kPad,
                        kPlotWidth - 2 * kEdge);
  box->height = kLabel + y + line_height + kPad;
}

std::string BoxSvg(const Box& box, int x, int y) {
  const SimNodeHealth& relay = *box.relay;
  std::string svg = absl::StrFormat(
      "<g class='top' data-node='%s' data-tier='%s'><title>%s</title>"
      "<rect class='box' x='%d' y='%d' width='%d' height='%d' rx='3' "
      "stroke='%s'/><text x='%d' y='%d' class='node'>%s</text>",
      HtmlEscape(relay.id()), HtmlEscape(relay.tier()), Title(relay), x, y,
      box.width, box.height, HealthColour(SiteHealth(relay)), x + kPad, y + 11,
      HtmlEscape(HealthLabel(relay)));
  for (const Block& block : box.blocks) {
    const int bx = x + kPad + block.x;
    const int by = y + kLabel + block.y;
    absl::StrAppendFormat(
        &svg,
        "<g class='leaf' data-node='%s'><title>%s</title><rect class='block' "
        "x='%d' y='%d' width='%d' height='%d'/>",
        HtmlEscape(block.relay->id()), Title(*block.relay), bx, by,
        block.width(), block.height());
    for (size_t i = 0; i < block.marks.size(); ++i) {
      const Mark& mark = block.marks[i];
      const int col = static_cast<int>(i) / block.rows;
      const int row = static_cast<int>(i) % block.rows;
      absl::StrAppendFormat(&svg,
                            "<rect class='site%s' x='%d' y='%d' width='%d' "
                            "height='%d'",
                            mark.ok ? "" : " miss", bx + 1 + col * kPitch,
                            by + 1 + row * kPitch, kMark, kMark);
      // Titles only where they tell something: 10,600 of them would
      // double the page.
      if (!mark.ok && mark.site != nullptr) {
        absl::StrAppend(&svg, "><title>", HtmlEscape(mark.site->id()),
                        " did not get every packet</title></rect>");
      } else {
        svg += "/>";
      }
    }
    svg += "</g>";
  }
  return svg + "</g>";
}

}  // namespace

std::string TreeSvg(const SimReport& report) {
  NodesById by_id;
  for (const SimNodeHealth& node : report.nodes()) by_id[node.id()] = &node;

  std::string body;
  int y = kEdge;
  // The roots: every node without a parent, the active one and standbys.
  int x = kEdge;
  for (const SimNodeHealth& node : report.nodes()) {
    if (!node.parent().empty() || IsSite(node)) continue;
    const std::string label =
        node.sites() > 0
            ? absl::StrCat(HealthLabel(node), " (", node.tier(), ")")
            : absl::StrCat(node.id(), " (", node.tier(), ", no site below)");
    const int width =
        14 + static_cast<int>(static_cast<double>(label.size()) * kCharPx) + 16;
    if (x > kEdge && x + width > kPlotWidth - kEdge) {
      x = kEdge;
      y += 16;
    }
    absl::StrAppendFormat(
        &body,
        "<g class='root' data-node='%s'><title>%s</title><rect x='%d' y='%d' "
        "width='10' height='10' %s/><text x='%d' y='%d' class='node'>%s</text>"
        "</g>",
        HtmlEscape(node.id()), Title(node), x, y,
        node.sites() > 0
            ? absl::StrCat("fill='", HealthColour(SiteHealth(node)), "'")
            : "class='idle'",
        x + 14, y + 9, HtmlEscape(label));
    x += width;
  }
  y += 16 + kGap;

  // The boxes, in the order of their first site, flowing left to right.
  std::vector<Box> boxes;
  absl::flat_hash_map<std::string, size_t> box_index;
  size_t marks = 0;
  for (Block& block : Blocks(report, by_id)) {
    marks += block.marks.size();
    const SimNodeHealth* top = TopOf(block.relay, by_id);
    const auto [it, added] = box_index.try_emplace(top->id(), boxes.size());
    if (added) boxes.push_back(Box{top, {}});
    boxes[it->second].blocks.push_back(std::move(block));
  }
  x = kEdge;
  int row_height = 0;
  for (Box& box : boxes) {
    LayOut(&box);
    if (x > kEdge && x + box.width > kPlotWidth - kEdge) {
      x = kEdge;
      y += row_height + kGap;
      row_height = 0;
    }
    body += BoxSvg(box, x, y);
    x += box.width + kGap;
    row_height = std::max(row_height, box.height);
  }
  y += row_height + kGap;

  // Relays with no site below, as hollow squares: standbys.
  std::vector<const SimNodeHealth*> idle;
  for (const SimNodeHealth& node : report.nodes()) {
    if (!IsSite(node) && !node.parent().empty() && node.sites() == 0) {
      idle.push_back(&node);
    }
  }
  if (!idle.empty()) {
    absl::StrAppendFormat(&body,
                          "<text x='%d' y='%d' class='node'>Relays with no "
                          "site below (standbys): %d</text>",
                          kEdge, y + 10, idle.size());
    y += 16;
    x = kEdge;
    for (const SimNodeHealth* node : idle) {
      if (x + 8 > kPlotWidth - kEdge) {
        x = kEdge;
        y += 10;
      }
      absl::StrAppendFormat(&body,
                            "<rect class='idle' data-node='%s' x='%d' y='%d' "
                            "width='8' height='8'><title>%s (%s)</title>"
                            "</rect>",
                            HtmlEscape(node->id()), x, y,
                            HtmlEscape(node->id()), HtmlEscape(node->tier()));
      x += 10;
    }
    y += 10;
  }
  const int height = y + kEdge;
  return absl::StrFormat(
             "<svg width='%d' height='%d' viewBox='0 0 %d %d' class='tree' "
             "data-sites='%d'>",
             kPlotWidth, height, kPlotWidth, height, marks) +
         body + "</svg>";
}

}  // namespace cascade::sim
