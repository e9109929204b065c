#include "cellbox/kernel/kernel_options.hpp"

#include "cellbox/byte_size.hpp"
#include "cellbox/kernel/version.hpp"

#include <CLI/CLI.hpp>
#include <cctype>
#include <cmath>
#include <limits>

namespace cellbox::kernel
{

parse_result parse_kernel_options(int argc, char** argv, std::ostream& out, std::ostream& err)
{
    kernel_options options;
    std::string memory_limit;
    CLI::App app{"cellbox-kernel: a Jupyter kernel for Python with per-cell time and memory "
                 "limits"};
    app.set_version_flag("--version", std::string(version));
    auto* connection_file = app.add_option("-f,--connection-file", options.connection_file,
                                           "Jupyter connection file (tcp or ipc transport)")
                                ->check(CLI::ExistingFile);
    app.add_option("--zygote", options.zygote_socket,
                   "Run as a zygote: warm up, connect to this Unix socket and fork a sandboxed "
                   "kernel for each request on it (see README, \"Instant sessions\")")
        ->excludes(connection_file);
    options.warm_modules = {"numpy", "pandas", "matplotlib"};
    app.add_option("--warm-modules", options.warm_modules,
                   "Modules the zygote imports before forking (comma-separated)")
        ->delimiter(',');
    app.add_option("--cell-timeout", options.cell_timeout_s,
                   "Default time limit of a cell in seconds, 0 for none; a request may "
                   "override it with metadata {\"cellbox\": {\"timeout\": S}}")
        ->check(CLI::NonNegativeNumber);
    app.add_option("--memory-limit", memory_limit,
                   "Soft memory limit (bytes, or with a K/M/G suffix): allocations past it "
                   "raise MemoryError in the cell (env CELLBOX_MEMORY_LIMIT: how a gateway "
                   "sets it without knowing the kernel's command line)")
        ->envname("CELLBOX_MEMORY_LIMIT");
    try
    {
        app.parse(argc, argv);
        if (options.connection_file.empty() && options.zygote_socket.empty())
        {
            throw CLI::RequiredError("--connection-file or --zygote");
        }
        if (!memory_limit.empty())
        {
            options.memory_limit_bytes = parse_byte_size(memory_limit);
        }
    }
    catch (const CLI::ParseError& e)
    {
        return app.exit(e, out, err);
    }
    catch (const invalid_value& e)
    {
        err << "--memory-limit: " << e.what() << "\n";
        return 2;
    }
    return options;
}

std::uint64_t parse_byte_size(std::string_view text)
{
    try
    {
        return cellbox::parse_byte_size(text);
    }
    catch (const std::invalid_argument& e)
    {
        throw invalid_value(e.what());
    }
}

cell_options parse_cell_options(const nlohmann::json& request_metadata)
{
    cell_options options;
    if (!request_metadata.is_object() || !request_metadata.contains("cellbox"))
    {
        return options;
    }
    const auto& cellbox = request_metadata["cellbox"];
    if (!cellbox.is_object())
    {
        throw invalid_value("metadata.cellbox must be an object such as {\"timeout\": 2.5}");
    }
    if (auto it = cellbox.find("timeout"); it != cellbox.end() && !it->is_null())
    {
        if (!it->is_number() || !std::isfinite(it->get<double>()) || it->get<double>() < 0)
        {
            throw invalid_value("metadata.cellbox.timeout must be a number of seconds >= 0, got " +
                                it->dump());
        }
        options.timeout_s = it->get<double>();
    }
    return options;
}

} // namespace cellbox::kernel
