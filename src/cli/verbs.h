// One file per verb (src/cli/verb_<name>.cc); each adds its subcommand to the app. A verb's callback throws
// nacc::Error for bad input; main.cc prints it on one line and exits non-zero.
#pragma once

#include <CLI/CLI.hpp>

#include <cstdint>
#include <string>

#include "runtime/runtime.h"

namespace nacc::cli {

// A flag's check for whole numbers from `minimum` up; its message reads
// "--sub-batch: expected a whole number >= 0, but found '-2'".
CLI::Validator at_least(int64_t minimum);
// --sub-batch N of compile, run, bench and eval (runtime::RuntimeOptions::sub_batch).
void add_sub_batch_option(CLI::App& verb, int64_t& sub_batch);
// --no-winograd and --no-tune of compile, run, bench and eval (runtime::RuntimeOptions::winograd and ::tune).
void add_lowering_options(CLI::App& verb, bool& winograd, bool& tune);
// --threads, --sub-batch, --no-winograd and --no-tune of compile, run and eval, straight into the runtime's options.
void add_runtime_options(CLI::App& verb, runtime::RuntimeOptions& runtime);

void add_zoo_verb(CLI::App& app);
void add_inspect_verb(CLI::App& app);
void add_run_verb(CLI::App& app);
void add_bench_verb(CLI::App& app);
void add_compile_verb(CLI::App& app);
void add_quantize_verb(CLI::App& app);
// `train` and `eval` (src/cli/verb_train.cc).
void add_train_verbs(CLI::App& app);
// `search` and `search space` (src/cli/verb_search.cc).
void add_search_verb(CLI::App& app);
// The options and callback of `search` itself (src/cli/verb_search_run.cc).
void add_search_run_options(CLI::App& search);
// `search compare` (src/cli/verb_search_compare.cc).
void add_search_compare_verb(CLI::App& search);
// `search apply` (src/cli/verb_search_apply.cc).
void add_search_apply_verb(CLI::App& search);

}  // namespace nacc::cli
