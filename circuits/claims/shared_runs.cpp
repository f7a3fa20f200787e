#include "circuits/claims/shared_runs.h"

#include "circuits/claims/claim.h"
#include "circuits/tasks/evaluate.h"

#include <algorithm>

namespace circuitcheck {
namespace {

std::string key(const std::string& label, const Domain& domain) { return label + "|" + domain.to_json().dump(); }

RunResult plain_run(const HookedTransformer& model, const Batch& batch, const std::vector<HookPoint>& hooks) {
  RunOptions options;
  options.cache = hooks;
  const int64_t from = first_scored_position(batch.targets);
  const bool cut = std::any_of(hooks.begin(), hooks.end(),
                               [&](const HookPoint& h) { return hook_first_position(model.config, h, from) > 0; });
  options.from_position = cut ? 0 : from;
  return run(model, batch.tokens, options);
}

int64_t bytes(const Batch& batch, const RunResult& run) {
  int64_t total = run.logits.nbytes() + batch.tokens.nbytes() + batch.targets.nbytes();
  for (const auto& [hook, t] : run.cache) total += t.nbytes();
  for (const auto& [name, t] : batch.roles) total += t.nbytes();
  for (const auto& [name, t] : batch.classes) total += t.nbytes();
  return total;
}

bool covers(const std::vector<HookPoint>& planned, const std::vector<HookPoint>& wanted) {
  return std::all_of(wanted.begin(), wanted.end(), [&](const HookPoint& h) {
    return std::find(planned.begin(), planned.end(), h) != planned.end();
  });
}

}  // namespace

void visit_runs(const Task& task, const HookedTransformer& model, Scale scale, const Domain& domain,
                const std::vector<HookPoint>& hooks, const RunVisitor& fn, const std::function<bool()>& done) {
  for_each_batch(task, domain, scale, [&](const Batch& b) { fn(b, plain_run(model, b, hooks)); }, done);
}

bool reads_plain_runs(const Claim& claim, std::vector<HookPoint>* hooks) {
  const KindEntry& kind = *claim.kind;
  if (claim.domain.weights_only() || !kind.plain_hooks) return false;
  *hooks = kind.plain_hooks(claim);
  return true;
}

void SharedRuns::plan(const Claim& claim, const std::string& label) {
  std::vector<HookPoint> hooks;
  if (!reads_plain_runs(claim, &hooks)) return;
  Entry& e = entries_[key(label, claim.domain)];
  for (const auto& h : hooks)
    if (!covers(e.hooks, {h})) e.hooks.push_back(h);
  std::sort(e.hooks.begin(), e.hooks.end());
  ++e.uses;
}

void SharedRuns::visit(const Task& task, const HookedTransformer& model, const std::string& label, Scale scale,
                       const Domain& domain, const std::vector<HookPoint>& hooks, const RunVisitor& fn,
                       const std::function<bool()>& done) {
  auto it = entries_.find(key(label, domain));
  if (it == entries_.end() || !covers(it->second.hooks, hooks) || !it->second.kept) {
    visit_runs(task, model, scale, domain, hooks, [&](const Batch& b, const RunResult& r) {
      ++batches_run_;
      fn(b, r);
    }, done);
    return;
  }
  Entry& e = it->second;
  const auto stop = [&] { return done && done(); };
  for (std::size_t i = 0; i < e.runs.size(); ++i) {
    ++batches_replayed_;
    fn(e.batches[i], e.runs[i]);
    if (stop()) return;
  }
  if (e.complete) return;
  // The batches after the kept ones: run, then kept once fn returned (a throw keeps the prefix valid),
  // unless no later claim will replay them.
  std::size_t index = 0;
  const std::size_t replayed = e.runs.size();
  const bool keep = e.uses > 1;
  bool stopped = false;
  for_each_batch(task, domain, scale, [&](const Batch& b) {
    if (index++ < replayed) return;
    RunResult r = plain_run(model, b, e.hooks);
    ++batches_run_;
    fn(b, r);
    stopped = stop();
    if (!keep || !e.kept) return;
    e.bytes += bytes(b, r);
    e.kept = e.bytes <= max_bytes_;
    if (!e.kept) {
      e.batches.clear();
      e.runs.clear();
      return;
    }
    e.batches.push_back(b);
    e.runs.push_back(std::move(r));
    peak_kept_bytes_ = std::max(peak_kept_bytes_, kept_bytes());
  }, [&] { return stopped; });
  e.complete = keep && e.kept && !stopped;
}

int64_t SharedRuns::kept_bytes() const {
  int64_t total = 0;
  for (const auto& [key, e] : entries_) total += e.kept ? e.bytes : 0;
  return total;
}

void SharedRuns::release(const Claim& claim, const std::string& label) {
  std::vector<HookPoint> hooks;
  if (!reads_plain_runs(claim, &hooks)) return;
  auto it = entries_.find(key(label, claim.domain));
  if (it != entries_.end() && --it->second.uses <= 0) entries_.erase(it);
}

}  // namespace circuitcheck
