// One file per verb (src/cli/verb_<name>.cc); each adds its subcommand to the app. A verb's callback throws
// nacc::Error for bad input; main.cc prints it on one line and exits non-zero.
#pragma once

#include <CLI/CLI.hpp>

namespace nacc::cli {

void add_zoo_verb(CLI::App& app);
void add_inspect_verb(CLI::App& app);
void add_run_verb(CLI::App& app);
void add_bench_verb(CLI::App& app);
void add_compile_verb(CLI::App& app);
void add_quantize_verb(CLI::App& app);
// `train` and `eval` (src/cli/verb_train.cc).
void add_train_verbs(CLI::App& app);

}  // namespace nacc::cli
