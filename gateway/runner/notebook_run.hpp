#pragma once
// One notebook run through a gateway, as papermill runs one through nbclient: a kernel of its
// own, each code cell sent to the execute API in order (NDJSON, so that output can be followed
// as it comes), the cell's nbformat outputs taken from the gateway's execution model, per-cell
// timing and status in metadata.papermill and metadata.cellbox, the kernel deleted at the end.
#include "client/http_client.hpp"
#include "runner/run_control.hpp"

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

namespace cellbox::gateway::runner
{

struct run_options
{
    std::string kernel;            // kernelspec; "" : the notebook's, else the gateway's default
    std::optional<double> timeout; // seconds per cell (the execute API's soft limit)
    bool allow_errors = false;     // keep going after a failing cell
};

// What a run tells its caller while it goes (called from the run's thread).
class run_observer
{
public:
    virtual ~run_observer() = default;
    // Code cell `index` of `total` starts (1-based).
    virtual void cell_started(int index, int total) = 0;
    // Stream text of the running cell ("stdout" or "stderr").
    virtual void stream(const std::string& name, const std::string& text) = 0;
};

struct run_result
{
    bool ok = true; // every cell ran, and none failed unless errors were allowed
    bool interrupted = false;
    std::string failure; // the failing cell, its error and traceback, for the terminal
    int cells_run = 0;
    int cells_failed = 0;
    int code_cells = 0;
    double seconds = 0;
};

// Runs `notebook` (read_notebook, parameters injected) and fills in its outputs and metadata.
// A gateway that cannot be used throws client::gateway_error after the kernel, if any, is deleted.
run_result run_notebook(nlohmann::json& notebook, const client::http_client& client,
                        const run_options& options, run_observer& observer, run_control& control);

} // namespace cellbox::gateway::runner
