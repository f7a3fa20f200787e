// CLI commands over dataset files (circuits/tasks/dataset.h). Each returns
// the process exit code and throws InputError (exit 2) on bad input, before
// printing anything.
#pragma once

namespace circuitcheck {

// circuitcheck dataset inspect FILE [--examples K]
//   The dataset's size, tensors and their shapes, each class's values with
//   their counts and names, and its first K examples (default 3) as text with
//   their targets. Checks the file as read_dataset does.
// circuitcheck dataset convert IN OUT
//   Rewrites a dataset as safetensors or JSON Lines (by OUT's extension);
//   reading OUT gives the same dataset.
int dataset_command(int argc, char** argv);

}  // namespace circuitcheck
