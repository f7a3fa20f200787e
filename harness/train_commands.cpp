#include "harness/train_commands.h"

#include "circuits/model/checkpoint.h"
#include "circuits/formats/error.h"
#include "circuits/formats/text_file.h"
#include "circuits/claims/node_map.h"
#include "circuits/claims/ablate.h"
#include "circuits/claims/claim.h"
#include "circuits/discovery/attribution_report.h"
#include "circuits/tasks/task_spec.h"
#include "circuits/reports/report.h"
#include "circuits/model/runtime.h"
#include "circuits/training/snapshot.h"
#include "circuits/training/trainer.h"
#include "harness/args.h"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <sstream>

namespace circuitcheck {
namespace {

std::atomic<bool> g_interrupted{false};

void on_sigint(int) { g_interrupted = true; }

std::string format_duration(double s) {
  char buf[32];
  if (s >= 3600) std::snprintf(buf, sizeof buf, "%dh%02dm", static_cast<int>(s / 3600), static_cast<int>(s / 60) % 60);
  else std::snprintf(buf, sizeof buf, "%dm%02ds", static_cast<int>(s / 60), static_cast<int>(s) % 60);
  return buf;
}

void print_progress(const TrainProgress& p, bool tty) {
  const double eta = p.steps_per_s > 0 ? static_cast<double>(p.steps - p.step) / p.steps_per_s : 0.0;
  char line[256];
  std::snprintf(line, sizeof line, "step %lld/%lld  loss %.4g  acc %.4f%s  lr %.2g  %.1f steps/s  %s elapsed  ETA %s",
                static_cast<long long>(p.step), static_cast<long long>(p.steps), p.loss, p.token_accuracy,
                p.test_loss >= 0 ? ("  test_loss " + std::to_string(p.test_loss)).c_str() : "", p.lr, p.steps_per_s,
                format_duration(p.elapsed_s).c_str(), format_duration(eta).c_str());
  if (tty) {
    const int width = 30;
    const int filled = static_cast<int>(width * static_cast<double>(p.step) / static_cast<double>(p.steps));
    std::cerr << "\r[" << std::string(filled, '#') << std::string(width - filled, '.') << "] " << line << "\x1b[K"
              << std::flush;
  } else {
    std::cerr << line << "\n";
  }
}

// The task a checkpoint is run on: --task (a dataset file or a system),
// --system, else the system the checkpoint says it belongs to.
std::shared_ptr<const Task> checkpoint_task(const Args& args, const Checkpoint& ck, const std::string& command) {
  check(!(args.has("--task") && args.has("--system")), command, "--task and --system exclude each other");
  if (auto t = args.get("--task")) return load_task(*t);
  if (auto s = args.get("--system")) return load_task(*s);
  check(!ck.system.empty(), command + ": " + ck.path,
        "cannot tell which task this checkpoint is for; pass --system or --task FILE");
  return load_task(find_task(ck.system, command + ": " + ck.path + ": metadata \"system\"").name);
}

void print_evaluation(const Evaluation& e, std::ostream& out) {
  out << e.system << ": " << e.overall.correct << "/" << e.overall.n << " " << e.unit << "s correct = "
      << e.overall.accuracy() * 100 << " % (" << e.domain;
  if (e.domain == "sampled") out << ", " << e.n_examples << " examples, seed " << e.seed;
  out << "); token accuracy " << e.tokens.accuracy() * 100 << " %, loss " << e.loss << "\n";
  for (const auto& [name, groups] : e.by_class) {
    out << "  by " << name << ":";
    for (const auto& [value, t] : groups) out << "  " << value << ": " << t.accuracy() * 100 << " % (n " << t.n << ")";
    out << "\n";
  }
  if (e.max_misses > 0) {
    out << "  first " << e.misses.size() << " of " << e.overall.n - e.overall.correct << " misses:\n";
    for (const Miss& m : e.misses) out << "    " << m.to_string() << "\n";
  }
}

// The claim file attribute writes to `out` for the flags' circuit claim,
// with a placeholder node until the circuit is chosen. Flags with no claim
// field of their own are checked here; the rest when it is parsed, as verify
// parses it, so that its defaults and errors are verify's.
nlohmann::json attribution_document(const Args& args, const Checkpoint& ck, const Task& task, const std::string& out,
                                    int64_t n, double threshold) {
  const std::string metric = args.get_or("--metric", "logit_diff");
  check(metric == "logit_diff" || metric == "target_log_prob", "--metric",
        "unknown metric " + quote(metric) + " (valid: logit_diff, target_log_prob; accuracy has no gradient)");
  const std::string ablation = args.get_or("--ablation", args.has("--counterfactual") ? "counterfactual" : "mean");
  named_at(nlohmann::json(ablation), At{"--ablation", ""}, "ablation", ablation_methods(true));
  check((ablation == "counterfactual") == args.has("--counterfactual"), "--counterfactual",
        "counterfactual ablation and --counterfactual ROLE|input:NAME go together");
  const std::filesystem::path root = std::filesystem::absolute(out).parent_path().parent_path();
  const auto relative = [&](const std::string& path) {
    return std::filesystem::absolute(path).lexically_normal().lexically_relative(root.lexically_normal()).string();
  };
  nlohmann::json claim = {{"id", args.get_or("--id", "discovered_circuit")},
                          {"hypothesis", "(chosen by attribute)"},
                          {"kind", "circuit"},
                          {"ablation", ablation},
                          {"metric", metric},
                          {"domain", {{"sample", n}, {"seed", args.get_int("--seed", 0, 0, 1 << 30)}}},
                          {"completeness", {{"subsets", 5}, {"seed", 0}}},
                          {"pass", {{"faithfulness_at_least", threshold}}},
                          {"controls", {"random_init"}}};
  check(!(args.has("--edges") && args.has("--neurons")), "attribute --neurons",
        "--edges and --neurons do not go together: an edge's sender is a whole MLP");
  check(!args.has("--neurons") || !ck.model.config.attn_only, "attribute --neurons", ck.path + " has no MLP");
  check(!args.has("--by-position") || args.has("--edges"), "attribute --by-position",
        "--by-position ranks edges at each position: give --edges too (nodes are by position already)");
  if (args.has("--edges")) {
    claim["edges"] = {{{"sender", "embed"}, {"receiver", "logits"}}};
  } else {
    claim["nodes"] = {{{"hook", "blocks.0.attn.hook_z"}, {"heads", {0}}}};
    if (args.has("--neurons"))  // a neuron node in every layer: the circuit's MLPs are ablated by neuron
      for (int l = 0; l < ck.model.config.n_layers; ++l)
        claim["nodes"].push_back({{"hook", "blocks." + std::to_string(l) + ".mlp.hook_post"}, {"neurons", {0}}});
  }
  if (auto role = args.get("--score-at")) claim["score_at"] = *role;
  if (auto c = args.get("--counterfactual"))
    claim["counterfactual"] = c->rfind("input:", 0) == 0 ? nlohmann::json{{"input", c->substr(6)}} : nlohmann::json(*c);
  nlohmann::json document = {{"schema", kClaimSchema}, {"checkpoint", relative(ck.path)}, {"claims", {claim}}};
  const auto task_file = args.get("--task");
  if (task_file && std::filesystem::exists(*task_file)) document["task"] = relative(*task_file);
  else document["system"] = task.name;
  return document;
}

// The state `train` starts from: the saved one at `state_path` with --resume
// (and --steps and --set as amendments), else a fresh one from the task's
// recipe with --seed, --steps and --set applied.
TrainState initial_state(const Args& args, const Task& task, const std::string& state_path, Scale scale) {
  if (args.has("--resume") && std::filesystem::exists(path_status(state_path, "train --resume: " + state_path))) {
    TrainState state = load_training(state_path);
    check(state.recipe.system == task.name, "train --resume: " + state_path,
          "the state is for " + state.recipe.system + ", not " + task.name);
    std::vector<std::string> settings;
    if (auto steps = args.get("--steps")) settings.push_back("steps=" + *steps);
    if (args.flags.count("--set"))
      for (const auto& kv : args.flags.at("--set")) settings.push_back(kv);
    if (!settings.empty()) amend_recipe(state, settings);
    std::cerr << "resuming " << state_path << " at step " << state.step << "\n";
    return state;
  }
  TrainRecipe recipe = default_recipe(task, scale);
  if (auto seed = args.get("--seed")) apply_setting(recipe, "seed=" + *seed);
  if (auto steps = args.get("--steps")) apply_setting(recipe, "steps=" + *steps);
  if (args.flags.count("--set"))
    for (const auto& kv : args.flags.at("--set")) apply_setting(recipe, kv);
  return start_training(recipe);
}

}  // namespace

int train_command(int argc, char** argv) {
  Args args = parse_args(argc, argv, 2, "train",
                         {"--out", "--seed", "--steps", "--scale", "--device", "--threads", "--set",
                          "--checkpoint-every", "--log-every", "--snapshot-every", "--snapshot-dir"},
                         {"--resume"});
  expect_positionals(args, 1, 1,
                     "circuitcheck train SYSTEM --out FILE.safetensors [--seed N] [--steps N] [--set k=v] "
                     "[--snapshot-every N [--snapshot-dir DIR]]");
  check(args.has("--out"), "train", "--out FILE.safetensors is required");
  const Task& task = find_task(args.positional[0]);
  const std::string out = *args.get("--out");
  const std::string state_path = out + ".state.safetensors";
  const int threads = args.get_int("--threads", 2, 1, 1024);
  set_threads(threads);
  at::Device device = parse_device(args.get_or("--device", "cpu"), "train --device");
  TrainState state = initial_state(args, task, state_path, scale_named(args.get_or("--scale", "cpu"), "train --scale"));
  to_device(state.model, device);
  for (auto& [name, t] : state.optimizer.exp_avg) t = t.to(device);
  for (auto& [name, t] : state.optimizer.exp_avg_sq) t = t.to(device);
  std::signal(SIGINT, on_sigint);
  std::signal(SIGTERM, on_sigint);
  const bool tty = isatty(fileno(stderr));
  TrainHooks hooks;
  hooks.log_every = args.get_int("--log-every", tty ? 10 : 500, 1, 1 << 30);
  hooks.on_progress = [&](const TrainProgress& p) { print_progress(p, tty); };
  hooks.checkpoint_every = args.get_int("--checkpoint-every", 2000, 0, 1 << 30);
  hooks.on_checkpoint = [&](const TrainState& s) { save_training(state_path, s); };
  hooks.stop = [] { return g_interrupted.load(); };
  check(args.has("--snapshot-every") || !args.has("--snapshot-dir"), "train --snapshot-dir",
        "needs --snapshot-every N");
  hooks.snapshot_every = args.get_int("--snapshot-every", 0, 1, 1 << 30);
  if (hooks.snapshot_every > 0) {
    const std::string dir = args.get_or("--snapshot-dir", snapshot_dir_for(out));
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    check(!ec, "train --snapshot-dir: " + dir, "cannot create the folder: " + ec.message());
    hooks.on_snapshot = [&, dir](const TrainState& s, const TrainProgress& p) {
      save_checkpoint(snapshot_path(dir, s.step), s.model, snapshot_metadata(s, p));
    };
    std::cerr << "snapshots every " << hooks.snapshot_every << " steps into " << dir << "\n";
  }
  std::cerr << "training " << task.name << " " << state.recipe.to_json().dump() << "\n";
  train(state, hooks);
  if (tty) std::cerr << "\n";
  save_training(state_path, state);
  if (state.stop_reason.empty()) {
    std::cerr << "interrupted at step " << state.step << "; state saved to " << state_path
              << "; continue with --resume\n";
    return 130;
  }
  to_device(state.model, at::kCPU);
  Evaluation e = evaluate(task, state.model, state.recipe.scale, 10000, 20240601);
  nlohmann::json train_info = {{"recipe", state.recipe.to_json()}, {"steps_run", state.step},
                               {"stop_reason", state.stop_reason}, {"train_wall_s", state.elapsed_s},
                               {"steps_per_s", static_cast<double>(state.step) / std::max(1e-9, state.elapsed_s)},
                               {"device", device.str()}, {"threads", threads}};
  if (!state.amendments.empty()) train_info["amendments"] = state.amendments;
  save_checkpoint(out, state.model,
                  {{"system", task.name}, {"seed", std::to_string(state.recipe.seed)},
                   {"steps", std::to_string(state.step)}, {"training", train_info.dump()},
                   {"metrics", e.to_json().dump()}, {"circuitcheck_version", circuitcheck_version()},
                   {"circuitcheck_commit", circuitcheck_git_commit()}, {"torch_version", torch_version()}});
  print_evaluation(e, std::cout);
  std::cout << "wrote " << out << " (" << state.step << " steps, " << state.stop_reason << ", "
            << format_duration(state.elapsed_s) << ")\n";
  return 0;
}

int eval_command(int argc, char** argv) {
  Args args =
      parse_args(argc, argv, 2, "eval", {"--system", "--task", "--config", "--n", "--seed", "--threads", "--misses"}, {"--json"});
  expect_positionals(args, 1, 1,
                     "circuitcheck eval CHECKPOINT [--system S | --task FILE] [--n N] [--seed N] [--misses K] [--json]");
  set_threads(args.get_int("--threads", 2, 1, 1024));
  Checkpoint ck = load_checkpoint(args.positional[0], args.get("--config"));
  const std::shared_ptr<const Task> loaded = checkpoint_task(args, ck, "eval");
  const Task& task = *loaded;
  const Scale scale = scale_for(task, ck.model.config);
  check_fits(task, scale, ck.model.config, "eval: " + ck.path);
  const int64_t n = args.get_int("--n", 10000, 1, 1 << 30);
  const uint64_t seed = static_cast<uint64_t>(args.get_int("--seed", 20240601, 0, 1 << 30));
  const int64_t misses = args.get_int("--misses", 0, 0, 1 << 20);
  std::vector<Evaluation> results = {evaluate(task, ck.model, scale, n, seed, kExhaustiveLimit, kVerifyBatch, misses)};
  if (task.sample_hard) {
    results.push_back(evaluate_batch(task, ck.model, task.sample_hard(n, seed, scale), kVerifyBatch, misses));
    results.back().domain = task.hard_name;
  }
  if (args.has("--json")) {
    nlohmann::json j = nlohmann::json::array();
    for (const auto& e : results) j.push_back(e.to_json());
    std::cout << j.dump(2) << "\n";
  } else {
    for (const auto& e : results) print_evaluation(e, std::cout);
  }
  return 0;
}

int nodes_command(int argc, char** argv) {
  Args args = parse_args(argc, argv, 2, "nodes",
                         {"--system", "--task", "--config", "--roles", "--n", "--seed", "--threshold", "--threads", "--out"});
  expect_positionals(args, 1, 1,
                     "circuitcheck nodes CHECKPOINT [--system S | --task FILE] [--roles R,R...] [--n N] [--seed N] "
                     "[--threshold X] [--out FILE.json]");
  set_threads(args.get_int("--threads", 2, 1, 1024));
  Checkpoint ck = load_checkpoint(args.positional[0], args.get("--config"));
  const std::shared_ptr<const Task> loaded = checkpoint_task(args, ck, "nodes");
  const Task& task = *loaded;
  NodeMapOptions options;
  options.domain.sample = args.get_int("--n", 2000, 1, 1 << 24);
  options.domain.seed = static_cast<uint64_t>(args.get_int("--seed", 1, 0, 1 << 30));
  if (auto roles = args.get("--roles")) {
    std::string role;
    for (std::istringstream in(*roles); std::getline(in, role, ',');) options.roles.push_back(role);
  }
  if (auto t = args.get("--threshold")) {
    char* end = nullptr;
    options.threshold = std::strtod(t->c_str(), &end);
    check(end != t->c_str() && *end == '\0' && options.threshold >= 0 && options.threshold <= 1, "nodes --threshold",
          quote(*t) + " is not a number in [0, 1]");
  }
  if (task.dataset_rows)  // a dataset's sample cannot exceed its rows
    for (Domain* d : {&options.domain, &options.reference}) d->sample = std::min(d->sample, *task.domain_size);
  const NodeMap map = node_map(task, ck.model, options);
  std::cout << "baseline: accuracy " << map.baseline.accuracy * 100 << " % on " << map.baseline.n << " examples\n";
  for (const auto& node : map.nodes) {
    std::cout << node.name() << " (" << node.role << ", L" << node.layer << "H" << node.head << "): accuracy "
              << node.accuracy * 100 << " %";
    for (const auto& tag : node.tags) std::cout << " " << tag;
    std::cout << "\n";
  }
  if (auto out = args.get("--out")) write_text_atomically(*out, map.to_json().dump(2) + "\n", "nodes --out");
  return 0;
}

int attribute_command(int argc, char** argv) {
  Args args = parse_args(argc, argv, 2, "attribute",
                         {"--system", "--task", "--config", "--metric", "--score-at", "--ablation", "--counterfactual", "--method",
                          "--ig-steps", "--n", "--seed", "--threshold", "--id", "--out-claim", "--report-dir",
                          "--threads"},
                         {"--edges", "--by-position", "--neurons"});
  expect_positionals(args, 1, 1,
                     "circuitcheck attribute CHECKPOINT [--system S | --task FILE] [--edges [--by-position] | --neurons] [--metric M] [--score-at ROLE] [--ablation A] "
                     "[--counterfactual C] [--method eap-ig|atp] [--ig-steps K] [--n N] [--seed N] [--threshold F] "
                     "[--id ID] [--out-claim FILE.json] [--report-dir D]");
  const auto started = std::chrono::steady_clock::now();
  set_threads(args.get_int("--threads", 2, 1, 1024));
  Attribution a;
  const std::string method = args.get_or("--method", "eap-ig");
  check(method == "eap-ig" || method == "atp", "--method", "unknown method " + quote(method) + " (valid: eap-ig, atp)");
  a.method = method == "atp" ? AttributionMethod::kAtp : AttributionMethod::kEapIg;
  a.ig_steps = args.get_int("--ig-steps", 5, 1, 100);
  a.threshold = args.get_open_interval("--threshold", 0.0, 1.0).value_or(0.9);
  Checkpoint ck = load_checkpoint(args.positional[0], args.get("--config"));
  const std::shared_ptr<const Task> loaded = checkpoint_task(args, ck, "attribute");
  const Task& task = *loaded;
  const Scale scale = scale_for(task, ck.model.config);
  check_fits(task, scale, ck.model.config, "attribute: " + ck.path);
  a.examples = args.get_int("--n", 1000, 1, 1 << 24);
  if (task.dataset_rows) a.examples = std::min(a.examples, *task.domain_size);
  const std::string out = args.get_or("--out-claim", "discovered.json");
  nlohmann::json document = attribution_document(args, ck, task, out, a.examples, a.threshold);
  const std::vector<Claim> parsed = parse_claims(parse_claim_file(document, out), task, ck.model.config);
  if (args.has("--out-claim")) check_replaceable(out, "attribute --out-claim");

  const VisitRuns no_shared_runs = [](const Domain&, const PlainReads&, const RunVisitor&,
                                      const std::function<bool()>&) {
    throw InternalError("attribute: a circuit claim runs no shared passes");
  };
  const RunContext context{task, ck.model, scale, no_shared_runs, false};
  const CircuitAblation ablated = circuit_ablation(context, parsed[0]);
  a.checkpoint = ck.path;
  a.task = document.contains("task") ? document["task"].get<std::string>() : task.name;
  a.claim = document["claims"][0];
  a.domain_size = task.domain_size.value_or(-1);
  const int64_t length = task.sample(1, 0, scale).tokens.size(1);
  a.units = args.has("--edges") ? attribution_edges(ck.model.config, args.has("--by-position") ? length : 0)
                                 : attribution_nodes(ck.model.config, length, args.has("--neurons"));
  const CircuitMeasure measure(context, parsed[0], ablated, a.units, "attribute: " + ck.path);
  a.whole = measure.whole();
  a.empty = measure.empty();
  attribute(context, parsed[0], ablated, a.ig_steps, a.units);
  const std::vector<int64_t> atp_order = ranking(a.units, AttributionMethod::kAtp);
  const std::vector<int64_t> ig_order = ranking(a.units, AttributionMethod::kEapIg);
  a.atp_curve = measure.curve(atp_order);
  a.eap_ig_curve = measure.curve(ig_order);
  a.atp_areas = curve_areas(a.atp_curve);
  a.eap_ig_areas = curve_areas(a.eap_ig_curve);
  a.chosen = measure.smallest(a.method == AttributionMethod::kAtp ? atp_order : ig_order, a.curve(a.method), a.threshold);
  a.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();

  document["claims"] = {discovered_claim(a)};
  parse_claims(parse_claim_file(document, out), task, ck.model.config);  // what it writes, verify reads
  std::cout << attribution_text(a);
  if (auto dir = args.get("--report-dir")) {
    std::filesystem::create_directories(*dir);
    write_text_atomically(*dir + "/attribution.json", attribution_json(a).dump(2) + "\n", "attribute --report-dir");
    write_text_atomically(*dir + "/attribution.html", attribution_html(a), "attribute --report-dir");
  }
  if (args.has("--out-claim")) {
    if (std::filesystem::absolute(out).has_parent_path())
      std::filesystem::create_directories(std::filesystem::absolute(out).parent_path());
    write_text_atomically(out, document.dump(2) + "\n", "attribute --out-claim");
    std::cout << "wrote " << out << ": circuitcheck verify " << out << "\n";
  }
  return 0;
}

}  // namespace circuitcheck
