// Forward passes shared by the claims of a verify run: claims that read the
// same activations of the same domain on the same model share one forward
// pass per batch.
//
// Before the claims run, plan() registers each claim on each model it will
// run on (by label: "checkpoint" or a control's name) with what its kind reads
// of the plain (un-intervened) runs on its domain (KindEntry::plain_reads,
// kinds/kind.h). The first claim to visit a planned (model, domain) runs each
// batch once with the union of the planned hooks cached, and the logits when
// a planned claim reads them, and keeps the batches and runs; the others replay them; release() by the last
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
// A run whose readers read no logits has none and stops after its last
// cached hook (RunOptions::logits). When every planned reader of hooks reads
// them only at some roles (PlainReads::roles), from is the earliest of those
// roles' positions or the first scored position.
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

// What a reader reads of a plain run: activations, and whether the logits.
// `roles`, when not empty, says that it reads `hooks` only at the positions
// of these roles of each batch (-1: absent): the run's last layer then starts
// at the earliest of them, or at the first scored position if that is
// earlier, and the last layer's hooks cover [from, pos) like the logits
// (RunOptions::from_position), so the reader indexes them from the end
// (source_rows). Empty: every position, the last layer's hooks too.
struct PlainReads {
  std::vector<HookPoint> hooks;
  bool logits = true;
  std::vector<std::string> roles;
};

// What readers of `a` and of `b` read together: the hooks of both (sorted),
// the logits when either reads them, and the roles of both (sorted), or
// every position (no roles) when either reads its hooks at every position.
PlainReads merged(const PlainReads& a, const PlainReads& b);

// The plain runs of a model over a domain with `reads`, shared with the
// other claims of the run or its own (RunContext::visit, kinds/kind.h); stops
// early after a batch for which the last argument (when set) returns true.
using VisitRuns =
    std::function<void(const Domain&, const PlainReads&, const RunVisitor&, const std::function<bool()>&)>;

// Runs `model` on each batch of `domain` (for_each_batch) with `reads.hooks`
// cached (and the logits if `reads.logits`) and calls fn, stopping after a
// batch for which `done` (when set) is true; nothing is kept.
void visit_runs(const Task& task, const HookedTransformer& model, Scale scale, const Domain& domain,
                const PlainReads& reads, const RunVisitor& fn, const std::function<bool()>& done = nullptr);

// What `claim` reads of the plain runs on its domain (KindEntry::plain_reads),
// and whether it reads them; other kinds run their own passes.
bool reads_plain_runs(const Claim& claim, PlainReads* reads);

class SharedRuns {
 public:
  // Runs whose kept tensors would exceed `max_bytes` per (model, domain) are not kept.
  explicit SharedRuns(int64_t max_bytes = kSharedRunBytes) : max_bytes_(max_bytes) {}

  // Registers that `claim` will run on the model labelled `label`.
  void plan(const Claim& claim, const std::string& label);

  // visit_runs(), replayed from the kept runs when (label, domain) was planned
  // with every hook in `reads` and, if it reads them, the logits (computed and
  // kept as visits reach them).
  void visit(const Task& task, const HookedTransformer& model, const std::string& label, Scale scale,
             const Domain& domain, const PlainReads& reads, const RunVisitor& fn,
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
    PlainReads reads{{}, false};   // the planned readers' reads, merged()
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
