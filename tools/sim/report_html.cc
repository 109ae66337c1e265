#include "tools/sim/report_html.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "tools/sim/report.h"

namespace cascade::sim {
namespace {

using cascade::v1::SimReport;

constexpr int kWidth = 900;
constexpr int kPlotHeight = 260;
constexpr int kMargin = 50;

std::string Escape(const std::string& text) {
  return absl::StrReplaceAll(
      text, {{"&", "&amp;"}, {"<", "&lt;"}, {">", "&gt;"}, {"\"", "&quot;"}});
}

// Green when every site below got every packet, through amber to red.
std::string HealthColour(double health) {
  if (health >= 1) return "#2e9e4f";
  if (health >= 0.99) return "#9cc54a";
  if (health >= 0.9) return "#f0b429";
  return "#d64545";
}

// A rounded-up axis limit: 1, 2 or 5 times a power of ten.
double NiceCeiling(double value) {
  if (value <= 0) return 1;
  const double power = std::pow(10, std::floor(std::log10(value)));
  for (double step : {1.0, 2.0, 5.0, 10.0}) {
    if (value <= step * power) return step * power;
  }
  return 10 * power;
}

struct Axes {
  double x_max;
  double y_max;
  double X(double x) const {
    return kMargin + x / x_max * (kWidth - 2 * kMargin);
  }
  double Y(double y) const {
    return kPlotHeight - 30 - y / y_max * (kPlotHeight - 50);
  }
};

std::string AxesSvg(const Axes& axes, const std::string& x_label,
                    const std::string& y_label) {
  std::string svg;
  absl::StrAppendFormat(
      &svg,
      "<line x1='%d' y1='%.1f' x2='%d' y2='%.1f' class='axis'/>"
      "<line x1='%d' y1='%.1f' x2='%d' y2='%.1f' class='axis'/>",
      kMargin, axes.Y(0), kWidth - kMargin, axes.Y(0), kMargin, axes.Y(0),
      kMargin, axes.Y(axes.y_max));
  for (int i = 0; i <= 5; ++i) {
    const double x = axes.x_max * i / 5;
    const double y = axes.y_max * i / 5;
    absl::StrAppendFormat(
        &svg,
        "<text x='%.1f' y='%.1f' class='tick' text-anchor='middle'>%g</text>"
        "<text x='%d' y='%.1f' class='tick' text-anchor='end'>%g</text>"
        "<line x1='%d' y1='%.1f' x2='%d' y2='%.1f' class='grid'/>",
        axes.X(x), axes.Y(0) + 14, x, kMargin - 4, axes.Y(y) + 4, y, kMargin,
        axes.Y(y), kWidth - kMargin, axes.Y(y));
  }
  absl::StrAppendFormat(
      &svg,
      "<text x='%d' y='%d' class='label' text-anchor='middle'>%s</text>"
      "<text x='12' y='%d' class='label' transform='rotate(-90 12 %d)' "
      "text-anchor='middle'>%s</text>",
      kWidth / 2, kPlotHeight - 2, Escape(x_label), kPlotHeight / 2,
      kPlotHeight / 2, Escape(y_label));
  return svg;
}

const char* kTierColours[] = {"#1f77b4", "#9467bd", "#ff7f0e", "#2ca02c"};

std::string LatencySvg(const SimReport& report) {
  const auto& latency = report.latency_ms();
  double x_max = 1;
  for (const auto& tier : latency.per_tier())
    x_max = std::max(x_max, tier.p99());
  for (double v : latency.site_p99()) x_max = std::max(x_max, v);
  Axes axes{NiceCeiling(x_max * 1.05), 1};
  std::string svg =
      absl::StrFormat("<svg width='%d' height='%d' viewBox='0 0 %d %d'>",
                      kWidth, kPlotHeight, kWidth, kPlotHeight);
  svg += AxesSvg(axes, "latency, ms (source send time to frame complete)",
                 "share");
  // Each site's p99: the spread over the whole network.
  const auto& p99 = latency.site_p99();
  if (!p99.empty()) {
    std::string points;
    for (int i = 0; i < p99.size(); ++i) {
      absl::StrAppendFormat(&points, "%.1f,%.1f %.1f,%.1f ", axes.X(p99[i]),
                            axes.Y(static_cast<double>(i) / p99.size()),
                            axes.X(p99[i]),
                            axes.Y(static_cast<double>(i + 1) / p99.size()));
    }
    absl::StrAppendFormat(&svg,
                          "<polyline points='%s' fill='none' stroke='#444' "
                          "stroke-width='2'><title>p99 latency of each "
                          "site</title></polyline>",
                          points);
  }
  // Per tier: the distribution through its p50 and p99 (markers).
  int legend = 0;
  for (int t = 0; t < latency.per_tier_size(); ++t) {
    const auto& tier = latency.per_tier(t);
    const char* colour = kTierColours[t % 4];
    absl::StrAppendFormat(
        &svg,
        "<polyline points='%.1f,%.1f %.1f,%.1f %.1f,%.1f' fill='none' "
        "stroke='%s' stroke-width='2' stroke-dasharray='5 3'/>"
        "<circle cx='%.1f' cy='%.1f' r='4' fill='%s'/>"
        "<circle cx='%.1f' cy='%.1f' r='4' fill='%s'/>",
        axes.X(0), axes.Y(0), axes.X(tier.p50()), axes.Y(0.5),
        axes.X(tier.p99()), axes.Y(0.99), colour, axes.X(tier.p50()),
        axes.Y(0.5), colour, axes.X(tier.p99()), axes.Y(0.99), colour);
    absl::StrAppendFormat(
        &svg,
        "<rect x='%d' y='%d' width='12' height='12' fill='%s'/>"
        "<text x='%d' y='%d' class='tick'>%s: p50 %.1f, p99 %.1f, max %.1f "
        "ms</text>",
        kWidth - 330, 150 + 16 * legend, colour, kWidth - 313,
        160 + 16 * legend, Escape(tier.tier()), tier.p50(), tier.p99(),
        tier.max());
    ++legend;
  }
  absl::StrAppendFormat(&svg,
                        "<line x1='%d' y1='%d' x2='%d' y2='%d' stroke='#444' "
                        "stroke-width='2'/><text x='%d' y='%d' "
                        "class='tick'>each site's p99 (CDF over sites)</text>",
                        kWidth - 330, 156 + 16 * legend, kWidth - 318,
                        156 + 16 * legend, kWidth - 313, 160 + 16 * legend);
  return svg + "</svg>";
}

std::string TimelineSvg(const SimReport& report) {
  double x_max = report.duration_s();
  std::vector<double> rates;
  for (const auto& series : report.timeline()) {
    for (double t : series.t_s()) x_max = std::max(x_max, t);
    rates.insert(rates.end(), series.packets_per_s().begin(),
                 series.packets_per_s().end());
  }
  // Scaled to the usual rates: a probe that catches up after a stall
  // reports one huge interval, which would flatten everything else. Such
  // peaks are clipped at the top.
  std::sort(rates.begin(), rates.end());
  const double usual = rates.empty() ? 1 : rates[rates.size() * 99 / 100];
  // Whole ten seconds: the run's length, not a power-of-ten jump past it.
  Axes axes{std::ceil(x_max / 10) * 10,
            NiceCeiling(std::max(usual, 1.0) * 1.5)};
  std::string svg =
      absl::StrFormat("<svg width='%d' height='%d' viewBox='0 0 %d %d'>",
                      kWidth, kPlotHeight, kWidth, kPlotHeight);
  svg += AxesSvg(axes, "seconds from the first packet", "packets/s per site");
  // Fault groups in colour, the rest in grey.
  absl::flat_hash_map<std::string, std::string> colour_of;
  int colours = 0;
  for (const auto& fault : report.failover()) {
    if (fault.target().empty() || colour_of.contains(fault.target())) continue;
    colour_of[fault.target()] = kTierColours[colours++ % 4];
  }
  for (const auto& series : report.timeline()) {
    std::string colour = "#bbb";
    for (const auto& [target, c] : colour_of) {
      if (series.name().find(target) != std::string::npos) colour = c;
    }
    std::string points;
    for (int i = 0; i < series.t_s_size(); ++i) {
      absl::StrAppendFormat(
          &points, "%.1f,%.1f ", axes.X(series.t_s(i)),
          axes.Y(std::min(series.packets_per_s(i), axes.y_max)));
    }
    absl::StrAppendFormat(
        &svg,
        "<polyline points='%s' fill='none' stroke='%s' stroke-width='1.2'>"
        "<title>%s (%d sites)</title></polyline>",
        points, colour, Escape(series.name()), series.sites());
  }
  int row = 0;
  for (const auto& step : report.steps()) {
    const double x = axes.X(step.at_s());
    absl::StrAppendFormat(
        &svg,
        "<line x1='%.1f' y1='%.1f' x2='%.1f' y2='%.1f' stroke='#c00' "
        "stroke-dasharray='3 3'/><text x='%.1f' y='%d' class='step'>%s</text>",
        x, axes.Y(0), x, axes.Y(axes.y_max), x + 3, 12 + 11 * (row++ % 6),
        Escape(step.label()));
  }
  int legend = 0;
  for (const auto& [target, colour] : colour_of) {
    absl::StrAppendFormat(&svg,
                          "<rect x='%d' y='%d' width='12' height='3' "
                          "fill='%s'/><text x='%d' y='%d' "
                          "class='tick'>sites below %s</text>",
                          kWidth - 300, 110 + 14 * legend, colour, kWidth - 284,
                          115 + 14 * legend, Escape(target));
    ++legend;
  }
  return svg + "</svg>";
}

// An icicle: one row per tier, each relay as wide as its share of the sites,
// coloured by the share of its sites that received every packet.
std::string TreeSvg(const SimReport& report) {
  absl::flat_hash_map<std::string,
                      std::vector<const cascade::v1::SimNodeHealth*>>
      children;
  const cascade::v1::SimNodeHealth* root = nullptr;
  for (const auto& node : report.nodes()) {
    if (node.parent().empty()) root = &node;
    if (node.sites() > 0 && !node.parent().empty()) {
      children[node.parent()].push_back(&node);
    }
  }
  constexpr int kRow = 46;
  std::string body;
  int depth_max = 0;
  struct Item {
    const cascade::v1::SimNodeHealth* node;
    double x;
    double width;
    int depth;
  };
  std::vector<Item> queue;
  if (root != nullptr && root->sites() > 0) {
    queue.push_back({root, 10, kWidth - 20.0, 0});
  }
  // Breadth-first; bounded by the node count.
  for (size_t i = 0;
       i < queue.size() && i <= static_cast<size_t>(report.nodes_size()); ++i) {
    const Item item = queue[i];
    depth_max = std::max(depth_max, item.depth);
    const double health = SiteHealth(*item.node);
    absl::StrAppendFormat(
        &body,
        "<rect x='%.2f' y='%d' width='%.2f' height='%d' fill='%s' "
        "stroke='#fff' stroke-width='%s'><title>%s (%s): %d of %d sites "
        "got every packet</title></rect>",
        item.x, 10 + item.depth * kRow, item.width, kRow - 6,
        HealthColour(health), item.width > 3 ? "0.5" : "0",
        Escape(item.node->id()), Escape(item.node->tier()),
        item.node->sites_all_packets(), item.node->sites());
    if (item.width > 70) {
      absl::StrAppendFormat(
          &body,
          "<text x='%.1f' y='%d' class='node'>%s</text><text x='%.1f' y='%d' "
          "class='node'>%d/%d</text>",
          item.x + 3, 10 + item.depth * kRow + 16,
          Escape(
              item.node->id().substr(0, static_cast<size_t>(item.width / 7))),
          item.x + 3, 10 + item.depth * kRow + 32,
          item.node->sites_all_packets(), item.node->sites());
    }
    double x = item.x;
    for (const auto* child : children[item.node->id()]) {
      const double width =
          item.width * child->sites() / std::max(1u, item.node->sites());
      queue.push_back({child, x, width, item.depth + 1});
      x += width;
    }
  }
  const int height = 20 + (depth_max + 1) * kRow;
  return absl::StrFormat("<svg width='%d' height='%d' viewBox='0 0 %d %d'>",
                         kWidth, height, kWidth, height) +
         body + "</svg>";
}

// Classes of the plots, for the page and the standalone picture.
constexpr char kPlotStyle[] =
    ".axis{stroke:#333}.grid{stroke:#eee}"
    ".tick{font-size:11px;fill:#333}.label{font-size:12px;fill:#333}"
    ".step{font-size:10px;fill:#c00}.node{font-size:11px;fill:#fff}";

// The longest gap any site below a killed relay saw.
double LongestKillGapMs(const SimReport& report) {
  double longest = 0;
  for (const auto& fault : report.failover()) {
    if (fault.action() == "kill") {
      longest = std::max(longest, fault.longest_gap_ms());
    }
  }
  return longest;
}

// The height attribute of a plot's opening <svg> tag.
int SvgHeight(const std::string& svg) {
  int width = 0;
  int height = 0;
  return std::sscanf(svg.c_str(), "<svg width='%d' height='%d'", &width,
                     &height) == 2
             ? height
             : 0;
}

std::string Row(const std::vector<std::string>& cells, bool header = false) {
  std::string row = "<tr>";
  for (const std::string& cell : cells) {
    absl::StrAppend(&row, header ? "<th>" : "<td>", cell,
                    header ? "</th>" : "</td>");
  }
  return row + "</tr>\n";
}

}  // namespace

std::string ReportHtml(const SimReport& report) {
  const auto& latency = report.latency_ms();
  const bool all = report.sites_total() > 0 &&
                   report.sites_all_packets() == report.sites_total();
  std::string html = absl::StrCat(
      "<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>relay-sim: ",
      Escape(report.scenario()),
      "</title><style>"
      "body{font:14px/1.4 sans-serif;margin:24px auto;max-width:940px;"
      "color:#222}"
      "h1{font-size:22px}h2{font-size:17px;margin-top:28px}"
      ".figures{display:flex;flex-wrap:wrap;gap:10px}"
      ".fig{border:1px solid #ddd;border-radius:6px;padding:8px 12px;"
      "min-width:150px}.fig b{display:block;font-size:20px}"
      ".ok b{color:#2e9e4f}.bad b{color:#d64545}"
      "table{border-collapse:collapse;font-size:13px}"
      "td,th{border:1px solid #ddd;padding:3px 7px;text-align:left}"
      "th{background:#f4f4f4}",
      kPlotStyle, ".problems li{color:#a33}</style></head><body>\n");
  absl::StrAppendFormat(
      &html,
      "<h1>relay-sim: %s</h1><p>Topology <b>%s</b>, %d relays (in %d relayd "
      "processes), %d sites; mode <b>%s</b>; %.0f s of %u kbit/s video at %u "
      "fps%s; parent "
      "timeout %.0f ms, keepalive %.0f ms.</p>\n",
      Escape(report.scenario()), Escape(report.topology()),
      report.relays_total(), report.relay_processes(), report.sites_total(),
      Escape(report.mode()), report.duration_s(), report.video_kbps(),
      report.frame_rate(), report.audio() ? " plus Opus audio" : "",
      report.parent_timeout_ms(), report.keepalive_ms());
  const double longest_gap = LongestKillGapMs(report);
  absl::StrAppendFormat(
      &html,
      "<div class='figures'>"
      "<div class='fig %s'><b>%u / %u</b>sites got every packet</div>"
      "<div class='fig'><b>%.5f</b>delivery ratio</div>"
      "<div class='fig'><b>%.1f / %.1f / %.1f ms</b>site latency p50 / p99 / "
      "max</div>"
      "<div class='fig %s'><b>%.0f ms</b>longest gap after a relay kill</div>"
      "<div class='fig'><b>%d</b>packets sent by the source</div>"
      "</div>\n",
      all ? "ok" : "bad", report.sites_all_packets(), report.sites_total(),
      report.delivery_ratio(), latency.p50(), latency.p99(), latency.max(),
      longest_gap < 1000 ? "ok" : "bad", longest_gap, report.packets_sent());
  if (!report.problems().empty()) {
    html += "<h2>Problems</h2><ul class='problems'>";
    for (const auto& problem : report.problems()) {
      absl::StrAppend(&html, "<li>", Escape(problem), "</li>");
    }
    html += "</ul>\n";
  }
  html += "<h2>Latency per tier</h2>" + LatencySvg(report);
  html += "<h2>Packets per site over time, around each step</h2>" +
          TimelineSvg(report);
  html +=
      "<h2>Faults</h2><table>" +
      Row({"at s", "step", "target", "affected sites",
           "of them with every packet", "longest gap ms", "sites failed over",
           "other sites failed over", "relays that changed parent",
           "changes beyond the target's children", "lost after repair (step)",
           "lost after repair (whole run)"},
          true);
  for (const auto& fault : report.failover()) {
    // A gap that did not beat an earlier one is known within its bound.
    const std::string gap =
        fault.longest_gap_exact()
            ? absl::StrFormat("%.0f", fault.longest_gap_ms())
            : absl::StrFormat("%.0f (&le; %.0f)", fault.longest_gap_ms(),
                              fault.longest_gap_bound_ms());
    html += Row({absl::StrFormat("%.1f", fault.at_s()), Escape(fault.label()),
                 Escape(fault.target().empty() ? "(all)" : fault.target()),
                 absl::StrCat(fault.affected_sites()),
                 absl::StrCat(fault.affected_sites_all_packets()), gap,
                 absl::StrCat(fault.parent_switches()),
                 absl::StrCat(fault.other_sites_parent_switches()),
                 Escape(absl::StrJoin(fault.relays_switched(), ", ")),
                 absl::StrCat(fault.switches_beyond_children()),
                 absl::StrCat(fault.packets_lost()),
                 absl::StrCat(fault.packets_lost_run())});
  }
  html += "</table><h2>Steps</h2><table>" +
          Row({"at s", "step", "action", "ok", "what happened"}, true);
  for (const auto& step : report.steps()) {
    html += Row({absl::StrFormat("%.1f", step.at_s()), Escape(step.label()),
                 Escape(step.action()), step.ok() ? "yes" : "no",
                 Escape(step.detail())});
  }
  html += "</table>";
  if (report.upstream_size() > 0) {
    html += absl::StrFormat(
        "<h2>Upstream at the center</h2><p>Each selected site's own stream "
        "as relay-source received it; the first packet is timed from the "
        "SelectUpstream call (negative: it arrived before the selection). "
        "Packets of streams nobody selected: %d.</p><table>",
        report.upstream_unselected_packets());
    html +=
        Row({"selected at s", "site", "SSRC", "accepted", "sent",
             "at the center", "first packet ms", "latency p50 ms", "p99 ms"},
            true);
    for (const auto& up : report.upstream()) {
      const bool arrived = up.packets_received() > 0;
      html += Row(
          {absl::StrFormat("%.1f", up.selected_at_s()), Escape(up.site()),
           absl::StrCat(up.ssrc()), up.selected() ? "yes" : "no",
           absl::StrCat(up.packets_sent()), absl::StrCat(up.packets_received()),
           arrived ? absl::StrFormat("%.0f", up.first_packet_ms()) : "",
           arrived ? absl::StrFormat("%.1f", up.latency_p50_ms()) : "",
           arrived ? absl::StrFormat("%.1f", up.latency_p99_ms()) : ""});
    }
    html += "</table>";
  }
  html +=
      "<h2>The tree, coloured by health</h2><p>Each relay is as "
      "wide as the sites below it; green: all of them got every packet, "
      "light green: 99%, amber: 90%, red: fewer.</p>" +
      TreeSvg(report);
  html += "<h2>CPU and memory per process kind</h2><table>" +
          Row({"kind", "processes", "CPU s", "cores busy",
               "peak RSS MB (largest)", "peak RSS MB (sum)"},
              true);
  std::vector<std::string> kinds;
  for (const auto& [kind, cpu] : report.cpu()) kinds.push_back(kind);
  std::sort(kinds.begin(), kinds.end());
  for (const std::string& kind : kinds) {
    const auto& cpu = report.cpu().at(kind);
    const auto& memory = report.memory().at(kind);
    html += Row({Escape(kind), absl::StrCat(cpu.processes()),
                 absl::StrFormat("%.1f", cpu.cpu_seconds()),
                 absl::StrFormat("%.2f", cpu.cores()),
                 absl::StrFormat("%.1f", memory.peak_rss_mb_max()),
                 absl::StrFormat("%.0f", memory.peak_rss_mb_total())});
  }
  html += "</table><h2>Control plane</h2><p>" +
          Escape(report.control_plane().note()) + "</p><table>" +
          Row({"step", "call", "ms", "ok", "detail"}, true);
  for (const auto& call : report.control_plane().admin_calls()) {
    html += Row({Escape(call.label()), Escape(call.call()),
                 absl::StrFormat("%.1f", call.ms()), call.ok() ? "yes" : "no",
                 Escape(call.detail())});
  }
  html += "</table>";
  const auto& control = report.control_plane();
  if (control.leader_changes_size() > 0) {
    html += "<h3>Leaders (" + Escape(control.store()) + " store, " +
            Escape(absl::StrJoin(control.controllers(), ", ")) +
            ")</h3><table>" +
            Row({"s", "from", "to", "takeover ms", "relays back ms",
                 "state sequence", "cause"},
                true);
    for (const auto& change : control.leader_changes()) {
      html += Row(
          {absl::StrFormat("%.1f", change.at_s()), Escape(change.from()),
           Escape(change.to()), absl::StrFormat("%.0f", change.takeover_ms()),
           change.relays_back_ms() > 0
               ? absl::StrFormat("%.0f", change.relays_back_ms())
               : "",
           absl::StrCat(change.state_sequence()), Escape(change.cause())});
    }
    html += "</table>";
  }
  if (control.store_delay_ms() > 0) {
    html += absl::StrFormat(
        "<p>Slow store: every request of the controllers to etcd was held "
        "%.0f ms by tcp-delay (%s).</p>",
        control.store_delay_ms(), Escape(control.store_proxy_counters()));
  }
  html += absl::StrCat("<h3>Relays marked down by the controller (",
                       control.nodes_down_size(), ")</h3>");
  if (control.nodes_down_size() > 0) {
    html += "<table>" + Row({"s", "relay", "why", "controller"}, true);
    for (const auto& down : control.nodes_down()) {
      html += Row({absl::StrFormat("%.1f", down.at_s()), Escape(down.node()),
                   Escape(down.why()), Escape(down.controller())});
    }
    html += "</table>";
  }
  html += "</body></html>\n";
  return html;
}

std::string ReportSvg(const SimReport& report) {
  const auto& latency = report.latency_ms();
  const std::vector<std::pair<std::string, std::string>> plots = {
      {"Packets per site over time, around each step", TimelineSvg(report)},
      {"Latency per tier", LatencySvg(report)},
      {"The tree, coloured by the share of sites that got every packet",
       TreeSvg(report)}};
  std::string body = absl::StrFormat(
      "<text x='20' y='30' class='title'>relay-sim: %s, %u relays, %u sites, "
      "%s mode, %u kbit/s at %u fps</text>"
      "<text x='20' y='56' class='head'>%u / %u sites got every packet "
      "(delivery %.5f), longest gap after a relay kill %.0f ms, site latency "
      "p50 %.1f / p99 %.1f ms</text>",
      Escape(report.topology()), report.relays_total(), report.sites_total(),
      Escape(report.mode()), report.video_kbps(), report.frame_rate(),
      report.sites_all_packets(), report.sites_total(), report.delivery_ratio(),
      LongestKillGapMs(report), latency.p50(), latency.p99());
  int y = 76;
  for (const auto& [title, svg] : plots) {
    absl::StrAppendFormat(&body,
                          "<text x='20' y='%d' class='label'>%s</text>"
                          "<g transform='translate(0,%d)'>%s</g>",
                          y + 14, Escape(title), y + 22, svg);
    y += 22 + SvgHeight(svg) + 10;
  }
  return absl::StrFormat(
      "<svg xmlns='http://www.w3.org/2000/svg' width='%d' height='%d' "
      "viewBox='0 0 %d %d'><style>%s.title{font:bold 17px sans-serif;"
      "fill:#222}.head{font:14px sans-serif;fill:#222}text{font-family:"
      "sans-serif}</style><rect width='100%%' height='100%%' fill='#fff'/>"
      "%s</svg>\n",
      kWidth, y, kWidth, y, kPlotStyle, body);
}

}  // namespace cascade::sim
