#include "circuits/claims/shared_runs.h"

#include "circuits/claims/claim.h"
#include "circuits/tasks/evaluate.h"

#include <algorithm>

namespace circuitcheck {
namespace {

std::string key(const std::string& label, const Domain& domain) { return label + "|" + domain.to_json().dump(); }

RunResult plain_run(const HookedTransformer& model, const Batch& batch, const PlainReads& reads) {
  RunOptions options;
  options.cache = reads.hooks;
  options.logits = reads.logits;
  int64_t from = first_scored_position(batch.targets);
  for (const std::string& name : reads.roles) {
    const at::Tensor role = batch.roles.at(name);
    const at::Tensor present = role.masked_select(role >= 0);
    if (present.numel() > 0) from = std::min(from, present.min().item<int64_t>());
  }
  const bool cut = reads.roles.empty() && std::any_of(reads.hooks.begin(), reads.hooks.end(), [&](const HookPoint& h) {
    return hook_first_position(model.config, h, from) > 0;
  });
  options.from_position = cut ? 0 : from;
  return run(model, batch.tokens, options);
}

int64_t bytes(const Batch& batch, const RunResult& run) {
  int64_t total = (run.logits.defined() ? run.logits.nbytes() : 0) + batch.tokens.nbytes() + batch.targets.nbytes();
  for (const auto& [hook, t] : run.cache) total += t.nbytes();
  for (const auto& [name, t] : batch.roles) total += t.nbytes();
  for (const auto& [name, t] : batch.classes) total += t.nbytes();
  return total;
}

template <typename T>
bool contains(const std::vector<T>& all, const T& x) {
  return std::find(all.begin(), all.end(), x) != all.end();
}

template <typename T>
void add_sorted(std::vector<T>& all, const T& x) {
  if (!contains(all, x)) all.insert(std::upper_bound(all.begin(), all.end(), x), x);
}

bool covers(const PlainReads& planned, const PlainReads& wanted) {
  const auto planned_hook = [&](const HookPoint& h) { return contains(planned.hooks, h); };
  const auto planned_role = [&](const std::string& r) { return contains(planned.roles, r); };
  const bool positions = wanted.hooks.empty() || planned.roles.empty() ||
                         (!wanted.roles.empty() && std::all_of(wanted.roles.begin(), wanted.roles.end(), planned_role));
  return (planned.logits || !wanted.logits) && positions &&
         std::all_of(wanted.hooks.begin(), wanted.hooks.end(), planned_hook);
}

}  // namespace

void visit_runs(const Task& task, const HookedTransformer& model, Scale scale, const Domain& domain,
                const PlainReads& reads, const RunVisitor& fn, const std::function<bool()>& done) {
  for_each_batch(task, domain, scale, [&](const Batch& b) { fn(b, plain_run(model, b, reads)); }, done);
}

bool reads_plain_runs(const Claim& claim, PlainReads* reads) {
  const KindEntry& kind = *claim.kind;
  if (claim.domain.weights_only() || !kind.plain_reads) return false;
  *reads = kind.plain_reads(claim);
  return true;
}

PlainReads merged(const PlainReads& a, const PlainReads& b) {
  PlainReads out{a.hooks, a.logits || b.logits, a.roles};
  for (const auto& h : b.hooks) add_sorted(out.hooks, h);
  for (const auto& r : b.roles) add_sorted(out.roles, r);
  const auto every_position = [](const PlainReads& r) { return !r.hooks.empty() && r.roles.empty(); };
  if (every_position(a) || every_position(b)) out.roles.clear();
  return out;
}

void SharedRuns::plan(const Claim& claim, const std::string& label) {
  PlainReads reads;
  if (!reads_plain_runs(claim, &reads)) return;
  Entry& e = entries_[key(label, claim.domain)];
  e.reads = merged(e.reads, reads);
  ++e.uses;
}

void SharedRuns::visit(const Task& task, const HookedTransformer& model, const std::string& label, Scale scale,
                       const Domain& domain, const PlainReads& reads, const RunVisitor& fn,
                       const std::function<bool()>& done) {
  auto it = entries_.find(key(label, domain));
  if (it == entries_.end() || !covers(it->second.reads, reads) || !it->second.kept) {
    visit_runs(task, model, scale, domain, reads, [&](const Batch& b, const RunResult& r) {
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
    RunResult r = plain_run(model, b, e.reads);
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
  PlainReads reads;
  if (!reads_plain_runs(claim, &reads)) return;
  auto it = entries_.find(key(label, claim.domain));
  if (it != entries_.end() && --it->second.uses <= 0) entries_.erase(it);
}

}  // namespace circuitcheck
