// nacc: the command-line front door. Each verb lives in its own file (verbs.h).
#include <CLI/CLI.hpp>

#include <cstdio>
#include <exception>
#include <new>
#include <stdexcept>
#include <string>

#include "cli/verbs.h"
#include "core/error.h"
#include "core/logging.h"
#include "core/machine.h"

CLI::Validator nacc::cli::at_least(int64_t minimum) {
  return CLI::Validator(
      [minimum](std::string& text) -> std::string {
        size_t used = 0;
        try {
          if (std::stoll(text, &used) >= minimum && used == text.size()) return "";
        } catch (const std::exception&) {
        }
        return "expected a whole number >= " + std::to_string(minimum) + ", but found '" + text + "'";
      },
      ">= " + std::to_string(minimum));
}

void nacc::cli::add_sub_batch_option(CLI::App& verb, int64_t& sub_batch) {
  verb.add_option("--sub-batch", sub_batch,
                  "Images per run of the layers: a larger batch runs in pieces of this size (0: chosen for the cache)")
      ->check(at_least(0));
}

void nacc::cli::add_lowering_options(CLI::App& verb, bool& winograd, bool& tune) {
  verb.add_flag_callback("--no-winograd", [&winograd] { winograd = false; },
                         "Run FP32 3x3 convolutions as direct convolution instead of Winograd F(4x4, 3x3)");
  verb.add_flag_callback("--no-tune", [&tune] { tune = false; },
                         "Take oneDNN's first implementation of each layer instead of the one measured fastest on this "
                         "CPU (measured once, cached in $XDG_CACHE_HOME/nacc/tuning.json)");
}

void nacc::cli::add_runtime_options(CLI::App& verb, runtime::RuntimeOptions& runtime) {
  verb.add_option("--threads", runtime.threads, "Threads per inference (0: one per core)")->check(at_least(0));
  add_sub_batch_option(verb, runtime.sub_batch);
  add_lowering_options(verb, runtime.winograd, runtime.tune);
}

int main(int argc, char** argv) {
  nacc::keep_freed_memory();  // before any thread starts (core/machine.h)
  CLI::App app{"nacc: make trained convolutional networks fast on this CPU (compile, quantize, benchmark, train)",
               "nacc"};
  app.set_version_flag("--version", std::string("nacc ") + NACC_VERSION);
  std::string log_level = "info";
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error or off")->capture_default_str();
  // At most one verb; its absence is reported below, after unknown arguments (which CLI11 checks later).
  app.require_subcommand(0, 1);
  nacc::cli::add_zoo_verb(app);
  nacc::cli::add_inspect_verb(app);
  nacc::cli::add_run_verb(app);
  nacc::cli::add_compile_verb(app);
  nacc::cli::add_quantize_verb(app);
  nacc::cli::add_bench_verb(app);
  nacc::cli::add_train_verbs(app);
  nacc::cli::add_search_verb(app);
  app.parse_complete_callback([&] { nacc::init_logging(log_level); });

  try {
    app.parse(argc, argv);
    if (app.get_subcommands().empty()) {
      throw nacc::Error("expected a verb (zoo, inspect, run, compile, quantize, bench, train, eval, search), but found none; run 'nacc --help' for usage");
    }
  } catch (const CLI::CallForHelp& help) {
    return app.exit(help);
  } catch (const CLI::CallForAllHelp& help) {
    return app.exit(help);
  } catch (const CLI::CallForVersion& version) {
    return app.exit(version);
  } catch (const CLI::ParseError& error) {
    std::fprintf(stderr, "nacc: error: %s; run 'nacc --help' for usage\n", nacc::printable(error.what()).c_str());
    return 2;
  } catch (const nacc::Error& error) {
    std::fprintf(stderr, "nacc: error: %s\n", nacc::printable(error.what()).c_str());
    return 1;
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "nacc: error: expected the job to fit in this machine's memory, but an allocation failed; "
                         "use a smaller --batch, fewer --streams or fewer samples\n");
    return 1;
  } catch (const std::length_error&) {
    std::fprintf(stderr, "nacc: error: expected sizes that fit in memory, but a buffer would be larger than any "
                         "allocation can be; use a smaller --batch or fewer samples\n");
    return 1;
  } catch (const std::exception& error) {
    std::fprintf(stderr, "nacc: internal error: %s\n", nacc::printable(error.what()).c_str());
    return 70;
  }
  return 0;
}
