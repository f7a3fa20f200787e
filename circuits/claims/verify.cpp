#include "circuits/claims/verify.h"

#include "circuits/claims/controls.h"
#include "circuits/claims/placebo.h"
#include "circuits/formats/error.h"
#include "circuits/formats/json_fields.h"

#include <c10/core/InferenceMode.h>

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

std::optional<Verdict> parse_verdict(const std::string& name) {
  for (Verdict v : {Verdict::kPass, Verdict::kFail, Verdict::kNotFalsifiable, Verdict::kInconclusive, Verdict::kError})
    if (name == to_string(v)) return v;
  return std::nullopt;
}

json Falsification::to_json() const {
  return {{"check", check}, {"fails_on", fails_on}, {"inconclusive_on", inconclusive_on}};
}

json ClaimResult::to_json() const {
  const json on_checkpoint = checkpoint.to_json();
  json j = {{"id", claim.id},
            {"kind", to_string(claim.kind)},
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
                  SharedRuns* shared) {
  c10::InferenceMode guard;
  const Scale scale = scale_for(task, model.config);
  check_fits(task, scale, model.config, "run_claim: " + claim.id + " on " + label);
  const VisitRuns visit = [&](const Domain& domain, const std::vector<HookPoint>& hooks, const RunVisitor& fn,
                              const std::function<bool()>& done) {
    if (shared)
      shared->visit(task, model, label, scale, domain, hooks, fn, done);
    else
      visit_runs(task, model, scale, domain, hooks, fn, done);
  };
  Outcome out;
  out.model = label;
  kind_entry(claim.kind).run(RunContext{task, model, scale, visit, label != "checkpoint"}, claim, out);
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

void plan_claims(const std::vector<Claim>& claims, SharedRuns& shared) {
  for (const auto& claim : claims) {
    shared.plan(claim, "checkpoint");
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

ClaimResult verify_claim(const Task& task, const Claim& claim, const HookedTransformer& model, ControlCache& controls,
                         SharedRuns* shared) {
  ClaimResult result;
  result.claim = claim;
  // Every planned model is released, whether or not it ran.
  const auto release_all = [&] {
    if (!shared) return;
    shared->release(claim, "checkpoint");
    for (const auto& name : claim.controls)
      if (!runs_on_checkpoint(name)) shared->release(claim, name);
  };
  try {
    result.checkpoint = run_claim(task, claim, model, "checkpoint", shared);
    // A claim that fails on the checkpoint fails whatever its controls say (judge).
    for (const auto& name : result.checkpoint.pass ? claim.controls : std::vector<std::string>{}) {
      if (!runs_on_checkpoint(name)) {
        const bool keep = controls.kept && !depends_on_checkpoint(name);
        const auto it = keep ? controls.kept->find(claim.id + "/" + name) : std::map<std::string, Outcome>::iterator{};
        if (keep && it != controls.kept->end()) {
          result.controls.push_back(it->second);
          continue;
        }
        result.controls.push_back(run_claim(task, claim, controls.get(name), name, shared));
        if (keep) controls.kept->emplace(claim.id + "/" + name, result.controls.back());
        continue;
      }
      // The checkpoint itself, with the placebo's sites: its plain runs are the checkpoint's.
      for (const PlaceboRun& run : claim.placebos) {
        if (run.control != name) continue;
        Claim placebo = claim;
        placebo.spec = run.spec;
        result.controls.push_back(run_claim(task, placebo, model, "checkpoint", shared));
        result.controls.back().model = run.label;
      }
    }
  } catch (const InputError& e) {
    release_all();
    result.verdict = Verdict::kError;
    result.explanation = e.what();
    return result;
  } catch (const std::exception& e) {  // InternalError, c10::Error: this claim's, not the run's
    release_all();
    result.verdict = Verdict::kError;
    result.explanation = "internal error: " + printable(e.what());
    return result;
  }
  release_all();
  judge(result);
  return result;
}

}  // namespace circuitcheck
