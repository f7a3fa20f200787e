// Datasets: a task given as a file of examples ("circuitcheck.dataset/1"),
// so that claims run on a model and task that no C++ describes.
//
// A safetensors file (N examples of T positions; every tensor I64):
//   tokens                      [N, T]  the model input, ids >= 0
//   targets                     [N, T]  the token predicted *at* each position
//                                       (read from the logits there); -1: not scored
//   unit (optional)             [N, T]  scored positions with the same id in one
//                                       example form one unit of accuracy (as
//                                       S4's assignments); default: the example
//   role.<name>                 [N] or [N, K]  positions in [0, T); -1 absent
//   class.<name>                [N] or [N, K]  values >= 0; -1 absent
//   counterfactual.<name>       [N, T]  a paired corrupted input, ids >= 0
//   counterfactual.<name>.targets [N, T]  what a high-level model predicts on it
//   __metadata__: "format": "circuitcheck.dataset/1"; optional "vocab" (a JSON
//   array of token strings, as text), "class_names" (a JSON object
//   {"<class>": ["name of value 0", ...]}, as text) and "description".
//
// Or JSON Lines, for hand-written sets: an optional first line
//   {"format": "circuitcheck.dataset/1", "vocab": [...], "class_names": {...}, "description": "..."}
// then one example per line:
//   {"tokens": [...T], "targets": [...T], "unit": [...T] (optional), "roles": {"b0": 3, "items": [1, 2]},
//    "classes": {"idx": 2}, "counterfactuals": {"swap": [...T]},
//    "counterfactual_targets": {"swap": [...T]}}
// (roles, classes and counterfactuals optional; every line has the same names
// and sizes). Blank lines are skipped.
//
// A dataset is finite and is itself a sample of its task: claims take all of
// its rows ({"all": true}) or a seeded sample of them without replacement
// (sample_rows), and report rates over the dataset, never exact facts.
//
// Errors: every problem is one InputError naming the file and the tensor
// ("tokens", "role.b0") or, in JSON Lines, "<file>:<line>: <JSON pointer>":
// a missing or unknown tensor or field, a dtype other than I64, shapes that
// disagree (targets vs tokens, a role or class whose length is not N), a role
// position outside [-1, T), a token or target id outside [0, 2^24) (a target
// may be -1), a unit id outside [-1, T), a class below -1, a counterfactual
// named "targets", a
// dataset with no scored position, a vocabulary smaller than the largest
// token id, class names for an unknown class, an unknown format, a line that
// is not a JSON object, a scored position without a unit id (when `unit` is
// given), `unit` on some lines only.
#pragma once

#include "circuits/tasks/task.h"

#include <map>
#include <string>
#include <vector>

namespace circuitcheck {

constexpr const char* kDatasetFormat = "circuitcheck.dataset/1";

struct Dataset {
  std::string description;
  Batch examples;  // tokens [N, T], targets [N, T], roles, classes, counterfactuals (and their targets)
  std::map<std::string, std::vector<std::string>> class_names;  // class -> name of each value (optional)
  std::vector<std::string> vocab;  // token strings; empty: tokens print as numbers

  int64_t size() const { return examples.tokens.size(0); }      // N
  int64_t positions() const { return examples.tokens.size(1); }  // T
};

// True when `path` names a dataset file (".safetensors" or ".jsonl").
bool is_dataset_path(const std::string& path);

// Reads and checks a dataset: safetensors or JSON Lines, by extension.
Dataset read_dataset(const std::string& path);

// Parses JSON Lines text; `path` names it in messages.
Dataset parse_dataset_lines(const std::string& text, const std::string& path);

// Checks a dataset's shapes and values (as read_dataset does); `path` names
// it in messages.
void check_dataset(const Dataset& dataset, const std::string& path);

// Writes `dataset` as safetensors or JSON Lines (by the extension of `path`),
// atomically; read_dataset(path) gives it back.
void write_dataset(const Dataset& dataset, const std::string& path);

// The task of a dataset: named `name`; its config needs n_ctx >= T, d_vocab
// above every token id of the inputs and counterfactuals (and the
// vocabulary's size) and d_vocab_out above
// every target, the counterfactuals' targets too; its classes (Task::classes) are its class tensors, with the
// file's class_names; its domain is its N rows in file order (domain_size,
// domain_batch, dataset_rows); `sample(n, seed, _)` takes n rows without
// replacement (sample_rows; InputError when n > N); `detokenize` writes
// tokens as the vocabulary's strings (else numbers) separated by spaces, and
// `tokenize` reads them back. No generator (`draw`), hard cases, split,
// cyclic input or recipe: property claims and training refuse it.
Task dataset_task(Dataset dataset, const std::string& name);

}  // namespace circuitcheck
