#include "harness/dataset_commands.h"

#include "circuits/formats/error.h"
#include "circuits/model/model.h"
#include "circuits/tasks/dataset.h"
#include "harness/args.h"

#include <iostream>
#include <map>

namespace circuitcheck {
namespace {

// "a<b (0): 992, a>b (1): 1002" for a class's values (-1, absent, left out).
std::string value_counts(const at::Tensor& values, const std::vector<std::string>& names) {
  std::map<int64_t, int64_t> counts;
  const at::Tensor flat = values.reshape({-1}).contiguous();
  for (int64_t i = 0; i < flat.numel(); ++i) ++counts[flat.data_ptr<int64_t>()[i]];
  std::string text;
  for (const auto& [value, count] : counts) {
    if (value < 0) continue;
    const bool named = value < static_cast<int64_t>(names.size());
    text += (text.empty() ? "" : ", ") + (named ? terminal_text(names[value]) + " (" + std::to_string(value) + ")" : std::to_string(value)) +
            ": " + std::to_string(count);
  }
  return text;
}

int inspect(const Args& args) {
  expect_positionals(args, 2, 2, "circuitcheck dataset inspect FILE [--examples K]");
  const std::string path = args.positional[1];
  const int shown = args.get_int("--examples", 3, 0, 1000);
  const Dataset d = read_dataset(path);
  const Task task = dataset_task(d, "inspect");
  const Batch& b = d.examples;
  std::cout << "file:        " << path << "\n"
            << "format:      " << kDatasetFormat << "\n";
  if (!d.description.empty()) std::cout << "description: " << terminal_text(d.description) << "\n";
  std::cout << "examples:    " << d.size() << " of " << d.positions() << " positions, "
            << (b.targets >= 0).sum().item<int64_t>() << " scored positions\n"
            << "vocabulary:  "
            << (d.vocab.empty() ? "none (tokens print as numbers)" : std::to_string(d.vocab.size()) + " token strings")
            << "; token ids up to " << b.tokens.max().item<int64_t>() << ", targets up to "
            << b.targets.max().item<int64_t>() << "\n"
            << "tensors:\n"
            << "  tokens   " << shape_text(b.tokens.sizes()) << "\n"
            << "  targets  " << shape_text(b.targets.sizes()) << "\n";
  for (const auto& [name, t] : b.roles) std::cout << "  role." << name << "  " << shape_text(t.sizes()) << "\n";
  for (const auto& [name, t] : b.classes) {
    const auto names = d.class_names.find(name);
    std::cout << "  class." << name << "  " << shape_text(t.sizes()) << "  values "
              << value_counts(t, names == d.class_names.end() ? std::vector<std::string>{} : names->second) << "\n";
  }
  for (const auto& [name, t] : d.examples.counterfactuals)
    std::cout << "  counterfactual." << name << "  " << shape_text(t.sizes())
              << (d.examples.counterfactual_targets.count(name) ? " (with targets)" : "") << "\n";
  if (shown > 0) std::cout << "first " << std::min<int64_t>(shown, d.size()) << " examples:\n";
  for (int64_t i = 0; i < std::min<int64_t>(shown, d.size()); ++i) {
    std::cout << "  " << i << ": " << terminal_text(task.detokenize(b.tokens[i])) << "\n     targets:";
    for (int64_t p = 0; p < d.positions(); ++p) {
      const int64_t target = b.targets[i][p].item<int64_t>();
      if (target >= 0) std::cout << " @" << p << " " << terminal_text(task.detokenize(b.targets[i].narrow(0, p, 1)));
    }
    std::cout << "\n";
  }
  return 0;
}

int convert(const Args& args) {
  expect_positionals(args, 3, 3, "circuitcheck dataset convert IN OUT");
  const Dataset d = read_dataset(args.positional[1]);
  write_dataset(d, args.positional[2]);
  std::cout << "wrote " << args.positional[2] << " (" << d.size() << " examples of " << d.positions() << " positions)\n";
  return 0;
}

}  // namespace

int dataset_command(int argc, char** argv) {
  const std::string usage = "circuitcheck dataset inspect FILE [--examples K] | circuitcheck dataset convert IN OUT";
  const Args args = parse_args(argc, argv, 2, "dataset", {"--examples"});
  check(!args.positional.empty(), "dataset", "expected a subcommand: " + usage);
  const std::string& sub = args.positional[0];
  if (sub == "inspect") return inspect(args);
  check(!args.has("--examples"), "dataset " + sub, "--examples is an option of inspect");
  if (sub == "convert") return convert(args);
  fail("dataset", "unknown subcommand " + quote(sub) + " (valid: inspect, convert)");
}

}  // namespace circuitcheck
