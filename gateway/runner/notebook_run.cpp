#include "runner/notebook_run.hpp"

#include "cellbox/bounded_json.hpp"
#include "runner/notebook.hpp"

#include <array>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <regex>

namespace cellbox::gateway::runner
{
namespace
{

using json = nlohmann::json;
using wall = std::chrono::system_clock;

// ISO 8601 in UTC with microseconds, as papermill writes its times.
std::string iso_time(wall::time_point when)
{
    const auto micros =
        std::chrono::duration_cast<std::chrono::microseconds>(when.time_since_epoch()).count();
    const std::time_t seconds = static_cast<std::time_t>(micros / 1000000);
    std::tm utc{};
    gmtime_r(&seconds, &utc);
    std::array<char, 64> text{};
    const std::size_t n = std::strftime(text.data(), text.size(), "%Y-%m-%dT%H:%M:%S", &utc);
    std::snprintf(text.data() + n, text.size() - n, ".%06lldZ",
                  static_cast<long long>(micros % 1000000));
    return text.data();
}

double seconds_between(wall::time_point a, wall::time_point b)
{
    return std::chrono::duration<double>(b - a).count();
}

// Outputs rebuilt from the streamed events: only when the gateway no longer has the
// execution (its kernel was deleted by Ctrl-C); the gateway's own model is used otherwise.
void follow_outputs(json& outputs, const json& event)
{
    const std::string type = event.value("type", "");
    if (type == "stream" || type == "display_data" || type == "execute_result" || type == "error")
    {
        json output = event;
        output.erase("type");
        output.erase("display_id");
        output["output_type"] = type;
        outputs.push_back(std::move(output));
    }
    else if (type == "clear_output")
    {
        outputs = json::array();
    }
}

struct cell_answer
{
    json done;    // the "done" event: status, execution_count, error, usage
    json outputs; // nbformat outputs
};

class kernel_session
{
public:
    kernel_session(const client::http_client& client, run_control& control,
                   const std::string& kernel)
        : m_client(client), m_control(control)
    {
        const json body = kernel.empty() ? json::object() : json{{"name", kernel}};
        const client::response answer =
            m_client.request(client::verb::post, "api/kernels", body.dump());
        const json parsed = parse_json_bounded(answer.body());
        // The id goes into request paths: a gateway's answer must not steer them elsewhere.
        static const std::regex kernel_id("[A-Za-z0-9-]{1,64}");
        if (answer.result_int() != 201 || !parsed.is_object() || !parsed.contains("id") ||
            !parsed["id"].is_string() ||
            !std::regex_match(parsed["id"].get_ref<const std::string&>(), kernel_id))
        {
            throw client::gateway_error("the gateway did not start a kernel" +
                                        (kernel.empty() ? std::string() : " \"" + kernel + "\"") +
                                        " (HTTP " + std::to_string(answer.result_int()) +
                                        "): " + client::error_text(answer));
        }
        m_id = parsed["id"].get<std::string>();
        m_registered = m_control.add(m_client, m_id);
    }
    kernel_session(const kernel_session&) = delete;
    kernel_session& operator=(const kernel_session&) = delete;
    ~kernel_session()
    {
        if (m_registered)
        {
            m_control.remove(m_client, m_id);
        }
        try
        {
            m_client.request(client::verb::delete_, "api/kernels/" + m_id);
        }
        catch (const client::gateway_error&)
        {
            // The gateway went away: its kernels with it.
        }
    }

    cell_answer execute(const std::string& code, const run_options& options, run_observer& observer)
    {
        json body = {{"code", code}, {"store_history", true}};
        if (options.timeout)
        {
            body["timeout"] = *options.timeout;
        }
        cell_answer answer{json(), json::array()};
        const std::string base = "api/kernels/" + m_id;
        // Only a 200 is the NDJSON stream; a refusal is read whole, to be shown.
        const client::line_reader events{
            [](const client::response& head) { return head.result_int() == 200; },
            [&](std::string_view line)
            {
                json event = parse_json_bounded(line);
                if (!event.is_object() || !event.contains("type") || !event["type"].is_string())
                {
                    return; // keepalives are objects too; anything else is not an event
                }
                const std::string type = event["type"].get<std::string>();
                if (type == "stream")
                {
                    observer.stream(event.value("name", "stdout"), event.value("text", ""));
                }
                if (type == "done")
                {
                    answer.done = std::move(event);
                    return;
                }
                follow_outputs(answer.outputs, event);
            }};
        const client::response reply =
            m_client.request(client::verb::post, base + "/execute", body.dump(),
                             {{"Accept", "application/x-ndjson"}}, &events);
        if (reply.result_int() != 200)
        {
            throw client::gateway_error("the gateway refused a cell (HTTP " +
                                        std::to_string(reply.result_int()) +
                                        "): " + client::error_text(reply));
        }
        if (!answer.done.is_object())
        {
            answer.done = {{"status", "died"},
                           {"execution_count", nullptr},
                           {"error",
                            {{"ename", "GatewayError"},
                             {"evalue", "the execution stream ended without its answer"},
                             {"traceback", json::array()}}}};
            return answer;
        }
        // The gateway's execution model holds the outputs as nbformat keeps them
        // (clear_output and update_display_data applied, streams merged).
        const std::string execution = answer.done.value("execution_id", "");
        if (!execution.empty())
        {
            const client::response kept =
                m_client.request(client::verb::get, base + "/executions/" + execution);
            const json whole = parse_json_bounded(kept.body());
            if (kept.result_int() == 200 && whole.is_object() && whole.contains("outputs") &&
                whole["outputs"].is_array())
            {
                answer.outputs = whole["outputs"];
            }
        }
        return answer;
    }

private:
    const client::http_client& m_client;
    run_control& m_control;
    std::string m_id;
    bool m_registered = false;
};

std::string kernel_of(const json& notebook, const run_options& options)
{
    if (!options.kernel.empty())
    {
        return options.kernel;
    }
    const json& metadata = notebook["metadata"];
    if (metadata.contains("kernelspec") && metadata["kernelspec"].is_object() &&
        metadata["kernelspec"].contains("name") && metadata["kernelspec"]["name"].is_string())
    {
        return metadata["kernelspec"]["name"].get<std::string>();
    }
    return "";
}

std::string describe_failure(std::size_t index, const json& count, const std::string& source,
                             const json& error, const std::string& status)
{
    std::string text = "cell " + std::to_string(index) + " (In [" +
                       (count.is_number_integer() ? count.dump() : std::string(" ")) +
                       "]) failed (" + status + "):\n";
    text += source + (source.empty() || source.back() == '\n' ? "" : "\n");
    text += "----\n";
    if (error.is_object())
    {
        for (const auto& line : error.value("traceback", json::array()))
        {
            if (line.is_string())
            {
                text += line.get<std::string>() + "\n";
            }
        }
        if (error.value("traceback", json::array()).empty())
        {
            text += error.value("ename", "") + ": " + error.value("evalue", "") + "\n";
        }
    }
    return text;
}

bool has_error_output(const json& outputs)
{
    for (const auto& output : outputs)
    {
        if (output.value("output_type", "") == "error")
        {
            return true;
        }
    }
    return false;
}

} // namespace

run_result run_notebook(json& notebook, const client::http_client& client,
                        const run_options& options, run_observer& observer, run_control& control)
{
    run_result result;
    reset_for_run(notebook);
    json& cells = notebook["cells"];
    for (const auto& cell : cells)
    {
        result.code_cells += cell["cell_type"] == "code" ? 1 : 0;
    }
    const auto start = wall::now();
    json& papermill = notebook["metadata"]["papermill"];
    if (!papermill.is_object())
    {
        papermill = json::object();
    }
    papermill["start_time"] = iso_time(start);
    papermill["exception"] = nullptr;
    auto finish = [&]
    {
        const auto end = wall::now();
        result.seconds = seconds_between(start, end);
        papermill["end_time"] = iso_time(end);
        papermill["duration"] = result.seconds;
        papermill["exception"] = !result.ok || result.cells_failed > 0;
    };
    try
    {
        kernel_session kernel(client, control, kernel_of(notebook, options));
        int code_index = 0;
        for (std::size_t i = 0; i < cells.size(); ++i)
        {
            json& cell = cells[i];
            if (cell["cell_type"] != "code")
            {
                continue;
            }
            ++code_index;
            if (control.stopped())
            {
                result.ok = false;
                result.interrupted = true;
                break;
            }
            const std::string source = cell_source(cell);
            json& timing = cell["metadata"]["papermill"];
            const auto cell_start = wall::now();
            timing["start_time"] = iso_time(cell_start);
            timing["status"] = "running";
            if (source.find_first_not_of(" \t\r\n") == std::string::npos)
            {
                timing["status"] = "completed"; // nbclient skips empty cells too
                timing["end_time"] = timing["start_time"];
                timing["duration"] = 0.0;
                continue;
            }
            observer.cell_started(code_index, result.code_cells);
            cell_answer answer = kernel.execute(source, options, observer);
            ++result.cells_run;
            const auto cell_end = wall::now();
            const std::string status = answer.done.value("status", "died");
            const json error = answer.done.value("error", json());
            if (status != "ok" && !has_error_output(answer.outputs) && error.is_object())
            {
                // A death or a refusal has no error output of the kernel's: the notebook
                // shows the gateway's explanation instead.
                answer.outputs.push_back({{"output_type", "error"},
                                          {"ename", error.value("ename", "Error")},
                                          {"evalue", error.value("evalue", "")},
                                          {"traceback", error.value("traceback", json::array())}});
            }
            cell["outputs"] = std::move(answer.outputs);
            cell["execution_count"] = answer.done.value("execution_count", json());
            timing["end_time"] = iso_time(cell_end);
            timing["duration"] = seconds_between(cell_start, cell_end);
            timing["status"] = status == "ok" ? "completed" : "failed";
            timing["exception"] = status != "ok";
            json usage = answer.done.value("usage", json::object());
            cell["metadata"]["cellbox"] = {
                {"status", status},
                {"execution_id", answer.done.value("execution_id", "")},
                {"wall_ms", usage.value("wall_ms", json())},
                {"cpu_ms", usage.value("cpu_ms", json())},
                {"peak_rss_bytes", usage.value("peak_rss_bytes", json())},
                {"truncated", answer.done.value("truncated", false)}};
            if (status == "ok")
            {
                continue;
            }
            if (control.stopped())
            {
                result.ok = false;
                result.interrupted = true;
                break;
            }
            if (result.failure.empty())
            {
                result.failure =
                    describe_failure(i, cell["execution_count"], source, error, status);
            }
            ++result.cells_failed;
            if (!options.allow_errors)
            {
                result.ok = false;
                const json count = cell["execution_count"]; // the insertions move the cell
                mark_error(notebook, i, count);
                break;
            }
        }
    }
    catch (...)
    {
        result.ok = false;
        finish();
        throw;
    }
    finish();
    return result;
}

} // namespace cellbox::gateway::runner
