// CLI commands for models and tasks: train (the seed systems), eval, nodes and attribute.
// Each returns the process exit code and throws InputError on bad input.
#pragma once

namespace circuitcheck {

// circuitcheck train SYSTEM --out FILE.safetensors [--seed N] [--steps N]
//   [--scale cpu|seed] [--device cpu|cuda] [--threads N] [--set key=value ...]
//   [--resume] [--checkpoint-every N] [--log-every N]
// Writes FILE.safetensors (weights, config, recipe and metrics in metadata)
// and FILE.state.safetensors (optimizer state, for --resume). Ctrl-C stops
// between steps and saves the state.
int train_command(int argc, char** argv);

// circuitcheck eval CHECKPOINT [--system S | --task FILE] [--config CFG] [--n N]
//   [--seed N] [--threads N] [--misses K] [--json]
// Task accuracy broken down by the task's classes; --misses K also lists the
// first K units the model gets wrong, as text (Miss in evaluate.h). The task
// is --system (a built-in task), --task (a dataset or task spec file,
// load_task), or the system named in the checkpoint's metadata.
int eval_command(int argc, char** argv);

// circuitcheck nodes CHECKPOINT [--system S | --task FILE] [--config CFG]
//   [--roles R,R...] [--n N] [--seed N] [--threshold X] [--threads N]
//   [--out FILE.json]
// The node ablation map (node_map.h): one line per node with its accuracy and
// tags; with --out, the map as JSON (written atomically). The task is chosen
// as eval's is; on a dataset, --n is at most its rows.
int nodes_command(int argc, char** argv);

// circuitcheck attribute CHECKPOINT [--system S | --task FILE] [--config CFG]
//   [--edges] [--metric logit_diff|target_log_prob] [--ablation zero|mean|resample|counterfactual]
//   [--counterfactual ROLE|input:NAME] [--method eap-ig|atp] [--ig-steps K]
//   [--n N] [--seed N] [--threshold F] [--id ID] [--out-claim FILE.json]
//   [--report-dir D] [--threads N]
// Discovery that writes a claim (claims/README.md, "Discovering a circuit"):
// scores every node, or with --edges every edge (attribution.h: AtP and
// EAP-IG over K steps, default 5),
// for a circuit claim with this metric (default logit_diff), ablation
// (default mean; counterfactual with --counterfactual, a role or a dataset's
// paired input) and domain (N examples, default 1,000, seed N, default 0);
// measures the faithfulness curve of both rankings (faithfulness_curve.h)
// and the smallest circuit of --method's ranking (default eap-ig) whose f
// has a bootstrap lower bound >= F (default 0.9). Prints a summary; with
// --report-dir, writes D/attribution.json and D/attribution.html; with
// --out-claim, the claim file (discovered_claim, id ID, default
// "discovered_circuit"), its checkpoint and task relative to the folder above
// the file's folder, as claim files name them. The claim is parsed as verify
// would before anything is written. InputError for bad flags, a task the model
// cannot run, or a model with no behaviour to attribute (has_gap).
int attribute_command(int argc, char** argv);

}  // namespace circuitcheck
