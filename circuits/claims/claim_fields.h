// Typed reads of claim-file fields. Every problem is one InputError
// "<file>: <JSON pointer>: <what>", e.g.
// "claims/array_index.json: /claims/3/head: head 2 out of range, the model has 1 head".
// Each claim kind's parser (claim.cpp, kinds/*_claim.cpp) reads its fields
// with these, so all kinds word their errors alike.
#pragma once

#include "circuits/claims/check.h"
#include "circuits/model/config.h"
#include "circuits/formats/json_fields.h"
#include "circuits/model/hooks.h"
#include "circuits/tasks/task.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <limits>
#include <set>
#include <string>
#include <vector>

namespace circuitcheck {

// A layer in [0, n_layers) / a head in [0, n_heads) of `config`.
int layer_at(const nlohmann::json& v, const At& at, const Config& config);
int head_at(const nlohmann::json& v, const At& at, const Config& config);
// A site's non-empty list of heads of `config` / of positions in [0, n_ctx).
std::vector<int64_t> heads_at(const nlohmann::json& v, const At& at, const Config& config);
std::vector<int64_t> positions_at(const nlohmann::json& v, const At& at, const Config& config);
// A TL hook name of `config`'s model (unknown names list the closest ones).
HookPoint hook_at(const nlohmann::json& v, const At& at, const Config& config);
// A role of `sample` (a batch of the claim's task); returns its positions [batch] or [batch, k].
const at::Tensor& role_at(const nlohmann::json& v, const At& at, const Batch& sample);
// A class name among `names` (sorted); InputError "unknown class 'x' (valid: ...)" otherwise.
std::string class_name_at(const nlohmann::json& v, const At& at, const std::set<std::string>& names);
// A class `task` declares (Task::classes); returns its values in `sample`, a
// batch of the task: [batch] or [batch, k].
const at::Tensor& class_at(const nlohmann::json& v, const At& at, const Task& task, const Batch& sample);
// Fails at `at` unless role `name` (`role`, [batch] or [batch, k]) pairs with role
// `other_name` (`other`): a [batch, k] role needs a [batch, k'] partner with k' == k.
void check_pairs(const at::Tensor& role, const std::string& name, const at::Tensor& other,
                 const std::string& other_name, const At& at);

// Fails at `at` / i for positions[i] at or past the length of `sample`'s
// sequences (a model's n_ctx may be longer than its task's sequences).
void check_within_sequence(const std::vector<int64_t>& positions, const At& at, const Batch& sample);

// A domain: {"exhaustive": true} (when `allow_exhaustive` and the task's
// domain has at most kExhaustiveLimit examples; never on a dataset task),
// {"all": true} (a dataset task's every row) or {"sample": N, "seed": S} (on
// a dataset task N is at most its rows), optionally with "where": {CLASS:
// VALUE} (a class the task declares per example, Task::classes).
Domain domain_at(const nlohmann::json& v, const At& at, const Task& task, bool allow_exhaustive);

// A pass rule: an object holding thresholds among `rates` (each in [0, 1]) and
// `values` (any number), with every one of `required`, at least one threshold,
// and optionally "bound": "wilson", "clopper_pearson" or "betting" when `rates` is not empty.
PassRule pass_at(const nlohmann::json& v, const At& at, const std::vector<std::string>& rates,
                 const std::vector<std::string>& values, const std::vector<std::string>& required);

}  // namespace circuitcheck
