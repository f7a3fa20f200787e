// The JUnit XML report of a verify run, for CI systems:
//
//   <testsuites name="circuitcheck" tests= failures= errors= time=>
//     <testsuite name="<system>" tests= failures= errors= skipped="0" time= timestamp=>
//       <properties> claims file and checkpoint (path, SHA-256), device, versions </properties>
//       <testcase classname="<system>" name="<claim id>" time="<seconds>">
//         <failure type="fail|not_falsifiable|inconclusive" message="...">explanation</failure>
//         (or <error type="error">)
//       </testcase> ...
//
// A failure's message names what decided it, with the domain: each failing
// check's measured value, the bound compared and the threshold ("accuracy
// after = 50% (10000/20000), wilson_upper bound 50.69% vs drop_to_at_most
// 10%"), each intervention that was not live, or (not_falsifiable,
// inconclusive) each control that passes too or fails no check with
// certainty, and each deciding check that no control fails with certainty;
// then "; domain sampled, n = 20000, seed 6".
// Errors carry the claim's error message (verify.h). All text is escaped (escape_markup).
#pragma once

#include "circuits/reports/report.h"

#include <string>
#include <vector>

namespace circuitcheck {

std::string junit_xml(const std::vector<SystemReport>& reports);

}  // namespace circuitcheck
