// The interface every claim kind implements (one file pair per kind in this
// folder, registered in registry.cpp; claims/README.md "Adding a claim kind"):
//
//   parse        the kind's own JSON fields (and "pass", and "domain" where
//                it is the kind's own) into claim.spec, the kind's typed spec,
//                and claim.pass; errors are InputError "<file>: <JSON
//                pointer>: <what>" through At (claim_fields.h);
//   plain_hooks  the plain (un-intervened) activations it reads on its
//                domain, so that claims on one domain share a forward pass
//                (shared_runs.h); kinds that run their own passes have none;
//   run          its checks, figures and liveness on one model, into an
//                Outcome (check.h).
#pragma once

#include "circuits/claims/check.h"
#include "circuits/claims/claim_fields.h"
#include "circuits/claims/shared_runs.h"
#include "circuits/model/config.h"
#include "circuits/model/hooks.h"
#include "circuits/model/model.h"
#include "circuits/tasks/task.h"

#include <nlohmann/json.hpp>

#include <functional>
#include <set>
#include <string>
#include <vector>

namespace circuitcheck {

struct Claim;

// What a kind's parser checks a claim against.
struct ParseContext {
  const Task& task;
  const Config& config;                      // the model's: layers, heads, hooks, positions
  const Batch& sample;                       // a small batch: the task's roles and classes and their shapes
  const std::set<std::string>& class_names;  // the classes accuracy is broken down by (accuracy_classes)
  std::string root;                          // the folder the file's relative paths resolve against
};

// What a kind runs on.
struct RunContext {
  const Task& task;
  const HookedTransformer& model;
  Scale scale;             // of the model's config (scale_for)
  const VisitRuns& visit;  // plain runs over a domain (for the kinds with plain_hooks)
  bool control;            // a control, which may stop once its deciding checks are settled (verify.h)
  // On a control: the names of the checks that decided the checkpoint's pass;
  // it may stop once each of them is settled on it. nullptr: those it claims.
  const std::vector<std::string>* deciding = nullptr;
};

}  // namespace circuitcheck
