// circuitcheck: verify claims about the circuits of trained transformers.
// Exit codes: 0 success, 1 a claim failed, 2 bad input, 3 internal error.
#include "circuits/formats/error.h"
#include "circuits/model/memory.h"
#include "circuits/model/runtime.h"
#include "harness/claim_commands.h"
#include "harness/dataset_commands.h"
#include "harness/model_commands.h"
#include "harness/report_commands.h"
#include "harness/train_commands.h"

#include <cstring>
#include <iostream>
#include <map>
#include <string>

namespace {

const char* kUsage =
    "usage: circuitcheck COMMAND ...\n"
    "  inspect FILE [--config CFG] [--json]        config, tensors, shapes, dtypes, SHA-256\n"
    "  convert IN OUT.safetensors [--config CFG]   any checkpoint to safetensors\n"
    "  forward CHECKPOINT --tokens T.safetensors --out OUT.safetensors\n"
    "          [--config CFG] [--cache all|HOOK,...] [--device cpu|cuda] [--threads N]\n"
    "          [--max-output-bytes N]              refuse output larger than N bytes (default 4 GiB)\n"
    "  train SYSTEM --out FILE.safetensors [--seed N] [--steps N] [--scale cpu|seed]\n"
    "          [--device cpu|cuda] [--threads N] [--set key=value ...] [--resume]\n"
    "          [--snapshot-every N [--snapshot-dir DIR]]\n"
    "  eval CHECKPOINT [--system S | --task FILE] [--n N] [--seed N] [--misses K] [--json]\n"
    "  nodes CHECKPOINT [--system S | --task FILE] [--roles R,...] [--n N] [--seed N] [--threshold X]\n"
    "          [--out F.json]\n"
    "                                               node ablation map: what each head breaks\n"
    "  attribute CHECKPOINT [--system S | --task FILE] [--config CFG] [--edges [--by-position] | --neurons]\n"
    "          [--metric M] [--score-at ROLE] [--ablation A] [--counterfactual C] [--method eap-ig|atp] [--ig-steps K]\n"
    "          [--n N] [--seed N] [--threshold F] [--id ID] [--out-claim FILE.json] [--report-dir D] [--threads N]\n"
    "                                               rank nodes or edges (AtP, EAP-IG), faithfulness curve, write a circuit claim\n"
    "  verify CLAIMS.json... [--checkpoint F]... [--checkpoints LIST|DIR] [--config CFG]\n"
    "          [--threads N] [--seed N] [--only ID] [--report-dir D] [--junit FILE]\n"
    "          [--device cpu|cuda] [--family-alpha A] [--verbose|--quiet]\n"
    "          [--shard I/N --shard-report FILE]\n"
    "                                               run claims; exit 1 when one fails\n"
    "  merge SHARD.json... [--report-dir D] [--junit FILE] [--quiet]\n"
    "                                               the reports of a sharded verify run\n"
    "  list CLAIMS.json [--checkpoint F] [--config CFG] the claims of a file, validated\n"
    "  dataset inspect FILE [--examples K]          a dataset's size, tensors, classes and examples\n"
    "  dataset convert IN OUT                       a dataset to safetensors or JSON Lines\n"
    "  diff OLD.json NEW.json [--tolerance X] [--markdown]\n"
    "                                               compare reports; exit 1 on a regression\n";

}  // namespace

int main(int argc, char** argv) {
  circuitcheck::restart_with_better_blas(argv);
  using Command = int (*)(int, char**);
  const std::map<std::string, Command> commands = {
      {"inspect", circuitcheck::inspect_command},
      {"convert", circuitcheck::convert_command},
      {"forward", circuitcheck::forward_command},
      {"train", circuitcheck::train_command},
      {"eval", circuitcheck::eval_command},
      {"nodes", circuitcheck::nodes_command},
      {"attribute", circuitcheck::attribute_command},
      {"verify", circuitcheck::verify_command},
      {"list", circuitcheck::list_command},
      {"merge", circuitcheck::merge_command},
      {"diff", circuitcheck::diff_command},
      {"dataset", circuitcheck::dataset_command},
  };
  if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h")) {
    std::cout << kUsage;
    return argc < 2 ? 2 : 0;
  }
  auto it = commands.find(argv[1]);
  if (it == commands.end()) {
    std::cerr << "circuitcheck: error: unknown command '" << argv[1] << "'\n" << kUsage;
    return 2;
  }
  circuitcheck::tune_allocator();
  try {
    return it->second(argc, argv);
  } catch (const circuitcheck::InputError& e) {
    std::cerr << "circuitcheck " << argv[1] << ": error: " << e.what() << "\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "circuitcheck " << argv[1] << ": internal error: " << circuitcheck::printable(e.what()) << "\n";
    return 3;
  }
}
