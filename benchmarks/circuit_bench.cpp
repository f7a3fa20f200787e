// A circuit claim's evaluation (faithfulness, minimality and completeness)
// on S2's shipped checkpoint: its two circuits in claims/array_index.json,
// copy_circuit (4 nodes, 15 variants) and copy_edges (7 edges, 18 variants),
// each on its domain of 2,000 examples.
//   shared: run_claim, as verify runs it: one reference pass for the
//     ablation values, the whole model and the empty circuit once, and every
//     variant's forward passes (C, C without each member, C \ S and N \ S)
//     reading them, plus the bootstrap intervals from one draw.
//   loop: the same variants, each as its own faithfulness evaluation
//     (circuit_ablation, then the whole model, the empty circuit and the
//     variant), as a loop of single runs computes them.
// Argument: 0 for copy_circuit, 1 for copy_edges. `build/benchmarks/circuit_bench`.
#include "circuits/claims/claim.h"
#include "circuits/claims/kinds/circuit_claim.h"
#include "circuits/claims/verify.h"
#include "circuits/model/checkpoint.h"
#include "circuits/model/runtime.h"

#include <benchmark/benchmark.h>
#include <c10/core/InferenceMode.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <memory>

namespace circuitcheck {
namespace {

struct S2Circuit {
  std::shared_ptr<const Task> task;
  Checkpoint checkpoint;
  Claim claim;
};

S2Circuit s2_circuit(int64_t which) {
  const std::string path = std::string(CIRCUITCHECK_SOURCE_DIR) + "/claims/array_index.json";
  std::ifstream in(path);
  const ClaimFile file = parse_claim_file(nlohmann::json::parse(in), path);
  S2Circuit out{claim_task(file), load_checkpoint(std::string(CIRCUITCHECK_SOURCE_DIR) + "/checkpoints/array_index.safetensors"), {}};
  const std::string id = which == 0 ? "copy_circuit" : "copy_edges";
  for (const Claim& c : parse_claims(file, *out.task, out.checkpoint.model.config))
    if (c.id == id) out.claim = c;
  return out;
}

void BM_S2CircuitShared(benchmark::State& state) {
  set_threads(2);
  c10::InferenceMode guard;
  const S2Circuit s = s2_circuit(state.range(0));
  for (auto _ : state) benchmark::DoNotOptimize(run_claim(*s.task, s.claim, s.checkpoint.model, "checkpoint").pass);
}
BENCHMARK(BM_S2CircuitShared)->Arg(0)->Arg(1)->Unit(benchmark::kSecond)->UseRealTime()->Iterations(2);

void BM_S2CircuitLoopOfSingleRuns(benchmark::State& state) {
  set_threads(2);
  c10::InferenceMode guard;
  const S2Circuit s = s2_circuit(state.range(0));
  const CircuitSpec& c = spec_of<CircuitSpec>(s.claim.spec);
  const auto no_shared_runs = [](const Domain&, const PlainReads&, const RunVisitor&,
                                 const std::function<bool()>&) {};
  const RunContext context{*s.task, s.checkpoint.model, scale_for(*s.task, s.checkpoint.model.config), no_shared_runs, false};
  const std::vector<CircuitConfiguration> variants = circuit_variants(
      c, circuit_subsets(static_cast<int64_t>(c.nodes.size() + c.edges.size()), c.subsets, c.subset_seed));
  for (auto _ : state)
    for (const CircuitConfiguration& variant : variants) {
      const CircuitAblation ablation = circuit_ablation(context, s.claim);
      benchmark::DoNotOptimize(measure_circuits(context, s.claim, ablation, {{false, {}, {}}, {true, {}, {}}, variant}));
    }
  state.counters["variants"] = static_cast<double>(variants.size());
}
BENCHMARK(BM_S2CircuitLoopOfSingleRuns)->Arg(0)->Arg(1)->Unit(benchmark::kSecond)->UseRealTime()->Iterations(1);

}  // namespace
}  // namespace circuitcheck

