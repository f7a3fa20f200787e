// Forward passes shared by the claims of a verify run: claims that read the
// same activations of the same domain on the same model share one forward
// pass per batch.
//
// Before the claims run, plan() registers each claim on each model it will
// run on (by label: "checkpoint" or a control's name) with the plain
// (un-intervened) activations its kind reads on its domain
// (KindEntry::plain_hooks, kinds/kind.h). The first claim to visit a planned (model,
// domain) runs each batch once with the union of the planned hooks cached and
// keeps the batches and runs; the others replay them; release() by the last
// planned claim frees them. A visit may stop early (`done`, e.g. a control
// that can no longer pass): the batches it ran stay kept, and a later visit
// replays them and runs the rest. A (model, domain) whose kept runs would exceed
// kSharedRunBytes is not kept: each claim then runs it itself, so memory stays
// bounded. Nor are the runs of a visit by the last claim planned on its
// (model, domain): no one would replay them, so a lone claim streams its
// domain, and its memory does not grow with its sample (e.g. 1e8 examples). Replayed runs are the very tensors of the first run, so a claim's
// values do not depend on the order the claims run in.
//
// Logits of a visited run cover [from, pos) (RunResult::logits, tally_batch):
// from is the batch's first scored position, or 0 when a cached hook would
// otherwise not cover the earlier positions (hook_first_position in model.h:
// most hooks of the last layer; the last layer then runs at every position).
#pragma once

#include "circuits/claims/check.h"
#include "circuits/model/hooks.h"
#include "circuits/model/model.h"
#include "circuits/tasks/task.h"

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace circuitcheck {

struct Claim;

// Bytes of kept runs (logits and cached activations) per (model, domain), at most.
constexpr int64_t kSharedRunBytes = int64_t{512} << 20;

using RunVisitor = std::function<void(const Batch& batch, const RunResult& run)>;

// The plain runs of a model over a domain with hooks cached, shared with the
// other claims of the run or its own (RunContext::visit, kinds/kind.h); stops
// early after a batch for which the last argument (when set) returns true.
using VisitRuns =
    std::function<void(const Domain&, const std::vector<HookPoint>&, const RunVisitor&, const std::function<bool()>&)>;

// Runs `model` on each batch of `domain` (for_each_batch) with `hooks` cached
// and calls fn, stopping after a batch for which `done` (when set) is true;
// nothing is kept.
void visit_runs(const Task& task, const HookedTransformer& model, Scale scale, const Domain& domain,
                const std::vector<HookPoint>& hooks, const RunVisitor& fn,
                const std::function<bool()>& done = nullptr);

// The plain activations `claim` reads on its domain (KindEntry::plain_hooks),
// and whether it reads any; other kinds run their own passes.
bool reads_plain_runs(const Claim& claim, std::vector<HookPoint>* hooks);

class SharedRuns {
 public:
  // Runs whose kept tensors would exceed `max_bytes` per (model, domain) are not kept.
  explicit SharedRuns(int64_t max_bytes = kSharedRunBytes) : max_bytes_(max_bytes) {}

  // Registers that `claim` will run on the model labelled `label`.
  void plan(const Claim& claim, const std::string& label);

  // visit_runs(), replayed from the kept runs when (label, domain) was planned
  // with every hook in `hooks` (computed and kept as visits reach them).
  void visit(const Task& task, const HookedTransformer& model, const std::string& label, Scale scale,
             const Domain& domain, const std::vector<HookPoint>& hooks, const RunVisitor& fn,
             const std::function<bool()>& done = nullptr);

  // `claim` is done on `label`: frees the runs no planned claim still needs.
  void release(const Claim& claim, const std::string& label);

  // Bytes of the runs kept now, over every (model, domain), and the most kept at once so far.
  int64_t kept_bytes() const;
  int64_t peak_kept_bytes() const { return peak_kept_bytes_; }
  // Forward passes run by visit() so far, and those replayed instead (batches).
  int64_t batches_run() const { return batches_run_; }
  int64_t batches_replayed() const { return batches_replayed_; }

 private:
  struct Entry {
    std::vector<HookPoint> hooks;  // the planned union, sorted
    int uses = 0;                  // planned claims not yet released
    bool complete = false;         // a visit ran the whole domain
    bool kept = true;              // false once the runs outgrew max_bytes_ (then none are kept)
    int64_t bytes = 0;
    std::vector<Batch> batches;    // the first batches of the domain, in order, and their runs
    std::vector<RunResult> runs;
  };
  int64_t max_bytes_;
  std::map<std::string, Entry> entries_;  // by key(label, domain)
  int64_t batches_run_ = 0;
  int64_t batches_replayed_ = 0;
  int64_t peak_kept_bytes_ = 0;
};

}  // namespace circuitcheck
