// Typed reads of claim-file fields. Every problem is one InputError
// "<file>: <JSON pointer>: <what>", e.g.
// "claims/array_index.json: /claims/3/head: head 2 out of range, the model has 1 head".
// Each claim kind's parser (claim.cpp, kinds/*_claim.cpp) reads its fields
// with these, so all kinds word their errors alike.
#pragma once

#include "circuits/claims/check.h"
#include "circuits/model/config.h"
#include "circuits/formats/error.h"
#include "circuits/model/hooks.h"
#include "circuits/tasks/task.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <limits>
#include <set>
#include <string>
#include <vector>

namespace circuitcheck {

// A place in a claim file: the file and a JSON pointer ("" is the document).
struct At {
  std::string file;
  std::string pointer;

  At operator/(const std::string& key) const;  // escapes '~' and '/' as RFC 6901 does
  At operator/(std::size_t index) const;
  // Throws InputError "<file>: <pointer>: <what>".
  [[noreturn]] void fail(const std::string& what) const;
  // Re-raises an InputError of `function` here, without its "function: " prefix.
  [[noreturn]] void fail_from(const InputError& e, const std::string& function) const;
};

// "a, b, c".
std::string joined(const std::vector<std::string>& names);
// "1 layer", "2 layers".
std::string plural(int64_t n, const std::string& noun);
// "an integer", "a string", ... for messages.
const char* type_name(const nlohmann::json& v);

// Checks that `v` is an object whose keys are all in `allowed` (empty: any) and that holds every key of `required`.
void check_object(const nlohmann::json& v, const At& at, const std::vector<std::string>& allowed,
                  const std::vector<std::string>& required);

std::string string_at(const nlohmann::json& v, const At& at);
// An integer in [lo, hi].
int64_t integer_at(const nlohmann::json& v, const At& at, int64_t lo, int64_t hi);
double number_at(const nlohmann::json& v, const At& at);
// A number in [0, 1] ("threshold ... outside [0, 1] for a rate").
double rate_at(const nlohmann::json& v, const At& at);
// A non-empty array (of any elements).
const nlohmann::json& array_at(const nlohmann::json& v, const At& at);
// A layer in [0, n_layers) / a head in [0, n_heads) of `config`.
int layer_at(const nlohmann::json& v, const At& at, const Config& config);
int head_at(const nlohmann::json& v, const At& at, const Config& config);
// A TL hook name of `config`'s model (unknown names list the closest ones).
HookPoint hook_at(const nlohmann::json& v, const At& at, const Config& config);
// A role of `sample` (a batch of the claim's task); returns its positions [batch] or [batch, k].
const at::Tensor& role_at(const nlohmann::json& v, const At& at, const Batch& sample);
// A class name among `names` (sorted); InputError "unknown class 'x' (valid: ...)" otherwise.
std::string class_name_at(const nlohmann::json& v, const At& at, const std::set<std::string>& names);
// A class of `sample`; returns its values [batch] or [batch, k].
const at::Tensor& class_at(const nlohmann::json& v, const At& at, const Batch& sample);
// Fails at `at` unless role `name` (`role`, [batch] or [batch, k]) pairs with role
// `other_name` (`other`): a [batch, k] role needs a [batch, k'] partner with k' == k.
void check_pairs(const at::Tensor& role, const std::string& name, const at::Tensor& other,
                 const std::string& other_name, const At& at);

// A domain: {"exhaustive": true} (when `allow_exhaustive` and the task's
// domain has at most kExhaustiveLimit examples) or {"sample": N, "seed": S},
// optionally with "where": {CLASS: VALUE} (a per-example class of `sample`, a
// batch of the task).
Domain domain_at(const nlohmann::json& v, const At& at, const Task& task, const Batch& sample, bool allow_exhaustive);

// A pass rule: an object holding thresholds among `rates` (each in [0, 1]) and
// `values` (any number), with every one of `required`, at least one threshold,
// and optionally "bound": "wilson" or "clopper_pearson" when `rates` is not empty.
PassRule pass_at(const nlohmann::json& v, const At& at, const std::vector<std::string>& rates,
                 const std::vector<std::string>& values, const std::vector<std::string>& required);

}  // namespace circuitcheck
