// CLI commands over checkpoints: inspect, convert, forward.
// Each returns the process exit code (0 ok) and throws InputError on bad input.
#pragma once

namespace circuitcheck {

// circuitcheck inspect FILE [--config CFG] [--json]
int inspect_command(int argc, char** argv);

// circuitcheck convert IN OUT.safetensors [--config CFG]
int convert_command(int argc, char** argv);

// circuitcheck forward CHECKPOINT --tokens TOKENS.safetensors --out OUT.safetensors
//   [--config CFG] [--cache all|HOOK,HOOK...] [--device cpu|cuda] [--threads N]
int forward_command(int argc, char** argv);

}  // namespace circuitcheck
