#include "tools/sim/report_html.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/strip.h"
#include "tools/sim/report_svg.h"
#include "tools/sim/report_tree.h"
#include "tools/sim/spread.h"

namespace cascade::sim {
namespace {

using cascade::v1::SimFigure;
using cascade::v1::SimReport;

// "kill_gap_ms" reads "kill gap".
std::string FigureLabel(const std::string& name) {
  return absl::StrReplaceAll(absl::StripSuffix(name, "_ms"), {{"_", " "}});
}

std::string FigureValue(const SimFigure& figure) {
  if (!figure.measured()) return "n/a";
  if (absl::EndsWith(figure.name(), "_ratio")) {
    return absl::StrFormat("%.5f", figure.value());
  }
  return absl::StrFormat("%.0f%s", figure.value(),
                         absl::EndsWith(figure.name(), "_ms") ? " ms" : "");
}

// pass, fail, or none: not measured in this run.
std::string FigureStatus(const SimFigure& figure) {
  if (!figure.measured()) return "none";
  return figure.met() ? "pass" : "fail";
}

// One card per headline figure, coloured against its target (spread.cc
// keeps the targets), then the figures that have none.
std::string Cards(const SimReport& report) {
  std::string html = "<div class='figures'>";
  for (const SimFigure& figure : HeadlineFigures(report)) {
    const std::string status = FigureStatus(figure);
    const std::string sites =
        figure.name() == "delivery_ratio"
            ? absl::StrFormat("<small>%u / %u sites got every packet</small>",
                              report.sites_all_packets(), report.sites_total())
            : "";
    absl::StrAppendFormat(
        &html,
        "<div class='fig %s' data-figure='%s' data-status='%s'><b>%s</b>%s%s"
        "<small>target %s%s</small></div>",
        status, HtmlEscape(figure.name()), status, FigureValue(figure),
        HtmlEscape(FigureLabel(figure.name())), sites,
        HtmlEscape(figure.target()),
        status == "none" ? " (not measured in this run)" : "");
  }
  const auto& latency = report.latency_ms();
  absl::StrAppendFormat(
      &html,
      "<div class='fig none' data-status='none'><b>%.1f / %.1f / %.1f ms</b>"
      "site latency p50 / p99 / max<small>no target</small></div>"
      "<div class='fig none' data-status='none'><b>%d</b>packets sent by the "
      "source<small>no target</small></div></div>\n",
      latency.p50(), latency.p99(), latency.max(), report.packets_sent());
  return html;
}

// The measured headline figures against their targets, for the standalone
// picture: lines from `*y` on, as wide as the picture, a missed one red.
std::string FiguresText(const SimReport& report, int* y) {
  std::string svg;
  int x = 20;
  for (const SimFigure& figure : HeadlineFigures(report)) {
    if (!figure.measured()) continue;
    const std::string text = absl::StrCat(
        FigureLabel(figure.name()), " ", FigureValue(figure),
        figure.met() ? " (met " : " (missed ", figure.target(), ")");
    // About 6 px a character at 11 px.
    const int width = static_cast<int>(text.size()) * 6 + 16;
    if (x > 20 && x + width > kPlotWidth - 20) {
      x = 20;
      *y += 15;
    }
    absl::StrAppendFormat(
        &svg, "<text x='%d' y='%d' class='small' data-status='%s'%s>%s</text>",
        x, *y, FigureStatus(figure), figure.met() ? "" : " fill='#d64545'",
        HtmlEscape(text));
    x += width;
  }
  return svg;
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
  std::string html = absl::StrCat(
      "<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>relay-sim: ",
      HtmlEscape(report.scenario()),
      "</title><style>"
      "body{font:14px/1.4 sans-serif;margin:24px auto;max-width:940px;"
      "color:#222}"
      "h1{font-size:22px}h2{font-size:17px;margin-top:28px}"
      ".figures{display:flex;flex-wrap:wrap;gap:10px}"
      ".fig{border:1px solid #ddd;border-radius:6px;padding:8px 12px;"
      "min-width:150px}.fig b{display:block;font-size:20px}"
      ".fig small{display:block;color:#666;font-size:12px}"
      ".pass{border-color:#2e9e4f}.pass b{color:#2e9e4f}"
      ".fail{border-color:#d64545;background:#fdf0f0}.fail b{color:#d64545}"
      ".none b{color:#555}"
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
      HtmlEscape(report.scenario()), HtmlEscape(report.topology()),
      report.relays_total(), report.relay_processes(), report.sites_total(),
      HtmlEscape(report.mode()), report.duration_s(), report.video_kbps(),
      report.frame_rate(), report.audio() ? " plus Opus audio" : "",
      report.parent_timeout_ms(), report.keepalive_ms());
  html += Cards(report);
  if (!report.problems().empty()) {
    html += "<h2>Problems</h2><ul class='problems'>";
    for (const auto& problem : report.problems()) {
      absl::StrAppend(&html, "<li>", HtmlEscape(problem), "</li>");
    }
    html += "</ul>\n";
  }
  html +=
      "<h2>Latency per tier</h2><p>Each tier's sites sorted by their own "
      "p99 latency: a point per site at the share of the tier's sites at or "
      "below it (the national, provincial and district tiers are measured "
      "by one probe each).</p>" +
      LatencyCdfSvg(report);
  html +=
      "<h2>Packets per site over time, around each step</h2><p>The spread "
      "over all sites in each interval (each probe group's sites at its mean "
      "rate): min to max, 1st percentile to median, the median; the sites "
      "below each fault's target as lines.</p>" +
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
    html +=
        Row({absl::StrFormat("%.1f", fault.at_s()), HtmlEscape(fault.label()),
             HtmlEscape(fault.target().empty() ? "(all)" : fault.target()),
             absl::StrCat(fault.affected_sites()),
             absl::StrCat(fault.affected_sites_all_packets()), gap,
             absl::StrCat(fault.parent_switches()),
             absl::StrCat(fault.other_sites_parent_switches()),
             HtmlEscape(absl::StrJoin(fault.relays_switched(), ", ")),
             absl::StrCat(fault.switches_beyond_children()),
             absl::StrCat(fault.packets_lost()),
             absl::StrCat(fault.packets_lost_run())});
  }
  html += "</table><h2>Steps</h2><table>" +
          Row({"at s", "step", "action", "ok", "what happened"}, true);
  for (const auto& step : report.steps()) {
    html += Row({absl::StrFormat("%.1f", step.at_s()), HtmlEscape(step.label()),
                 HtmlEscape(step.action()), step.ok() ? "yes" : "no",
                 HtmlEscape(step.detail())});
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
          {absl::StrFormat("%.1f", up.selected_at_s()), HtmlEscape(up.site()),
           absl::StrCat(up.ssrc()), up.selected() ? "yes" : "no",
           absl::StrCat(up.packets_sent()), absl::StrCat(up.packets_received()),
           arrived ? absl::StrFormat("%.0f", up.first_packet_ms()) : "",
           arrived ? absl::StrFormat("%.1f", up.latency_p50_ms()) : "",
           arrived ? absl::StrFormat("%.1f", up.latency_p99_ms()) : ""});
    }
    html += "</table>";
  }
  html +=
      "<h2>The tree, coloured by health</h2><p>One mark per site, green "
      "when it got every packet, red when not; the sites of a relay (a "
      "district) in a grey block, the blocks in a box per relay below the "
      "roots (a province) outlined by the share of its sites that got every "
      "packet: green all, light green 99%, amber 90%, red fewer. Roots on "
      "top, relays with no site below (standbys) at the bottom.</p>" +
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
    html += Row({HtmlEscape(kind), absl::StrCat(cpu.processes()),
                 absl::StrFormat("%.1f", cpu.cpu_seconds()),
                 absl::StrFormat("%.2f", cpu.cores()),
                 absl::StrFormat("%.1f", memory.peak_rss_mb_max()),
                 absl::StrFormat("%.0f", memory.peak_rss_mb_total())});
  }
  html += "</table><h2>Control plane</h2><p>" +
          HtmlEscape(report.control_plane().note()) + "</p><table>" +
          Row({"step", "call", "ms", "ok", "detail"}, true);
  for (const auto& call : report.control_plane().admin_calls()) {
    html += Row({HtmlEscape(call.label()), HtmlEscape(call.call()),
                 absl::StrFormat("%.1f", call.ms()), call.ok() ? "yes" : "no",
                 HtmlEscape(call.detail())});
  }
  html += "</table>";
  const auto& control = report.control_plane();
  if (control.leader_changes_size() > 0) {
    html += "<h3>Leaders (" + HtmlEscape(control.store()) + " store, " +
            HtmlEscape(absl::StrJoin(control.controllers(), ", ")) +
            ")</h3><table>" +
            Row({"s", "from", "to", "takeover ms", "relays back ms",
                 "state sequence", "cause"},
                true);
    for (const auto& change : control.leader_changes()) {
      html += Row({absl::StrFormat("%.1f", change.at_s()),
                   HtmlEscape(change.from()), HtmlEscape(change.to()),
                   absl::StrFormat("%.0f", change.takeover_ms()),
                   change.relays_back_ms() > 0
                       ? absl::StrFormat("%.0f", change.relays_back_ms())
                       : "",
                   absl::StrCat(change.state_sequence()),
                   HtmlEscape(change.cause())});
    }
    html += "</table>";
  }
  if (control.store_delay_ms() > 0) {
    html += absl::StrFormat(
        "<p>Slow store: every request of the controllers to etcd was held "
        "%.0f ms by tcp-delay (%s).</p>",
        control.store_delay_ms(), HtmlEscape(control.store_proxy_counters()));
  }
  html += absl::StrCat("<h3>Relays marked down by the controller (",
                       control.nodes_down_size(), ")</h3>");
  if (control.nodes_down_size() > 0) {
    html += "<table>" + Row({"s", "relay", "why", "controller"}, true);
    for (const auto& down : control.nodes_down()) {
      html +=
          Row({absl::StrFormat("%.1f", down.at_s()), HtmlEscape(down.node()),
               HtmlEscape(down.why()), HtmlEscape(down.controller())});
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
      {"Latency per tier: each site's p99", LatencyCdfSvg(report)},
      {"The tree, coloured by the share of sites that got every packet",
       TreeSvg(report)}};
  std::string body = absl::StrFormat(
      "<text x='20' y='30' class='title'>relay-sim: %s, %u relays, %u sites, "
      "%s mode, %u kbit/s at %u fps</text>"
      "<text x='20' y='52' class='head'>%u / %u sites got every packet, "
      "site latency p50 %.1f / p99 %.1f ms</text>",
      HtmlEscape(report.topology()), report.relays_total(),
      report.sites_total(), HtmlEscape(report.mode()), report.video_kbps(),
      report.frame_rate(), report.sites_all_packets(), report.sites_total(),
      latency.p50(), latency.p99());
  int y = 70;
  body += FiguresText(report, &y);
  y += 10;
  for (const auto& [title, svg] : plots) {
    absl::StrAppendFormat(&body,
                          "<text x='20' y='%d' class='label'>%s</text>"
                          "<g transform='translate(0,%d)'>%s</g>",
                          y + 14, HtmlEscape(title), y + 22, svg);
    y += 22 + SvgHeight(svg) + 10;
  }
  return absl::StrFormat(
      "<svg xmlns='http://www.w3.org/2000/svg' width='%d' height='%d' "
      "viewBox='0 0 %d %d'><style>%s.title{font:bold 17px sans-serif;"
      "fill:#222}.head{font:14px sans-serif;fill:#222}.small{font:11px "
      "sans-serif}text{font-family:"
      "sans-serif}</style><rect width='100%%' height='100%%' fill='#fff'/>"
      "%s</svg>\n",
      kPlotWidth, y, kPlotWidth, y, kPlotStyle, body);
}

}  // namespace cascade::sim
