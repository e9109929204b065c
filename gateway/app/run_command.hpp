#pragma once
// `cellbox run`: the notebook runner (papermill's semantics) as a client of a gateway, given
// with --url or started privately. The command line only: the work is in gateway/runner/.
#include <CLI/CLI.hpp>

namespace cellbox::gateway
{

// Registers the subcommand; it runs the notebooks and exits with their status when run.
void add_run_command(CLI::App& app);

} // namespace cellbox::gateway
