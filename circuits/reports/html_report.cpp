#include "circuits/reports/html_report.h"

#include "circuits/model/runtime.h"
#include "circuits/reports/checkpoint_table.h"
#include "circuits/reports/timeline.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <set>

namespace circuitcheck {
namespace {

using std::string;

// A file beside the page as an href: bytes outside RFC 3986's unreserved
// characters (and '@') percent-encoded, so that '#', '?' or '%' in a
// checkpoint's name stay part of the path.
string link_to(const string& file) {
  static const char* kHex = "0123456789ABCDEF";
  string out;
  for (unsigned char ch : file) {
    const bool plain = (ch >= '0' && ch <= '9') || (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
                       string("-._~@").find(static_cast<char>(ch)) != string::npos;
    if (plain) out += static_cast<char>(ch);
    else out += {'%', kHex[ch >> 4], kHex[ch & 15]};
  }
  return out;
}

constexpr double kCharWidth = 6.2;  // px per character of 11px sans-serif text, for layout
constexpr std::size_t kLabelChars = 20;
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

const char* const kPalette[] = {"#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
                                "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"};

const char* kStyle = R"(
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2em auto;max-width:1150px;padding:0 1em;color:#222;line-height:1.45}
h1{font-size:1.6em;margin-bottom:.2em}h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:2em}h3{margin:1.2em 0 .3em;font-size:1.05em}
table{border-collapse:collapse;margin:.4em 0 1em}th,td{border:1px solid #ddd;padding:.25em .6em;text-align:left;vertical-align:top}
th{background:#f5f5f5;font-weight:600}td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
code,.hash{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:.9em;overflow-wrap:anywhere}
.badge{display:inline-block;padding:0 .55em;border-radius:.8em;font-size:.85em;font-weight:600;color:#fff;white-space:nowrap}
.badge.verdict-pass{background:#2e7d32}.badge.verdict-fail{background:#c62828}
.badge.verdict-not_falsifiable{background:#e65100}.badge.verdict-inconclusive{background:#8d6e63}.badge.verdict-error{background:#6a1b9a}
tr.verdict-pass>td:first-child{border-left:4px solid #2e7d32}tr.verdict-fail>td:first-child{border-left:4px solid #c62828}
tr.verdict-not_falsifiable>td:first-child{border-left:4px solid #e65100}tr.verdict-inconclusive>td:first-child{border-left:4px solid #8d6e63}tr.verdict-error>td:first-child{border-left:4px solid #6a1b9a}
.ok{color:#2e7d32;font-weight:600}.bad{color:#c62828;font-weight:600}.unsure{color:#8d6e63;font-weight:600}
.summary-line{color:#444;margin-top:0}.hypothesis{font-size:1.05em}.explanation{color:#333}
section.claim-detail{margin-top:2.5em}
.counterexamples code{background:#fdf2f2;padding:.1em .3em;white-space:pre-wrap}
.figures{display:flex;flex-wrap:wrap;gap:1em;align-items:flex-start}
figure{margin:0;border:1px solid #e5e5e5;padding:.4em;background:#fff}figcaption{font-size:.85em;color:#555;max-width:640px}
svg{display:block}svg text{font-family:sans-serif;font-size:11px;fill:#333}svg .figure-title{font-size:13px;font-weight:600}
)";

// ---------------------------------------------------------------------------
// Drawing.


const char* palette(int i) { return i < 0 ? "#9e9e9e" : kPalette[i % 10]; }

// At most kLabelChars characters (UTF-8 aware), "…" when cut.
string short_label(const string& s) {
  std::size_t chars = 0, i = 0;
  for (; i < s.size(); ++i) {
    if ((static_cast<unsigned char>(s[i]) & 0xC0) == 0x80) continue;
    if (chars == kLabelChars - 1) break;
    ++chars;
  }
  return i >= s.size() ? s : s.substr(0, i) + "\xE2\x80\xA6";
}

std::size_t longest_label(const std::vector<string>& labels) {
  std::size_t n = 0;
  for (const auto& l : labels) n = std::max(n, std::min(l.size(), kLabelChars));
  return n;
}

string label_at(const std::vector<string>& labels, std::size_t i) {
  return i < labels.size() ? labels[i] : std::to_string(i);
}

string text(double x, double y, const string& content, const string& attrs = "") {
  return "<text x=\"" + number(x) + "\" y=\"" + number(y) + "\"" + attrs + ">" + escape_markup(content) + "</text>";
}

// A shortened label whose full text is its tooltip.
string label_text(double x, double y, const string& label, const string& attrs) {
  return "<text x=\"" + number(x) + "\" y=\"" + number(y) + "\"" + attrs + "><title>" + escape_markup(label) + "</title>" +
         escape_markup(short_label(label)) + "</text>";
}

string line(double x1, double y1, double x2, double y2, const string& attrs) {
  return "<line x1=\"" + number(x1) + "\" y1=\"" + number(y1) + "\" x2=\"" + number(x2) + "\" y2=\"" + number(y2) + "\" " + attrs + "/>";
}

string rect(double x, double y, double w, double h, const string& fill, const string& tooltip) {
  return "<rect x=\"" + number(x) + "\" y=\"" + number(y) + "\" width=\"" + number(w) + "\" height=\"" + number(h) + "\" fill=\"" +
         fill + "\"><title>" + escape_markup(tooltip) + "</title></rect>";
}

string svg_open(double width, double height, const string& title) {
  return "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"figure\" width=\"" + number(width) + "\" height=\"" +
         number(height) + "\" viewBox=\"0 0 " + number(width) + " " + number(height) + "\" role=\"img\" aria-label=\"" +
         escape_markup(title) + "\"><title>" + escape_markup(title) + "</title>" +
         text(8, 17, title, " class=\"figure-title\"");
}

string no_data(const string& title, const string& why) {
  return svg_open(320, 80, title) + text(160, 50, why, " text-anchor=\"middle\"") + "</svg>";
}

// A plot area.
struct Frame {
  double left, top, width, height;
  double right() const { return left + width; }
  double bottom() const { return top + height; }
};

// Round numbers about `target` apart covering [lo, hi]; lo and hi are widened to the outer ones.
std::vector<double> nice_ticks(double& lo, double& hi, int target) {
  if (!(hi > lo)) {
    const double pad = lo == 0.0 ? 1.0 : std::abs(lo) * 0.5;
    lo -= pad;
    hi += pad;
  }
  const double raw = (hi - lo) / target;
  const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  const double norm = raw / magnitude;
  const double step = (norm < 1.5 ? 1 : norm < 3 ? 2 : norm < 7 ? 5 : 10) * magnitude;
  lo = std::floor(lo / step + 1e-9) * step;
  hi = std::ceil(hi / step - 1e-9) * step;
  std::vector<double> ticks;
  for (double v = lo; v <= hi + step * 1e-6; v += step) ticks.push_back(std::abs(v) < step * 1e-9 ? 0.0 : v);
  return ticks;
}

double scale(double v, double lo, double hi, double from, double to) { return from + (v - lo) / (hi - lo) * (to - from); }

// A numeric y axis; `tick_prefix` goes before each tick's number ("1e" on a log scale).
string y_axis(const Frame& f, double lo, double hi, const std::vector<double>& ticks, const string& title,
              const string& tick_prefix = "") {
  string s;
  for (double t : ticks) {
    const double y = scale(t, lo, hi, f.bottom(), f.top);
    s += line(f.left, y, f.right(), y, "stroke=\"#eee\"");
    s += text(f.left - 5, y + 4, tick_prefix + number(t), " text-anchor=\"end\"");
  }
  s += line(f.left, f.top, f.left, f.bottom(), "stroke=\"#555\"");
  if (!title.empty()) {
    const double x = 14, y = f.top + f.height / 2;
    s += text(x, y, title, " text-anchor=\"middle\" transform=\"rotate(-90 " + number(x) + " " + number(y) + ")\"");
  }
  return s;
}

string x_axis(const Frame& f, double lo, double hi, const std::vector<double>& ticks, const string& title) {
  string s;
  for (double t : ticks) {
    const double x = scale(t, lo, hi, f.left, f.right());
    s += line(x, f.top, x, f.bottom(), "stroke=\"#eee\"");
    s += text(x, f.bottom() + 15, number(t), " text-anchor=\"middle\"");
  }
  s += line(f.left, f.bottom(), f.right(), f.bottom(), "stroke=\"#555\"");
  if (!title.empty()) s += text(f.left + f.width / 2, f.bottom() + 34, title, " text-anchor=\"middle\"");
  return s;
}

// Room below a category axis: labels upright when they fit their band, else at 45 degrees.
bool tilted(const std::vector<string>& labels, double band) { return longest_label(labels) * kCharWidth > band - 2; }

double category_axis_height(const std::vector<string>& labels, double band, bool has_title) {
  const double labels_height = tilted(labels, band) ? longest_label(labels) * kCharWidth * 0.71 + 14 : 18;
  return labels_height + (has_title ? 18 : 0);
}

// One label per band of `band` px, every k-th when they would overlap.
string x_categories(const Frame& f, const std::vector<string>& labels, std::size_t n, double band, const string& title) {
  string s;
  const bool tilt = tilted(labels, band);
  const std::size_t every = std::max<std::size_t>(1, static_cast<std::size_t>(std::ceil(14.0 / band)));
  for (std::size_t i = 0; i < n; i += every) {
    const double x = f.left + band * (static_cast<double>(i) + 0.5), y = f.bottom() + 14;
    s += tilt ? label_text(x, y, label_at(labels, i),
                           " text-anchor=\"end\" transform=\"rotate(-45 " + number(x) + " " + number(y) + ")\"")
              : label_text(x, y, label_at(labels, i), " text-anchor=\"middle\"");
  }
  if (!title.empty())
    s += text(f.left + f.width / 2, f.bottom() + category_axis_height(labels, band, true) - 4, title,
              " text-anchor=\"middle\"");
  return s;
}

// A legend of coloured swatches from (x, y) down.
string legend(double x, double y, const std::vector<string>& names) {
  string s;
  for (std::size_t i = 0; i < names.size(); ++i) {
    const double row = y + 16.0 * static_cast<double>(i);
    s += rect(x, row, 10, 10, palette(static_cast<int>(i)), names[i]);
    s += label_text(x + 15, row + 9, names[i], "");
  }
  return s;
}

double legend_width(const std::vector<string>& names) {
  return names.empty() ? 0.0 : 30 + longest_label(names) * kCharWidth;
}

bool finite(double v) { return std::isfinite(v); }

// Colours of a heatmap: white to blue over [lo, hi], or blue-white-red over [-m, m].
struct ColourScale {
  double lo = 0, hi = 1;
  bool diverging = false;

  string operator()(double v) const {
    if (!finite(v)) return "#dddddd";
    auto mix = [](const double a[3], const double b[3], double t) {
      t = std::clamp(t, 0.0, 1.0);
      char buf[32];
      std::snprintf(buf, sizeof buf, "rgb(%d,%d,%d)", static_cast<int>(std::lround(a[0] + (b[0] - a[0]) * t)),
                    static_cast<int>(std::lround(a[1] + (b[1] - a[1]) * t)),
                    static_cast<int>(std::lround(a[2] + (b[2] - a[2]) * t)));
      return string(buf);
    };
    static const double white[3] = {247, 247, 247}, blue[3] = {33, 102, 172}, dark_blue[3] = {8, 48, 107},
                        red[3] = {178, 24, 43};
    if (diverging) return v < 0 ? mix(white, blue, -v / hi) : mix(white, red, v / hi);
    return hi > lo ? mix(white, dark_blue, (v - lo) / (hi - lo)) : mix(white, dark_blue, 0.5);
  }
};

string heatmap(const Figure& fig) {
  const std::size_t rows = fig.values.size();
  std::size_t cols = 0;
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  for (const auto& row : fig.values) {
    cols = std::max(cols, row.size());
    for (double v : row)
      if (finite(v)) lo = std::min(lo, v), hi = std::max(hi, v);
  }
  if (rows == 0 || cols == 0 || !(lo <= hi)) return no_data(fig.title, "no data");
  ColourScale colours{lo, hi, lo < 0 && hi > 0};
  if (colours.diverging) colours.lo = -(colours.hi = std::max(-lo, hi));

  const double cell = std::clamp(std::floor(std::min(480.0 / cols, 420.0 / rows)), 2.0, 36.0);
  Frame f;
  f.width = cell * cols;
  f.height = cell * rows;
  f.left = 12 + longest_label(fig.y_labels.empty() ? std::vector<string>{std::to_string(rows)} : fig.y_labels) *
                    kCharWidth + (fig.y_title.empty() ? 0 : 18);
  f.top = 32;
  const double bar_x = f.right() + 18;
  const double width = bar_x + 14 + 8 + 9 * kCharWidth;
  const double height = f.bottom() + category_axis_height(fig.x_labels, cell, !fig.x_title.empty()) + 8;

  string s = svg_open(width, std::max(height, f.top + 120), fig.title);
  for (std::size_t r = 0; r < rows; ++r)
    for (std::size_t c = 0; c < cols; ++c) {
      const double v = c < fig.values[r].size() ? fig.values[r][c] : kNaN;
      s += rect(f.left + cell * c, f.top + cell * r, cell, cell, colours(v),
                label_at(fig.y_labels, r) + " / " + label_at(fig.x_labels, c) + ": " + number(v));
    }
  s += "<rect x=\"" + number(f.left) + "\" y=\"" + number(f.top) + "\" width=\"" + number(f.width) + "\" height=\"" +
       number(f.height) + "\" fill=\"none\" stroke=\"#555\"/>";
  const std::size_t every = std::max<std::size_t>(1, static_cast<std::size_t>(std::ceil(13.0 / cell)));
  for (std::size_t r = 0; r < rows; r += every)
    s += label_text(f.left - 5, f.top + cell * (r + 0.5) + 4, label_at(fig.y_labels, r), " text-anchor=\"end\"");
  if (!fig.y_title.empty()) {
    const double x = 14, y = f.top + f.height / 2;
    s += text(x, y, fig.y_title, " text-anchor=\"middle\" transform=\"rotate(-90 " + number(x) + " " + number(y) + ")\"");
  }
  s += x_categories(f, fig.x_labels, cols, cell, fig.x_title);
  // The colour scale: 40 steps from the top (maximum) down, labelled at both ends and the middle.
  const double bar_height = std::max(f.height, 100.0), steps = 40;
  for (int i = 0; i < steps; ++i) {
    const double v = colours.hi - (colours.hi - colours.lo) * (i + 0.5) / steps;
    s += rect(bar_x, f.top + bar_height * i / steps, 14, bar_height / steps + 0.5, colours(v), number(v));
  }
  s += "<rect x=\"" + number(bar_x) + "\" y=\"" + number(f.top) + "\" width=\"14\" height=\"" + number(bar_height) +
       "\" fill=\"none\" stroke=\"#555\"/>";
  for (double t : {0.0, 0.5, 1.0})
    s += text(bar_x + 18, f.top + bar_height * t + 4, number(colours.hi - (colours.hi - colours.lo) * t));
  return s + "</svg>";
}

string bars(const Figure& fig) {
  const std::size_t n_series = fig.values.size();
  std::size_t n_categories = fig.x_labels.size();
  double lo = 0.0, hi = 0.0;
  bool any = false;
  for (const auto& series : fig.values) {
    n_categories = std::max(n_categories, series.size());
    for (double v : series)
      if (finite(v)) lo = std::min(lo, v), hi = std::max(hi, v), any = true;
  }
  if (!any) return no_data(fig.title, "no data");
  for (double r : fig.reference)
    if (finite(r)) lo = std::min(lo, r), hi = std::max(hi, r);
  const std::vector<double> ticks = nice_ticks(lo, hi, 5);

  std::vector<string> names = fig.series;
  for (std::size_t i = names.size(); i < n_series && n_series > 1; ++i) names.push_back("series " + std::to_string(i));
  const double band = std::clamp(560.0 / n_categories, 8.0, std::max(48.0, 18.0 * n_series + 12));
  Frame f;
  f.left = 30 + 7 * kCharWidth + (fig.y_title.empty() ? 0 : 10);
  f.top = 32;
  f.width = band * n_categories;
  f.height = 220;
  const double width = f.right() + 12 + 8 * kCharWidth + 12 + legend_width(names);
  const double height = f.bottom() + category_axis_height(fig.x_labels, band, !fig.x_title.empty()) + 8;

  string s = svg_open(std::max(width, 320.0), height, fig.title);
  s += y_axis(f, lo, hi, ticks, fig.y_title);
  const double bar = band * 0.8 / std::max<std::size_t>(1, n_series);
  const double zero = scale(0.0, lo, hi, f.bottom(), f.top);
  for (std::size_t si = 0; si < n_series; ++si)
    for (std::size_t c = 0; c < fig.values[si].size(); ++c) {
      const double v = fig.values[si][c];
      if (!finite(v)) continue;
      const double y = scale(v, lo, hi, f.bottom(), f.top);
      // At least 1 px, so that a zero is seen as a bar at the axis rather than as a missing value.
      const double top = std::abs(zero - y) < 1 ? std::min(zero, y) - 0.5 : std::min(y, zero);
      s += rect(f.left + band * c + band * 0.1 + bar * si, top, bar, std::max(std::abs(zero - y), 1.0),
                palette(static_cast<int>(si)),
                (si < names.size() ? names[si] + ", " : "") + label_at(fig.x_labels, c) + ": " + number(v));
    }
  s += line(f.left, zero, f.right(), zero, "stroke=\"#555\"");
  for (double r : fig.reference) {
    if (!finite(r)) continue;
    const double y = scale(r, lo, hi, f.bottom(), f.top);
    s += line(f.left, y, f.right(), y, "stroke=\"#222\" stroke-dasharray=\"5 3\" class=\"reference\"");
    s += text(f.right() + 4, y + 4, number(r));
  }
  s += x_categories(f, fig.x_labels, n_categories, band, fig.x_title);
  if (n_series > 1 || !fig.series.empty()) s += legend(f.right() + 20 + 8 * kCharWidth, f.top, names);
  return s + "</svg>";
}

// The plot area of a figure with numeric axes, `width` x `height` px, with
// room on the left for the y axis's numbers and title.
Frame numeric_frame(const Figure& fig, double width, double height) {
  return {30 + 7 * kCharWidth + (fig.y_title.empty() ? 0 : 10), 32, width, height};
}

// The <svg> around a numeric frame, its x axis below and its legend on the right.
string numeric_svg_open(const Figure& fig, const Frame& f) {
  return svg_open(f.right() + 16 + legend_width(fig.series), f.bottom() + 44, fig.title);
}

string scatter(const Figure& fig) {
  double x_lo = std::numeric_limits<double>::infinity(), x_hi = -x_lo, y_lo = x_lo, y_hi = -x_lo;
  for (const auto& p : fig.values)
    if (p.size() >= 2 && finite(p[0]) && finite(p[1]))
      x_lo = std::min(x_lo, p[0]), x_hi = std::max(x_hi, p[0]), y_lo = std::min(y_lo, p[1]), y_hi = std::max(y_hi, p[1]);
  if (!(x_lo <= x_hi)) return no_data(fig.title, "no data");
  // A margin of 5 % of the span, so that no point sits on an axis.
  const double x_pad = (x_hi - x_lo) * 0.05, y_pad = (y_hi - y_lo) * 0.05;
  x_lo -= x_pad, x_hi += x_pad, y_lo -= y_pad, y_hi += y_pad;
  const std::vector<double> x_ticks = nice_ticks(x_lo, x_hi, 6), y_ticks = nice_ticks(y_lo, y_hi, 5);
  const Frame f = numeric_frame(fig, 420, 300);
  string s = numeric_svg_open(fig, f);
  s += y_axis(f, y_lo, y_hi, y_ticks, fig.y_title);
  s += x_axis(f, x_lo, x_hi, x_ticks, fig.x_title);
  for (std::size_t i = 0; i < fig.values.size(); ++i) {
    const auto& p = fig.values[i];
    if (p.size() < 2 || !finite(p[0]) || !finite(p[1])) continue;
    const int cls = i < fig.classes.size() ? fig.classes[i] : 0;
    const bool known = cls >= 0 && (fig.series.empty() || static_cast<std::size_t>(cls) < fig.series.size());
    s += "<circle cx=\"" + number(scale(p[0], x_lo, x_hi, f.left, f.right())) + "\" cy=\"" +
         number(scale(p[1], y_lo, y_hi, f.bottom(), f.top)) + "\" r=\"3\" fill=\"" + palette(known ? cls : -1) +
         "\" fill-opacity=\"0.8\"><title>" +
         escape_markup((known && !fig.series.empty() ? fig.series[cls] + ": " : "") + "(" + number(p[0]) + ", " +
                       number(p[1]) + ")") +
         "</title></circle>";
  }
  s += legend(f.right() + 16, f.top, fig.series);
  return s + "</svg>";
}

// A line per series over the numeric x, a point (with its value as tooltip)
// per finite value; on a log scale the axis is in powers of ten.
string lines(const Figure& fig) {
  const auto y_of = [&](double v) { return fig.log_y ? (v > 0 ? std::log10(v) : kNaN) : v; };
  double x_lo = std::numeric_limits<double>::infinity(), x_hi = -x_lo, y_lo = x_lo, y_hi = -x_lo;
  for (const auto& series : fig.values)
    for (std::size_t i = 0; i < series.size() && i < fig.x.size(); ++i)
      if (finite(fig.x[i]) && finite(y_of(series[i])))
        x_lo = std::min(x_lo, fig.x[i]), x_hi = std::max(x_hi, fig.x[i]), y_lo = std::min(y_lo, y_of(series[i])),
        y_hi = std::max(y_hi, y_of(series[i]));
  if (!(x_lo <= x_hi)) return no_data(fig.title, "no data");
  for (double r : fig.reference)
    if (finite(y_of(r))) y_lo = std::min(y_lo, y_of(r)), y_hi = std::max(y_hi, y_of(r));
  if (fig.log_y) y_lo = std::floor(y_lo), y_hi = std::max(std::ceil(y_hi), y_lo + 1);
  std::vector<double> x_ticks = nice_ticks(x_lo, x_hi, 6), y_ticks;
  if (fig.log_y) {
    for (double e = y_lo; e <= y_hi; e += std::max(1.0, std::ceil((y_hi - y_lo) / 6))) y_ticks.push_back(e);
  } else {
    y_ticks = nice_ticks(y_lo, y_hi, 5);
  }
  const Frame f = numeric_frame(fig, 460, 220);
  string s = numeric_svg_open(fig, f);
  s += y_axis(f, y_lo, y_hi, y_ticks, fig.y_title, fig.log_y ? "1e" : "");
  s += x_axis(f, x_lo, x_hi, x_ticks, fig.x_title);
  const auto px = [&](double x) { return scale(x, x_lo, x_hi, f.left, f.right()); };
  const auto py = [&](double v) { return scale(y_of(v), y_lo, y_hi, f.bottom(), f.top); };
  for (double r : fig.reference)
    if (finite(y_of(r))) s += line(f.left, py(r), f.right(), py(r), "stroke=\"#c62828\" stroke-dasharray=\"5 3\"");
  for (double r : fig.x_reference)
    if (finite(r) && r >= x_lo && r <= x_hi)
      s += line(px(r), f.top, px(r), f.bottom(), "stroke=\"#2e7d32\" stroke-dasharray=\"5 3\"");
  for (std::size_t k = 0; k < fig.values.size(); ++k) {
    const auto& series = fig.values[k];
    const string colour = palette(static_cast<int>(k)), name = k < fig.series.size() ? fig.series[k] + ": " : "";
    string points, dots;
    for (std::size_t i = 0; i < series.size() && i < fig.x.size(); ++i) {
      if (!finite(fig.x[i]) || !finite(y_of(series[i]))) continue;
      const string xy = number(px(fig.x[i])) + "," + number(py(series[i]));
      points += xy + " ";
      dots += "<circle cx=\"" + number(px(fig.x[i])) + "\" cy=\"" + number(py(series[i])) + "\" r=\"2.5\" fill=\"" + colour +
              "\"><title>" + escape_markup(name + "(" + number(fig.x[i]) + ", " + number(series[i]) + ")") + "</title></circle>";
    }
    s += "<polyline fill=\"none\" stroke=\"" + colour + "\" stroke-width=\"1.5\" points=\"" + points + "\"/>" + dots;
  }
  s += legend(f.right() + 16, f.top, fig.series);
  return s + "</svg>";
}

// ---------------------------------------------------------------------------
// Pages.

string badge(const string& verdict) {
  return "<span class=\"badge verdict-" + escape_markup(verdict) + "\">" + escape_markup(verdict) + "</span>";
}

string summary_line(const Summary& s) {
  return std::to_string(s.claims) + " claims: " + std::to_string(s.passed) + " passed, " + std::to_string(s.failed) +
         " failed (" + std::to_string(s.not_falsifiable) + " not falsifiable, " + std::to_string(s.inconclusive) +
         " inconclusive), " + std::to_string(s.errors) + " errors" + family_text(s);
}

string page(const string& title, const string& body) {
  return "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
         "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>" +
         escape_markup(title) + "</title>\n<style>" + kStyle + "</style>\n</head>\n<body>\n" + body +
         "</body>\n</html>\n";
}

string provenance_table(const SystemReport& r) {
  const Provenance& p = r.provenance;
  auto row = [](const string& name, const string& html) { return "<tr><th>" + name + "</th><td>" + html + "</td></tr>\n"; };
  string config;
  for (const auto& [key, value] : p.config.items())
    if (!value.is_null()) config += (config.empty() ? "" : ", ") + key + " " + value.dump();
  return "<table class=\"provenance\">\n" +
         row("claims file", "<code>" + escape_markup(p.claims_file) + "</code><br><span class=\"hash\">sha256 " +
                                escape_markup(p.claims_sha256) + "</span>") +
         (p.task_file.empty() ? ""
                              : row("task file", "<code>" + escape_markup(p.task_file) +
                                                     "</code><br><span class=\"hash\">sha256 " +
                                                     escape_markup(p.task_sha256) + "</span>")) +
         row("checkpoint", "<code>" + escape_markup(p.checkpoint) + "</code> (" + escape_markup(p.checkpoint_format) +
                               ")<br><span class=\"hash\">sha256 " + escape_markup(p.checkpoint_sha256) + "</span>") +
         row("config", "<code>" + escape_markup(config) + "</code><br>from " + escape_markup(p.config_source)) +
         row("versions", escape_markup("circuitcheck " + circuitcheck_version() + " (commit " + circuitcheck_git_commit() +
                                       "), LibTorch " + torch_version())) +
         row("run", escape_markup(p.device + ", " + std::to_string(p.threads) + " threads, started " + r.run.date +
                                  ", " + seconds_text(r.run.wall_seconds))) +
         "</table>\n";
}

// The checks of the checkpoint and of each control, side by side, matched by check name.
string checks_table(const ClaimResult& r) {
  std::vector<const Outcome*> models = {&r.checkpoint};
  for (const auto& c : r.controls) models.push_back(&c);
  std::vector<string> names;
  for (const Outcome* m : models)
    for (const auto& c : m->checks)
      if (std::find(names.begin(), names.end(), c.name) == names.end()) names.push_back(c.name);
  if (names.empty()) return "";
  auto find = [](const Outcome& m, const string& name) -> const Check* {
    for (const auto& c : m.checks)
      if (c.name == name) return &c;
    return nullptr;
  };
  string s = "<table class=\"checks\">\n<thead><tr><th rowspan=\"2\">check</th><th rowspan=\"2\">rule</th>"
             "<th rowspan=\"2\">threshold</th><th rowspan=\"2\">basis</th>";
  for (const Outcome* m : models)
    s += "<th colspan=\"3\">" + string(m == &r.checkpoint ? "" : "control ") + escape_markup(m->model) + "</th>";
  s += "</tr>\n<tr>";
  // A control is judged on the bound on the other side (on_control).
  for (std::size_t i = 0; i < models.size(); ++i)
    s += string("<th>value</th><th>") + (i == 0 ? "bound" : "other bound") + "</th><th>result</th>";
  s += "</tr></thead>\n<tbody>\n";
  for (const auto& name : names) {
    const Check* first = nullptr;
    for (const Outcome* m : models)
      if (!first) first = find(*m, name);
    s += "<tr><td>" + escape_markup(name) + "</td><td>" + escape_markup(first->rule == Rule::kNone ? "reported" : to_string(first->rule)) +
         "</td><td class=\"num\">" + (first->rule == Rule::kNone ? "" : check_quantity(*first, first->threshold)) +
         "</td><td>" + escape_markup(to_string(first->basis)) + "</td>";
    for (const Outcome* m : models) {
      const Check* c = find(*m, name);
      if (!c) {
        s += "<td></td><td></td><td></td>";
        continue;
      }
      const string counts =
          c->trials > 0 ? " (" + std::to_string(c->successes) + "/" + std::to_string(c->trials) + ")" : "";
      // A control's result is whether it fails the check with certainty (on_control), as it must.
      const ControlCheck on = on_control(*c);
      const bool control = m != &r.checkpoint && c->rule != Rule::kNone;
      const string result = !control ? (c->rule == Rule::kNone ? "reported" : c->pass ? "pass" : "fail") : to_string(on);
      const string style = !control ? (c->pass ? "ok" : "bad")
                           : on == ControlCheck::kFails ? "ok"
                           : on == ControlCheck::kPasses ? "bad"
                                                         : "unsure";
      s += "<td class=\"num\" title=\"" + escape_markup(c->explanation) + "\">" + check_quantity(*c, c->value) + counts +
           "</td><td class=\"num\">" + check_quantity(*c, m == &r.checkpoint ? c->bound : c->other_bound) +
           "</td><td class=\"" + style + "\">" +
           escape_markup(result) + "</td>";
    }
    s += "</tr>\n";
  }
  return s + "</tbody></table>\n";
}

string liveness_table(const ClaimResult& r) {
  std::vector<const Outcome*> models = {&r.checkpoint};
  for (const auto& c : r.controls) models.push_back(&c);
  string rows;
  for (const Outcome* m : models)
    for (const auto& l : m->liveness)
      rows += "<tr><td>" + escape_markup(m->model) + "</td><td><code>" + escape_markup(l.hook) + "</code></td><td>" +
              escape_markup(l.kind) + "</td><td class=\"num\">" + std::to_string(l.fired) + "</td><td class=\"num\">" +
              std::to_string(l.elements) + "</td><td class=\"num\">" + number(l.max_abs_change) +
              "</td><td class=\"num\">" + number(l.mean_abs_change) + "</td><td class=\"" +
              (l.live() ? "ok\">live" : "bad\">not live") + "</td></tr>\n";
  if (rows.empty()) return "";
  return "<h3>Intervention liveness</h3>\n<table class=\"liveness\">\n<thead><tr><th>model</th><th>hook</th>"
         "<th>kind</th><th>fired</th><th>elements</th><th>max |change|</th><th>mean |change|</th><th>live</th></tr>"
         "</thead>\n<tbody>\n" +
         rows + "</tbody></table>\n";
}

// The thresholded checks as bars: one group per check, one bar per model, thresholds as reference lines.
// Reported-only checks are left out: their units (e.g. a gap in nats) need not match the thresholded ones.
Figure checks_figure(const ClaimResult& r) {
  Figure f;
  f.type = "bars";
  f.title = "Checks on the checkpoint and its controls";
  f.x_title = "check";
  std::vector<const Outcome*> models = {&r.checkpoint};
  for (const auto& c : r.controls) models.push_back(&c);
  std::set<double> thresholds;
  bool values_only = true;
  for (const Outcome* m : models)
    for (const auto& c : m->checks) {
      if (c.rule == Rule::kNone) continue;
      if (std::find(f.x_labels.begin(), f.x_labels.end(), c.name) == f.x_labels.end()) f.x_labels.push_back(c.name);
      thresholds.insert(c.threshold);
      values_only = values_only && !is_rate(c);
    }
  f.y_title = values_only ? "value" : "rate";
  for (const Outcome* m : models) {
    f.series.push_back(m->model);
    std::vector<double> row(f.x_labels.size(), kNaN);
    for (const auto& c : m->checks)
      if (c.rule != Rule::kNone) row[std::find(f.x_labels.begin(), f.x_labels.end(), c.name) - f.x_labels.begin()] = c.value;
    f.values.push_back(row);
  }
  f.reference.assign(thresholds.begin(), thresholds.end());
  return f;
}

string figure_block(const Figure& f, const string& caption) {
  return "<figure>" + svg_figure(f) + "<figcaption>" + escape_markup(caption) + "</figcaption></figure>\n";
}

string claim_section(const SystemReport& report, std::size_t i) {
  const ClaimResult& r = report.results[i];
  const string v = to_string(r.verdict), id = escape_markup(r.claim.id);
  string s = "<section class=\"claim-detail verdict-" + v + "\" id=\"claim-" + id + "\" data-claim=\"" + id + "\">\n";
  s += "<h2>" + id + " " + badge(to_string(r.verdict)) + "</h2>\n";
  s += "<p class=\"hypothesis\"><strong>Hypothesis</strong> (" + escape_markup(r.claim.kind->name) + "). " +
       escape_markup(r.claim.hypothesis) + "</p>\n";
  s += "<p class=\"explanation\"><strong>Verdict: " + v + ".</strong> " + escape_markup(r.explanation) + "</p>\n";
  s += "<p class=\"domain\"><strong>Domain:</strong> " +
       escape_markup(describe_domain(r.claim.domain, report.domain_size)) + ". <strong>Pass rule:</strong> <code>" +
       escape_markup(r.claim.pass.to_json().dump()) + "</code></p>\n";
  if (r.family) s += "<p class=\"family\"><strong>Family:</strong> " + escape_markup(family_text(*r.family)) + ".</p>\n";
  const string checks = checks_table(r);
  if (!checks.empty()) s += "<h3>Checks</h3>\n" + checks;
  s += liveness_table(r);
  if (!r.checkpoint.counterexamples.empty()) {
    s += "<h3>Counterexamples</h3>\n<ul class=\"counterexamples\">\n";
    for (const auto& c : r.checkpoint.counterexamples) s += "<li><code>" + escape_markup(c) + "</code></li>\n";
    s += "</ul>\n";
  }
  string figures;
  const Figure thresholded = checks_figure(r);
  if (!thresholded.x_labels.empty())
    figures += figure_block(thresholded, "Each thresholded check's measured value on the checkpoint and on its "
                                         "controls; dashed lines are the thresholds.");
  for (const auto& f : r.checkpoint.figures) figures += figure_block(f, "checkpoint");
  for (const auto& c : r.controls)
    for (const auto& f : c.figures) figures += figure_block(f, "control " + c.model);
  if (!figures.empty()) s += "<h3>Evidence</h3>\n<div class=\"figures\">\n" + figures + "</div>\n";
  return s + "</section>\n";
}

// Each claim file run on several checkpoints: a row per claim, a verdict
// per checkpoint (linking its report) and how many pass.
string checkpoint_tables_html(const std::vector<CheckpointTable>& tables) {
  string html;
  for (const auto& t : tables) {
    const string n = std::to_string(t.reports.size());
    html += "<h2>" + escape_markup(t.system) + " on " + n + " checkpoints</h2>\n<p><code>" +
            escape_markup(t.claims_file) + "</code></p>\n<table class=\"checkpoints\" data-system=\"" +
            escape_markup(t.system) + "\">\n<thead><tr><th>claim</th>";
    for (const SystemReport* r : t.reports) {
      html += "<th><a href=\"" + link_to(report_name(*r) + ".html") + "\" title=\"" + escape_markup(r->provenance.checkpoint) + "\">" +
              escape_markup(r->checkpoint_label) + "</a></th>";
    }
    html += "<th>passes on</th></tr></thead>\n<tbody>\n";
    for (const auto& row : t.rows) {
      const string passed = std::to_string(row.passed);
      const string scope = to_string(row.scope);
      html += "<tr class=\"claim-across\" data-claim=\"" + escape_markup(row.claim) + "\" data-scope=\"" + scope +
              "\" data-passed=\"" + passed + "\"><td>" + escape_markup(row.claim) +
              (row.scope == ClaimScope::kCheckpoint ? " <small>(scope checkpoint)</small>" : "") + "</td>";
      for (Verdict v : row.verdicts) html += "<td>" + badge(to_string(v)) + "</td>";
      html += "<td class=\"num\">" + passed + " of " + n + "</td></tr>\n";
    }
    html += "</tbody></table>\n";
  }
  return html;
}

// Each claim file run along a training run: a row per claim with the step
// from which it holds, then the loss and each claim's metric against the step.
string timelines_html(const std::vector<Timeline>& timelines) {
  string html;
  for (const auto& t : timelines) {
    const string n = std::to_string(t.reports.size());
    html += "<h2>" + escape_markup(t.system) + " over " + n + " snapshots</h2>\n<p><code>" +
            escape_markup(t.claims_file) + "</code>, steps " + std::to_string(t.reports.front()->provenance.snapshot->step) +
            " to " + std::to_string(t.reports.back()->provenance.snapshot->step) +
            "</p>\n<table class=\"timeline\" data-system=\"" + escape_markup(t.system) +
            "\">\n<thead><tr><th>claim</th><th>metric</th><th>holds from step</th><th>passes on</th></tr></thead>\n<tbody>\n";
    for (const auto& s : t.series) {
      const string formed = s.formed_at_step ? std::to_string(*s.formed_at_step) : "";
      html += "<tr class=\"claim-timeline\" data-claim=\"" + escape_markup(s.claim) + "\" data-formed-at=\"" + formed +
              "\"><td>" + escape_markup(s.claim) + "</td><td>" + escape_markup(s.metric) + "</td><td class=\"num\">" +
              (formed.empty() ? string("never for good") : formed) + "</td><td class=\"num\">" +
              std::to_string(s.passed) + " of " + n + "</td></tr>\n";
    }
    html += "</tbody></table>\n<div class=\"figures\">\n";
    for (const Figure& f : timeline_figures(t)) html += figure_block(f, f.title == "loss" ? "training and held-out loss" : f.y_title + " against the step");
    html += "</div>\n";
  }
  return html;
}

// "5 systems", or "1 system on 48 checkpoints" when a file ran on several.
string run_size(const std::vector<SystemReport>& reports) {
  std::set<string> systems;
  for (const auto& r : reports) systems.insert(r.system);
  string text = std::to_string(systems.size()) + (systems.size() == 1 ? " system" : " systems");
  if (reports.size() > systems.size()) text += " on " + std::to_string(reports.size()) + " checkpoints";
  return text;
}

}  // namespace

string svg_figure(const Figure& figure) {
  if (figure.type == "heatmap") return heatmap(figure);
  if (figure.type == "bars") return bars(figure);
  if (figure.type == "scatter") return scatter(figure);
  if (figure.type == "lines") return lines(figure);
  return no_data(figure.title, "no data: unknown figure type '" + figure.type + "'");
}

string html_report(const SystemReport& report) {
  const Summary summary = summarize(report.results);
  string body = "<header>\n<h1>circuitcheck: " + escape_markup(report_name(report)) + "</h1>\n<p class=\"summary-line\">" +
                escape_markup(summary_line(summary)) + " &middot; <a href=\"index.html\">all systems</a></p>\n</header>\n";
  body += "<h2>Provenance</h2>\n" + provenance_table(report);
  body += "<h2>Claims</h2>\n<table class=\"claims\">\n<thead><tr><th>claim</th><th>kind</th><th>verdict</th>"
          "<th>hypothesis</th><th>time</th></tr></thead>\n<tbody>\n";
  for (std::size_t i = 0; i < report.results.size(); ++i) {
    const ClaimResult& r = report.results[i];
    const string v = to_string(r.verdict), id = escape_markup(r.claim.id);
    body += "<tr class=\"claim verdict-" + v + "\" data-claim=\"" + id + "\" data-verdict=\"" + v + "\"><td><a href=\"#claim-" +
            id + "\">" + id + "</a></td><td>" + escape_markup(r.claim.kind->name) + "</td><td>" + badge(to_string(r.verdict)) +
            "</td><td>" + escape_markup(r.claim.hypothesis) + "</td><td class=\"num\">" +
            (i < report.run.claim_seconds.size() ? seconds_text(report.run.claim_seconds[i]) : "") + "</td></tr>\n";
  }
  body += "</tbody></table>\n";
  for (std::size_t i = 0; i < report.results.size(); ++i) body += claim_section(report, i);
  return page("circuitcheck: " + report_name(report), body);
}

string html_index(const std::vector<SystemReport>& reports) {
  const std::vector<Timeline> along = timelines(reports);
  std::vector<CheckpointTable> tables = checkpoint_tables(reports);  // those not drawn as a timeline
  tables.erase(std::remove_if(tables.begin(), tables.end(),
                              [&](const CheckpointTable& t) {
                                return std::any_of(along.begin(), along.end(), [&](const Timeline& l) {
                                  return l.claims_file == t.claims_file;
                                });
                              }),
               tables.end());
  string rows;
  for (const auto& r : reports) {
    const Summary s = summarize(r.results);
    const string verdict = s.passed == s.claims ? "pass" : "fail", name = escape_markup(report_name(r));
    rows += "<tr class=\"system verdict-" + verdict + "\" data-system=\"" + escape_markup(r.system) + "\"><td><a href=\"" +
            link_to(report_name(r) + ".html") + "\">" + name + "</a></td><td>" + badge(verdict) + "</td><td class=\"num\">" +
            std::to_string(s.claims) + "</td><td class=\"num\">" + std::to_string(s.passed) + "</td><td class=\"num\">" +
            std::to_string(s.failed) + "</td><td class=\"num\">" + std::to_string(s.not_falsifiable) +
            "</td><td class=\"num\">" + std::to_string(s.errors) + "</td><td><code>" +
            escape_markup(r.provenance.checkpoint) + "</code><br><span class=\"hash\">sha256 " +
            escape_markup(r.provenance.checkpoint_sha256) + "</span></td><td>" + escape_markup(r.run.date) +
            "</td><td class=\"num\">" + seconds_text(r.run.wall_seconds) + "</td></tr>\n";
  }
  const string body = "<header>\n<h1>circuitcheck run</h1>\n<p class=\"summary-line\">" +
                      escape_markup(run_size(reports) + ", " + summary_line(summarize(reports))) +
                      "</p>\n</header>\n<table class=\"systems\">\n<thead><tr><th>system</th><th>verdict</th>"
                      "<th>claims</th><th>passed</th><th>failed</th><th>not falsifiable</th><th>errors</th>"
                      "<th>checkpoint</th><th>started</th><th>time</th></tr></thead>\n<tbody>\n" +
                      rows + "</tbody></table>\n" + timelines_html(along) + checkpoint_tables_html(tables);
  return page("circuitcheck run", body);
}

}  // namespace circuitcheck
