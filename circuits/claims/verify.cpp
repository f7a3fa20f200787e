#include "circuits/claims/verify.h"

#include "circuits/claims/controls.h"
#include "circuits/claims/placebo.h"
#include "circuits/formats/error.h"
#include "circuits/formats/json_fields.h"
#include "circuits/model/memory.h"

#include <c10/core/InferenceMode.h>

#include <algorithm>
#include <chrono>
#include <functional>

namespace circuitcheck {

using nlohmann::json;

const char* to_string(Verdict verdict) {
  switch (verdict) {
    case Verdict::kPass: return "pass";
    case Verdict::kFail: return "fail";
    case Verdict::kNotFalsifiable: return "not_falsifiable";
    case Verdict::kInconclusive: return "inconclusive";
    case Verdict::kError: return "error";
  }
  return "error";
}

std::ostream& operator<<(std::ostream& os, Verdict verdict) { return os << to_string(verdict); }

Verdict verdict_at(const json& v, const At& at) {
  return enum_at(v, at, "verdict",
                 {Verdict::kPass, Verdict::kFail, Verdict::kNotFalsifiable, Verdict::kInconclusive, Verdict::kError});
}

json Falsification::to_json() const {
  return {{"check", check}, {"fails_on", fails_on}, {"inconclusive_on", inconclusive_on}};
}

json ClaimResult::to_json() const {
  const json on_checkpoint = checkpoint.to_json();
  json j = {{"id", claim.id},
            {"kind", claim.kind->name},
            {"hypothesis", claim.hypothesis},
            {"scope", to_string(claim.scope)},
            {"verdict", to_string(verdict)},
            {"domain", claim.domain.to_json()},
            {"thresholds", claim.pass.to_json()},
            {"values", json::object()},
            {"checks", on_checkpoint["checks"]},
            {"liveness", on_checkpoint["liveness"]},
            {"figures", on_checkpoint["figures"]},
            {"controls", json::array()},
            {"falsification", json::array()},
            {"explanation", explanation}};
  for (const auto& f : falsification) j["falsification"].push_back(f.to_json());
  if (on_checkpoint.contains("counterexamples")) j["counterexamples"] = on_checkpoint["counterexamples"];
  for (const auto& c : checkpoint.checks) j["values"][c.name] = c.value;
  for (const auto& c : controls) j["controls"].push_back(c.to_json());
  if (family) j["family"] = family->to_json();
  return j;
}

json FamilyOutcome::to_json() const {
  json j = {{"alpha", alpha}, {"method", "holm"}, {"tested", tested}, {"pass", pass}, {"checks", json::array()}};
  for (const FamilyCheck& c : checks)
    j["checks"].push_back({{"check", c.check}, {"p_value", c.p_value}, {"level", c.level}, {"rejected", c.rejected}});
  return j;
}

const HookedTransformer& ControlCache::get(const std::string& name) {
  auto it = built.find(name);
  if (it == built.end()) it = built.emplace(name, control_model(*model, name)).first;
  return it->second;
}

Outcome run_claim(const Task& task, const Claim& claim, const HookedTransformer& model, const std::string& label,
                  SharedRuns* shared, const Outcome* checkpoint) {
  c10::InferenceMode guard;
  const Scale scale = scale_for(task, model.config);
  check_fits(task, scale, model.config, "run_claim: " + claim.id + " on " + label);
  const VisitRuns visit = [&](const Domain& domain, const PlainReads& reads, const RunVisitor& fn,
                              const std::function<bool()>& done) {
    if (shared)
      shared->visit(task, model, label, scale, domain, reads, fn, done);
    else
      visit_runs(task, model, scale, domain, reads, fn, done);
  };
  Outcome out;
  out.model = label;
  std::vector<std::string> deciding;
  for (const Check& c : checkpoint ? checkpoint->checks : std::vector<Check>{})
    if (c.rule != Rule::kNone) deciding.push_back(c.name);
  claim.kind->run(
      RunContext{task, model, scale, visit, label != "checkpoint" || checkpoint, checkpoint ? &deciding : nullptr}, claim,
      out);
  out.pass = true;
  for (const auto& c : out.checks) {
    out.pass = out.pass && c.pass;
    out.explanation += (out.explanation.empty() ? "" : "; ") + c.explanation;
  }
  for (const auto& l : out.liveness) {
    if (l.live()) continue;
    out.pass = false;
    out.explanation += "; not live: " + l.describe();
  }
  if (!out.stopped.empty()) out.explanation += "; " + out.stopped;
  return out;
}

namespace {

// How many times `claim` runs on the checkpoint: once, and once per placebo
// run (placebo.h), whose plain runs are the checkpoint's.
std::size_t checkpoint_runs(const Claim& claim) { return 1 + claim.placebos.size(); }

}  // namespace

void plan_claims(const std::vector<Claim>& claims, SharedRuns& shared) {
  for (const auto& claim : claims) {
    for (std::size_t i = 0; i < checkpoint_runs(claim); ++i) shared.plan(claim, "checkpoint");
    for (const auto& name : claim.controls)
      if (!runs_on_checkpoint(name)) shared.plan(claim, name);
  }
}

void judge(ClaimResult& r) {
  r.explanation = r.checkpoint.explanation;
  if (!r.checkpoint.pass) {
    r.verdict = Verdict::kFail;
    return;
  }
  bool passes_on_control = false, undecided_control = false;
  for (const auto& c : r.controls) {
    if (c.pass) {
      passes_on_control = true;
      r.explanation += "; but it also passes on control " + c.model + " (" + c.explanation + "): not falsifiable";
    } else if (!fails_with_certainty(c)) {
      undecided_control = true;
      r.explanation += "; control " + c.model + " is inconclusive: no check fails on it with certainty (" +
                       c.explanation + ")";
    } else {
      r.explanation += "; control " + c.model + " fails as it must (" + c.explanation + ")";
    }
  }
  bool untested_check = false, undecided_check = false;
  for (const Check& k : r.checkpoint.checks) {
    if (k.rule == Rule::kNone) continue;
    Falsification f{k.name, {}, {}};
    for (const auto& c : r.controls)
      for (const Check& ck : c.checks) {
        if (ck.name != k.name) continue;
        const ControlCheck o = on_control(ck);
        if (o == ControlCheck::kFails) f.fails_on.push_back(c.model);
        if (o == ControlCheck::kInconclusive) f.inconclusive_on.push_back(c.model);
      }
    if (f.fails_on.empty() && f.inconclusive_on.empty()) {
      untested_check = true;
      r.explanation += "; no control fails check " + quote(k.name) + ": the controls do not test it";
    } else if (f.fails_on.empty()) {
      undecided_check = true;
      r.explanation += "; no control fails check " + quote(k.name) + " with certainty (inconclusive on " +
                       joined(f.inconclusive_on) + ")";
    }
    r.falsification.push_back(std::move(f));
  }
  r.verdict = passes_on_control || untested_check        ? Verdict::kNotFalsifiable
              : undecided_control || undecided_check     ? Verdict::kInconclusive
                                                         : Verdict::kPass;
}

namespace {

// Runs `step` of `result`'s claim; an exception makes its verdict "error"
// (this claim's, not the run's) and returns false.
bool guarded(ClaimResult& result, const std::function<void()>& step) {
  try {
    step();
    return true;
  } catch (const InputError& e) {
    result.verdict = Verdict::kError;
    result.explanation = e.what();
  } catch (const std::exception& e) {  // InternalError, c10::Error
    result.verdict = Verdict::kError;
    result.explanation = "internal error: " + printable(e.what());
  }
  return false;
}

// The claim's outcomes on control `name`, one that runs on the checkpoint
// itself with a placebo's sites (its plain runs are the checkpoint's), as
// controls of its outcome there (`checkpoint`).
std::vector<Outcome> run_placebos(const Task& task, const Claim& claim, const HookedTransformer& model,
                                  const std::string& name, const Outcome& checkpoint, SharedRuns* shared) {
  std::vector<Outcome> out;
  for (const PlaceboRun& run : claim.placebos) {
    if (run.control != name) continue;
    release_free_memory();  // what the runs before it freed
    Claim placebo = claim;
    placebo.spec = run.spec;
    out.push_back(run_claim(task, placebo, model, "checkpoint", shared, &checkpoint));
    out.back().model = run.label;
  }
  return out;
}

// The claim's outcome on control `name`, a model of its own: kept from an
// earlier checkpoint when it does not depend on the checkpoint and that
// checkpoint's pass was decided by the same checks, else run.
Outcome run_control(const Task& task, const Claim& claim, const Outcome& checkpoint, const std::string& name,
                    ControlCache& controls, SharedRuns* shared) {
  const bool keep = controls.kept && !depends_on_checkpoint(name);
  std::string key = claim.id + "/" + name;  // and the checks it may stop on (run_claim)
  for (const Check& c : checkpoint.checks)
    if (c.rule != Rule::kNone) key += "|" + c.name;
  if (keep) {
    const auto it = controls.kept->find(key);
    if (it != controls.kept->end()) return it->second;
  }
  Outcome out = run_claim(task, claim, controls.get(name), name, shared, &checkpoint);
  if (keep) controls.kept->emplace(key, out);
  return out;
}

// Its outcomes on each control in claim.controls order, from those by name.
void gather_controls(std::map<std::string, std::vector<Outcome>>& by_name, ClaimResult& result) {
  for (const auto& name : result.claim.controls)
    for (Outcome& o : by_name[name]) result.controls.push_back(std::move(o));
}

}  // namespace

ClaimResult verify_claim(const Task& task, const Claim& claim, const HookedTransformer& model, ControlCache& controls,
                         SharedRuns* shared) {
  SharedRuns own;
  if (!shared) plan_claims({claim}, own);
  return verify_claims(task, {claim}, model, controls, shared ? *shared : own).front();
}

std::vector<ClaimResult> verify_claims(const Task& task, const std::vector<Claim>& claims,
                                       const HookedTransformer& model, ControlCache& controls, SharedRuns& shared,
                                       const ClaimDone& done) {
  const std::size_t n = claims.size();
  std::vector<ClaimResult> results(n);
  std::vector<std::map<std::string, std::vector<Outcome>>> by_name(n);
  std::vector<bool> open(n), settled(n);  // open: passed on the checkpoint, its controls still run
  std::vector<double> seconds(n, 0.0);
  std::size_t reported = 0;
  const auto settle = [&](std::size_t i, bool ran) {
    if (ran) {
      gather_controls(by_name[i], results[i]);
      judge(results[i]);
    }
    settled[i] = true;
    for (; reported < n && settled[reported]; ++reported)
      if (done) done(reported, results[reported], seconds[reported]);
  };
  const auto timed = [&](std::size_t i, const std::function<void()>& step) {
    const auto started = std::chrono::steady_clock::now();
    const bool ran = guarded(results[i], step);
    release_free_memory();  // see verify_claims in verify.h
    seconds[i] += std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    return ran;
  };
  // Every claim on the checkpoint, with the controls that run on it (placebos).
  std::vector<std::string> labels;  // the other controls, in the order the claims name them
  for (std::size_t i = 0; i < n; ++i) {
    const Claim& claim = claims[i];
    results[i].claim = claim;
    const bool ran = timed(i, [&] {
      results[i].checkpoint = run_claim(task, claim, model, "checkpoint", &shared);
      for (const auto& name : results[i].checkpoint.pass ? claim.controls : std::vector<std::string>{})
        if (runs_on_checkpoint(name))
          by_name[i][name] = run_placebos(task, claim, model, name, results[i].checkpoint, &shared);
    });
    for (std::size_t k = 0; k < checkpoint_runs(claim); ++k) shared.release(claim, "checkpoint");
    for (const auto& name : claim.controls)
      if (!runs_on_checkpoint(name) && std::find(labels.begin(), labels.end(), name) == labels.end())
        labels.push_back(name);
    open[i] = ran && results[i].checkpoint.pass;
    if (!open[i]) settle(i, ran);
  }
  // Then each control model in turn, so that the shared runs of one model at a time are kept.
  for (const auto& name : labels)
    for (std::size_t i = 0; i < n; ++i) {
      const std::vector<std::string>& names = claims[i].controls;
      if (std::find(names.begin(), names.end(), name) == names.end()) continue;
      if (open[i] && !timed(i, [&] {
            by_name[i][name] = {run_control(task, claims[i], results[i].checkpoint, name, controls, &shared)};
          })) {
        open[i] = false;
        settle(i, false);
      }
      shared.release(claims[i], name);
    }
  for (std::size_t i = 0; i < n; ++i)
    if (open[i]) settle(i, true);
  return results;
}

}  // namespace circuitcheck
