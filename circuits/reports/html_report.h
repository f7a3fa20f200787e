// The HTML report of a verify run: one self-contained page per system (inline
// CSS and SVG, no JavaScript, nothing fetched) and an index of the run's
// systems. Every text from a claim file, a task or a checkpoint is escaped
// (escape_markup, report.h).
//
// A system's page holds its provenance; a summary table with one row per
// claim,
//   <tr class="claim verdict-<verdict>" data-claim="<id>" data-verdict="<verdict>">
// (verdict: pass, fail, not_falsifiable, inconclusive, error) linking to the
// claim's section <section class="claim-detail verdict-<verdict>" id="claim-<id>">,
// which shows the hypothesis, the verdict's explanation, the domain and pass
// rule, the checks (value, basis, bound, threshold) on the checkpoint with
// each control's next to them (its value, the bound on the other side and
// whether it fails the check with certainty: fails, inconclusive, passes;
// on_control in check.h), intervention liveness, counterexamples as
// token strings, and the evidence figures as inline SVG: first a bar chart
// of the thresholded checks on the checkpoint and its controls with the
// thresholds as reference lines, then the checkpoint's figures and the controls'.
#pragma once

#include "circuits/claims/check.h"
#include "circuits/reports/report.h"

#include <string>
#include <vector>

namespace circuitcheck {

// The page "<system>.html" of one system.
std::string html_report(const SystemReport& report);

// "index.html": one row per report of the run,
//   <tr class="system verdict-<pass|fail>" data-system="<system>">,
// linking "<report_name>.html", with its verdict counts and checkpoint; then,
// for each claim file run on several checkpoints (checkpoint_table.h),
//   <table class="checkpoints" data-system="<system>"> with a row
//   <tr class="claim-across" data-claim="<id>" data-scope="<recipe|checkpoint>"
//   data-passed="<k>"> per claim:
// its verdict on each checkpoint and "k of n". A claim file run on the
// snapshots of a training run (timeline.h) gets a timeline instead:
//   <table class="timeline" data-system="<system>"> with a row
//   <tr class="claim-timeline" data-claim="<id>" data-formed-at="<step or empty>">
// per claim, then the loss and each claim's metric against the step as
// "lines" figures.
std::string html_index(const std::vector<SystemReport>& reports);

// One figure as an <svg> element, drawn by type (claims/figure.h's Figure):
//   "heatmap": a cell per values[row][col], y_labels down, x_labels across,
//              and a colour scale (white to blue from the minimum to the
//              maximum; blue-white-red, symmetric about 0, when values have
//              both signs);
//   "bars":    grouped bars, one group per x_labels category and one colour
//              per series (values[series][category]), with a legend, a
//              numeric y axis that includes 0, and each `reference` value as
//              a dashed horizontal line;
//   "scatter": a point per values[i] = {x, y}, coloured by classes[i] (an
//              index into series, the legend), with numeric axes;
//   "lines":   a line and points per series over the numeric x, each
//              `reference` a dashed horizontal line, each `x_reference` a
//              dashed upright one; with log_y, a y axis in powers of ten.
// Axis titles are x_title and y_title; long tick labels are shortened (the
// full text is the tooltip) and thinned out when crowded; every cell, bar and
// point carries its value as a tooltip (<title>). Non-finite values are drawn
// grey (heatmap) or left out; ragged rows, missing labels and class indices
// outside the legend (drawn grey) are tolerated; a figure with nothing to
// draw says "no data". Any other type draws a "no data" frame naming it.
std::string svg_figure(const Figure& figure);

}  // namespace circuitcheck
