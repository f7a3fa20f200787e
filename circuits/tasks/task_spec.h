// Task specs: a task given as a small generator in a JSON file
// ("circuitcheck.task/1"), so that exhaustive domains, sampling, property
// claims and shrinking work on a task that no C++ describes.
//
//   { "format": "circuitcheck.task/1", "description": "...",
//     "vocab": {"numbers": 50, "words": ["BOS", "\\n"]},  // tokens 0..49 are numbers, then the words
//     "outputs": 50,                                       // optional d_vocab_out (default: the vocabulary)
//     "fields": [ {"name": "a", "length": 3, "min": 0, "max": 49},   // a list (optional "distinct": true)
//                 {"name": "idx", "min": 0, "max": 2},               // an integer
//                 {"name": "elt", "min": 0, "max": 49} ],
//     "let": {"b": "set(a, idx, elt)"},                    // derived values (expression.h)
//     "sequence": [ {"token": "BOS"},                      // a word of the vocabulary (or a token id)
//                   {"value": "a[0]", "role": "a0"},       // an expression: one position, or one per list element
//                   {"token": "\\n", "role": "predict_b0", "target": "b[0]"},  // the target predicted here
//                   {"value": "b[0]", "role": ["b0", "predict_b1"], "target": "b[1]"}, ... ],
//     "roles": {"source_of_b0": "idx == 0 ? @elt : @a0"}, // computed positions (@r: role r's position)
//     "classes": {"idx": "idx"},                           // an integer: [batch]; a list: [batch, k]
//     "cyclic": {"modulus": 113, "operands": ["a", "b"]},  // optional (the fourier kind)
//     "answer_role_prefix": "predict_",                    // optional (node maps)
//     "counterfactuals": {"new_idx": {"variable": "idx", "redraw": ["idx"]}} }  // optional (interchange claims)
//
// Examples: fields are drawn in order, each integer uniformly from its range
// and each list element by element (a distinct list draws without
// replacement from what is left), with the task Rng (task.h): a property
// claim's shrunk choice sequence moves each field towards its minimum. The
// finite domain is the product of the field ranges, enumerated with the last
// field (and a list's last element) varying fastest; claims may run it
// exhaustively when it holds at most 1e6 examples (claims/domain.h).
// Derived values are evaluated in dependency order; targets, roles and
// classes may read fields and derived values, role expressions also @roles.
//
// Counterfactuals pair each example (the base) with a source for the
// interchange kind (claims/README.md). The source is the base with the fields
// in "redraw" (default: every field) drawn again, with an Rng seeded by
// example_seed (task.h) of its name and the base's field values, so an
// example has the same source wherever it is drawn or enumerated. The batch's
// counterfactuals[name] holds the source's tokens [batch, pos], and
// counterfactual_targets[name] the base's targets re-evaluated with
// "variable" (a field or a derived value) set to the source's value, the
// derived values that read it re-evaluated: the high-level model's answer
// when that variable alone is taken from the source. Only the targets are
// re-evaluated: every token stays the base's, answer tokens that a sequence
// shows (teacher forcing) included, so a target that depends on an earlier
// answer token is the answer given the intervened variable, not given the
// base's earlier tokens. A redrawn field may come back with the base's value;
// such a pair already has the base's answer, and the interchange kind
// reports how often (its "without the intervention" rate).
//
// Errors: every problem is one InputError naming the file and the JSON
// pointer: an unknown or missing field, a wrong type, an empty range (min >
// max), a distinct list longer than its range, an expression that does not
// parse, names an unknown field or function, or defines values cyclically,
// a word not in the vocabulary, a counterfactual variable that is neither a
// field nor a derived value, that no target reads, or that reads none of its
// redrawn fields, an unknown or repeated redrawn field, a spec whose examples
// may each take more than 1e7 element operations to generate (its
// expressions' nodes times its longest list, for the example and its
// counterfactuals, plus its distinct lists' L^2 draws: about 10 ms; the
// shipped specs need under 1e5); and, when the spec's
// first example (every field at its minimum) and its sources are generated at
// load: division by zero, a token id outside the vocabulary, a target outside
// [0, outputs), a role position outside the sequence, a target whose length
// differs from its element's, a source of another length.
// Later examples that fail these checks throw the same errors, naming the
// example's field values.
#pragma once

#include "circuits/tasks/task.h"

#include <nlohmann/json.hpp>

#include <memory>
#include <string>

namespace circuitcheck {

constexpr const char* kTaskSpecFormat = "circuitcheck.task/1";

// The task of a spec file, named `name`, declaring the classes of its
// "classes" (an integer: per example, a list: per item; no value names).
// Throws InputError as above.
Task read_task_spec(const std::string& path, const std::string& name);

// The same from a parsed document; `path` names it in messages.
Task parse_task_spec(const nlohmann::json& spec, const std::string& path, const std::string& name);

// True when `path` names a task file: a dataset (dataset.h: .safetensors,
// .jsonl) or a task spec (.json).
bool is_task_file(const std::string& path);

// The task `name_or_path` names: a task file (is_task_file) read into a task
// named by the file's stem, or a built-in system (find_task).
std::shared_ptr<const Task> load_task(const std::string& name_or_path);

}  // namespace circuitcheck
