#include "tools/sim/report_svg.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"

namespace cascade::sim {

const char kPlotStyle[] =
    ".axis{stroke:#333}.grid{stroke:#eee}"
    ".tick{font-size:11px;fill:#333}.label{font-size:12px;fill:#333}"
    ".step{font-size:10px;fill:#c00}.node{font-size:11px;fill:#222}"
    ".site{fill:#2e9e4f}.site.miss{fill:#d64545}.block{fill:#eef0f2}"
    ".box{fill:none;stroke-width:1.5}.idle{fill:#fff;stroke:#999}";

namespace {

using cascade::v1::SimReport;

constexpr int kPlotHeight = 260;
constexpr int kMargin = 50;

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
    return kMargin + x / x_max * (kPlotWidth - 2 * kMargin);
  }
  double Y(double y) const {
    return kPlotHeight - 30 - y / y_max * (kPlotHeight - 50);
  }
};

std::string OpenSvg(int height, const std::string& css_class) {
  return absl::StrFormat(
      "<svg width='%d' height='%d' viewBox='0 0 %d %d' class='%s'>", kPlotWidth,
      height, kPlotWidth, height, css_class);
}

std::string AxesSvg(const Axes& axes, const std::string& x_label,
                    const std::string& y_label) {
  std::string svg;
  absl::StrAppendFormat(
      &svg,
      "<line x1='%d' y1='%.1f' x2='%d' y2='%.1f' class='axis'/>"
      "<line x1='%d' y1='%.1f' x2='%d' y2='%.1f' class='axis'/>",
      kMargin, axes.Y(0), kPlotWidth - kMargin, axes.Y(0), kMargin, axes.Y(0),
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
        axes.Y(y), kPlotWidth - kMargin, axes.Y(y));
  }
  absl::StrAppendFormat(
      &svg,
      "<text x='%d' y='%d' class='label' text-anchor='middle'>%s</text>"
      "<text x='12' y='%d' class='label' transform='rotate(-90 12 %d)' "
      "text-anchor='middle'>%s</text>",
      kPlotWidth / 2, kPlotHeight - 2, HtmlEscape(x_label), kPlotHeight / 2,
      kPlotHeight / 2, HtmlEscape(y_label));
  return svg;
}

const char* kTierColours[] = {"#1f77b4", "#9467bd", "#ff7f0e", "#2ca02c"};

// Each site's latency in `tier`, sorted.
std::vector<double> TierPoints(const SimReport& report,
                               const cascade::v1::SimTierLatency& tier) {
  if (tier.tier() != "site") return {tier.p99()};
  std::vector<double> points(report.latency_ms().site_p99().begin(),
                             report.latency_ms().site_p99().end());
  std::sort(points.begin(), points.end());
  return points;
}

// A rate and how many sites it stands for.
using Weighted = std::pair<double, double>;

// The value at share `q` of the weight, `values` sorted by value.
double Quantile(const std::vector<Weighted>& values, double total, double q) {
  double below = 0;
  for (const auto& [value, weight] : values) {
    below += weight;
    if (below >= q * total) return value;
  }
  return values.back().first;
}

// Per bucket: min, p1, median, max of the site rates.
struct Band {
  double t;
  double min, p1, median, max;
};

std::vector<Band> Bands(const SimReport& report, double bucket_s) {
  std::map<int64_t, std::vector<Weighted>> buckets;
  for (const auto& series : report.timeline()) {
    const int n = series.t_s_size();
    if (n == 0) continue;
    // At each bucket's middle, the rate of the interval around it: an
    // interval runs from the end of the one before (the first: one interval
    // before its end) to its own end. Probes' intervals are not aligned, so
    // every bucket gets every group that was running.
    const double start = n > 1 ? 2 * series.t_s(0) - series.t_s(1) : 0;
    int i = 0;
    for (int64_t b = static_cast<int64_t>(std::floor(start / bucket_s));; ++b) {
      const double middle = (static_cast<double>(b) + 0.5) * bucket_s;
      if (middle <= start) continue;
      while (i < n && series.t_s(i) < middle) ++i;
      if (i == n) break;
      buckets[b].emplace_back(series.packets_per_s(i),
                              std::max(1u, series.sites()));
    }
  }
  std::vector<Band> bands;
  for (auto& [bucket, values] : buckets) {
    std::sort(values.begin(), values.end());
    double total = 0;
    for (const auto& value : values) total += value.second;
    bands.push_back(Band{(static_cast<double>(bucket) + 0.5) * bucket_s,
                         values.front().first, Quantile(values, total, 0.01),
                         Quantile(values, total, 0.5), values.back().first});
  }
  return bands;
}

// "x,y x,y ..." of one of a band's figures.
std::string BandPoints(const std::vector<Band>& bands, const Axes& axes,
                       double Band::*figure) {
  std::string points;
  for (const Band& band : bands) {
    absl::StrAppendFormat(&points, "%.1f,%.1f ", axes.X(band.t),
                          axes.Y(std::min(band.*figure, axes.y_max)));
  }
  return points;
}

// The area between two of a band's figures.
std::string BandArea(const std::vector<Band>& bands, const Axes& axes,
                     double Band::*low, double Band::*high) {
  std::string path = "M";
  for (const Band& band : bands) {
    absl::StrAppendFormat(&path, "%.1f,%.1f ", axes.X(band.t),
                          axes.Y(std::min(band.*high, axes.y_max)));
  }
  for (auto it = bands.rbegin(); it != bands.rend(); ++it) {
    absl::StrAppendFormat(&path, "%.1f,%.1f ", axes.X(it->t),
                          axes.Y(std::min((*it).*low, axes.y_max)));
  }
  return path + "Z";
}

}  // namespace

std::string HtmlEscape(const std::string& text) {
  return absl::StrReplaceAll(text, {{"&", "&amp;"},
                                    {"<", "&lt;"},
                                    {">", "&gt;"},
                                    {"\"", "&quot;"},
                                    {"'", "&#39;"}});
}

std::string HealthColour(double health) {
  if (health >= 1) return "#2e9e4f";
  if (health >= 0.99) return "#9cc54a";
  if (health >= 0.9) return "#f0b429";
  return "#d64545";
}

std::string LatencyCdfSvg(const SimReport& report) {
  const auto& latency = report.latency_ms();
  std::vector<std::vector<double>> points;
  std::vector<double> pooled;
  for (const auto& tier : latency.per_tier()) {
    points.push_back(TierPoints(report, tier));
    pooled.insert(pooled.end(), points.back().begin(), points.back().end());
  }
  // Up to 1.5 times the 99th percentile of every point: a tier probe below
  // a killed relay can see seconds, which would squash the sites' curve
  // into the first pixels. A point beyond is drawn at the edge.
  std::sort(pooled.begin(), pooled.end());
  const double x_max =
      pooled.empty() ? 1
                     : std::min(pooled.back(),
                                1.5 * pooled[(pooled.size() - 1) * 99 / 100]);
  Axes axes{NiceCeiling(std::max(x_max, 1.0) * 1.05), 1};
  std::string svg = OpenSvg(kPlotHeight, "latency");
  svg += AxesSvg(axes,
                 "each site's p99 latency, ms (source send time to "
                 "frame complete)",
                 "share of the tier's sites");
  for (int t = 0; t < latency.per_tier_size(); ++t) {
    const auto& tier = latency.per_tier(t);
    const std::vector<double>& values = points[t];
    const char* colour = kTierColours[t % 4];
    std::string line;
    for (size_t i = 0; i < values.size(); ++i) {
      absl::StrAppendFormat(&line, "%.1f,%.1f ",
                            axes.X(std::min(values[i], axes.x_max)),
                            axes.Y(static_cast<double>(i + 1) / values.size()));
    }
    absl::StrAppendFormat(
        &svg,
        "<polyline class='cdf' data-tier='%s' data-points='%d' points='%s' "
        "fill='none' stroke='%s' stroke-width='2'><title>%s: %d sites</title>"
        "</polyline>",
        HtmlEscape(tier.tier()), values.size(), line, colour,
        HtmlEscape(tier.tier()), values.size());
    // A tier of a few sites (a tier probe is one) would be a dot or a
    // short stroke: each point is marked.
    if (values.size() < 20) {
      for (size_t i = 0; i < values.size(); ++i) {
        const double y = axes.Y(static_cast<double>(i + 1) / values.size());
        absl::StrAppendFormat(
            &svg, "<circle cx='%.1f' cy='%.1f' r='4' fill='%s'/>",
            axes.X(std::min(values[i], axes.x_max)), y, colour);
        if (values[i] > axes.x_max) {
          absl::StrAppendFormat(&svg,
                                "<text x='%.1f' y='%.1f' class='tick' "
                                "text-anchor='end'>%.0f ms &#8250;</text>",
                                axes.X(axes.x_max) - 7, y + 4, values[i]);
        }
      }
    }
    absl::StrAppendFormat(
        &svg,
        "<rect x='%d' y='%d' width='12' height='12' fill='%s'/>"
        "<text x='%d' y='%d' class='tick'>%s (%d sites): p50 %.1f, p99 %.1f, "
        "max %.1f ms</text>",
        kPlotWidth - 360, 130 + 16 * t, colour, kPlotWidth - 343, 140 + 16 * t,
        HtmlEscape(tier.tier()), values.size(), tier.p50(), tier.p99(),
        tier.max());
  }
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
  Axes axes{std::max(10.0, std::ceil(x_max / 10) * 10),
            NiceCeiling(std::max(usual, 1.0) * 1.5)};
  // The sites below each fault's target, in colour.
  std::vector<std::pair<std::string, std::string>> colour_of;
  for (const auto& fault : report.failover()) {
    const std::string& target = fault.target();
    if (target.empty() ||
        std::any_of(colour_of.begin(), colour_of.end(),
                    [&](const auto& seen) { return seen.first == target; })) {
      continue;
    }
    colour_of.emplace_back(target, kTierColours[colour_of.size() % 4]);
  }
  // The legend, in rows under the plot.
  std::vector<std::pair<std::string, std::string>> legend = {
      {"#c6dbef", "all sites: min to max"},
      {"#6baed6", "1st percentile to median"},
      {"#08519c", "median"},
      {"#d64545", "minimum"}};
  for (const auto& [target, colour] : colour_of) {
    legend.emplace_back(colour, "sites below " + target);
  }
  std::string legend_svg;
  int x = kMargin;
  int y = kPlotHeight + 6;
  for (const auto& [colour, text] : legend) {
    const int width = 18 + static_cast<int>(text.size()) * 6 + 14;
    if (x > kMargin && x + width > kPlotWidth - kMargin) {
      x = kMargin;
      y += 16;
    }
    absl::StrAppendFormat(&legend_svg,
                          "<rect x='%d' y='%d' width='12' height='6' "
                          "fill='%s'/><text x='%d' y='%d' "
                          "class='tick'>%s</text>",
                          x, y, colour, x + 16, y + 7, HtmlEscape(text));
    x += width;
  }
  std::string svg = OpenSvg(y + 14, "timeline") + legend_svg;
  svg += AxesSvg(axes, "seconds from the first packet", "packets/s per site");
  // Buckets of the probes' interval, at most ~400 across the plot.
  const double bucket_s = std::max(report.probe_interval_s(), axes.x_max / 400);
  const std::vector<Band> bands = Bands(report, bucket_s);
  if (!bands.empty()) {
    absl::StrAppendFormat(
        &svg,
        "<path data-band='min-max' d='%s' fill='#c6dbef'/>"
        "<path data-band='p1-median' d='%s' fill='#6baed6'/>"
        "<polyline data-band='median' points='%s' fill='none' "
        "stroke='#08519c' stroke-width='1.5'/>"
        "<polyline data-band='min' points='%s' fill='none' stroke='#d64545' "
        "stroke-width='1'/>",
        BandArea(bands, axes, &Band::min, &Band::max),
        BandArea(bands, axes, &Band::p1, &Band::median),
        BandPoints(bands, axes, &Band::median),
        BandPoints(bands, axes, &Band::min));
  }
  for (const auto& series : report.timeline()) {
    const auto it = std::find_if(
        colour_of.begin(), colour_of.end(), [&](const auto& target) {
          return series.name().find(target.first) != std::string::npos;
        });
    if (it == colour_of.end()) continue;
    std::string points;
    for (int i = 0; i < series.t_s_size(); ++i) {
      absl::StrAppendFormat(
          &points, "%.1f,%.1f ", axes.X(series.t_s(i)),
          axes.Y(std::min(series.packets_per_s(i), axes.y_max)));
    }
    absl::StrAppendFormat(
        &svg,
        "<polyline class='fault-sites' points='%s' fill='none' stroke='%s' "
        "stroke-width='1.2'><title>%s (%d sites)</title></polyline>",
        points, it->second, HtmlEscape(series.name()), series.sites());
  }
  int row = 0;
  for (const auto& step : report.steps()) {
    const double x = axes.X(step.at_s());
    absl::StrAppendFormat(
        &svg,
        "<line x1='%.1f' y1='%.1f' x2='%.1f' y2='%.1f' stroke='#c00' "
        "stroke-dasharray='3 3'/><text x='%.1f' y='%d' class='step'>%s</text>",
        x, axes.Y(0), x, axes.Y(axes.y_max), x + 3, 12 + 11 * (row++ % 6),
        HtmlEscape(step.label()));
  }
  return svg + "</svg>";
}

int SvgHeight(const std::string& svg) {
  int width = 0;
  int height = 0;
  return std::sscanf(svg.c_str(), "<svg width='%d' height='%d'", &width,
                     &height) == 2
             ? height
             : 0;
}

}  // namespace cascade::sim
