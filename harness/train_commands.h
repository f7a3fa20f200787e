// CLI commands for models and tasks: train (the seed systems), eval and nodes.
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

}  // namespace circuitcheck
