#include "executions/execution.hpp"

#include "cellbox/bounded_json.hpp"
#include "protocol/message_builder.hpp"

namespace cellbox::gateway
{
namespace
{

using json = nlohmann::json;

// The gateway's own answers (a death, a kill at the hard limit, a refused request) come from
// this session (protocol/message_builder.cpp); the kernel's never do.
constexpr const char* gateway_session = "cellbox-gateway";

json object_part(const std::string& text)
{
    json value = parse_json_bounded(text);
    return value.is_object() ? value : json::object();
}

std::string string_of(const json& object, const char* key)
{
    const auto it = object.find(key);
    return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

bool is_image(const std::string& mime)
{
    // SVG is text: cut like text, not dropped like a picture.
    return mime.rfind("image/", 0) == 0 && mime != "image/svg+xml";
}

// nbformat joins a multiline string value given as a list of lines.
std::string joined(const json& value)
{
    if (value.is_string())
    {
        return value.get<std::string>();
    }
    std::string text;
    if (value.is_array())
    {
        for (const auto& line : value)
        {
            if (line.is_string())
            {
                text += line.get<std::string>();
            }
        }
    }
    return text;
}

} // namespace

execution::execution(std::string id, std::string msg_id, output_budget budget,
                     clock::time_point now)
    : m_id(std::move(id)), m_msg_id(std::move(msg_id)), m_budget(std::move(budget)), m_started(now)
{
}

void execution::add_event(const std::string& type, json fields)
{
    if (type != "done" && m_events.size() >= max_events)
    {
        ++m_dropped_events;
        return;
    }
    fields["type"] = type;
    m_events.push_back({type, fields.dump(-1, ' ', false, json::error_handler_t::replace)});
}

void execution::add_output(json output)
{
    if (m_clear_pending)
    {
        m_outputs = json::array();
        m_displays.clear();
        m_clear_pending = false;
    }
    const std::string type = output["output_type"].get<std::string>();
    if (type == "stream" && !m_outputs.empty() && m_outputs.back()["output_type"] == "stream" &&
        m_outputs.back()["name"] == output["name"])
    {
        // nbformat merges consecutive stream outputs of one name.
        m_outputs.back()["text"] =
            m_outputs.back()["text"].get<std::string>() + output["text"].get<std::string>();
        return;
    }
    if (m_outputs.size() >= max_events)
    {
        m_outputs_capped = true; // its event was kept or counted already
        return;
    }
    m_outputs.push_back(std::move(output));
}

void execution::emit_stream(const std::string& name, const std::string& text)
{
    if (text.empty())
    {
        return;
    }
    (name == "stderr" ? m_stderr : m_stdout) += text;
    add_event("stream", {{"name", name}, {"text", text}});
    add_output({{"output_type", "stream"}, {"name", name}, {"text", text}});
}

void execution::on_stream(const json& content)
{
    std::string name = string_of(content, "name");
    if (name != "stderr")
    {
        name = "stdout";
    }
    emit_stream(name, m_budget.take_stream(name, joined(content.value("text", json()))));
}

json execution::budget_bundle(const json& data)
{
    json kept = json::object();
    if (!data.is_object())
    {
        return kept;
    }
    std::vector<std::string> dropped;
    for (const auto& [mime, value] : data.items())
    {
        if (is_image(mime))
        {
            const std::string text = joined(value);
            if (m_budget.take_image(text.size()))
            {
                kept[mime] = value;
            }
            else
            {
                dropped.push_back(mime + " of " + std::to_string(text.size()) + " bytes");
            }
        }
        else if (value.is_string() || value.is_array())
        {
            kept[mime] = m_budget.take_text(joined(value));
        }
        else
        {
            // application/json and the like: kept whole if its text fits, else cut as text.
            const std::string text = value.dump();
            std::string cut = m_budget.take_text(text);
            if (cut.size() == text.size())
            {
                kept[mime] = value;
            }
            else
            {
                kept[mime] = std::move(cut);
            }
        }
    }
    if (!dropped.empty())
    {
        std::string note = "[cellbox dropped ";
        for (std::size_t i = 0; i < dropped.size(); ++i)
        {
            note += (i > 0 ? ", " : "") + dropped[i];
        }
        note += ": over max_image_bytes]";
        kept["text/plain"] = kept.contains("text/plain")
                                 ? kept["text/plain"].get<std::string>() + "\n" + note
                                 : note;
    }
    return kept;
}

bool execution::on_message(const kernel_message& message, clock::time_point now)
{
    if (m_done)
    {
        return false;
    }
    const json header = object_part(message.header);
    const std::string type = string_of(header, "msg_type");
    const std::size_t before = m_events.size();
    const bool had_reply = m_reply.has_value();
    const json content = object_part(message.content);
    if (message.channel == "shell")
    {
        if (type == "execute_reply" && !m_reply)
        {
            on_reply(header, content, object_part(message.metadata), now);
        }
    }
    else if (type == "status" && !is_lost_idle_status(message))
    {
        // (The gateway's stand-in for a lost idle status is left to the runner's own grace,
        // which ends the execution with its warning that output may be lost.)
        const std::string state = string_of(content, "execution_state");
        m_idle = m_idle || state == "idle";
        m_began = m_began || state == "busy";
    }
    else if (type == "execute_input")
    {
        m_began = true;
        if (content.contains("execution_count"))
        {
            m_execution_count = content["execution_count"];
        }
    }
    else if (type == "stream")
    {
        on_stream(content);
    }
    else if (type == "display_data" || type == "execute_result")
    {
        json data = budget_bundle(content.value("data", json::object()));
        json metadata = content.value("metadata", json::object());
        json output = {{"output_type", type}, {"data", data}, {"metadata", metadata}};
        json fields = {{"data", data}, {"metadata", metadata}};
        if (type == "execute_result")
        {
            output["execution_count"] = content.value("execution_count", json());
            fields["execution_count"] = output["execution_count"];
            m_result = data;
        }
        const json transient = content.value("transient", json::object());
        const std::string display_id =
            transient.is_object() ? string_of(transient, "display_id") : std::string();
        if (!display_id.empty())
        {
            fields["display_id"] = display_id;
        }
        add_event(type, std::move(fields));
        add_output(std::move(output));
        if (!display_id.empty() && m_displays[display_id].size() < max_events)
        {
            m_displays[display_id].push_back(m_outputs.size() - 1);
        }
    }
    else if (type == "update_display_data")
    {
        json data = budget_bundle(content.value("data", json::object()));
        json metadata = content.value("metadata", json::object());
        const json transient = content.value("transient", json::object());
        const std::string display_id =
            transient.is_object() ? string_of(transient, "display_id") : std::string();
        for (const std::size_t index : m_displays[display_id])
        {
            if (index < m_outputs.size())
            {
                m_outputs[index]["data"] = data;
                m_outputs[index]["metadata"] = metadata;
            }
        }
        add_event(type, {{"data", data}, {"metadata", metadata}, {"display_id", display_id}});
    }
    else if (type == "clear_output")
    {
        const bool wait = content.value("wait", json(false)).is_boolean() &&
                          content.value("wait", json(false)).get<bool>();
        if (wait)
        {
            m_clear_pending = true;
        }
        else
        {
            m_outputs = json::array();
            m_displays.clear();
        }
        add_event(type, {{"wait", wait}});
    }
    else if (type == "error")
    {
        json traceback = json::array();
        for (const auto& line : content.value("traceback", json::array()))
        {
            traceback.push_back(
                m_budget.take_text(line.is_string() ? line.get<std::string>() : line.dump()));
        }
        json fields = {{"ename", string_of(content, "ename")},
                       {"evalue", m_budget.take_text(string_of(content, "evalue"))},
                       {"traceback", traceback}};
        add_event(type, fields);
        fields["output_type"] = "error";
        add_output(std::move(fields));
    }
    if (m_reply && m_idle)
    {
        finish(now);
    }
    return m_events.size() != before || m_reply.has_value() != had_reply || m_done;
}

void execution::on_reply(const json& header, const json& content, const json& metadata,
                         clock::time_point now)
{
    m_reply = content;
    m_wall_ms = std::chrono::duration<double, std::milli>(now - m_started).count();
    if (content.contains("execution_count") && !content["execution_count"].is_null())
    {
        m_execution_count = content["execution_count"];
    }
    const auto usage = metadata.find("cellbox");
    if (usage != metadata.end() && usage->is_object())
    {
        m_kernel_usage = *usage;
    }
    const std::string status = string_of(content, "status");
    const std::string ename = string_of(content, "ename");
    if (status == "ok")
    {
        m_status = "ok";
        return;
    }
    if (status == "aborted")
    {
        m_status = "aborted";
        return;
    }
    m_error = {{"ename", ename},
               {"evalue", string_of(content, "evalue")},
               {"traceback", content.value("traceback", json::array())}};
    if (!m_error["traceback"].is_array())
    {
        m_error["traceback"] = json::array();
    }
    if (string_of(header, "session") == gateway_session)
    {
        m_status = "died"; // killed at the hard limit, out of memory, crashed, refused
    }
    else if (ename == "CellTimeoutError")
    {
        m_status = "timeout"; // the kernel stopped the cell itself: its state is kept
    }
    else if (ename == "KeyboardInterrupt" && m_interrupted)
    {
        m_status = "aborted";
    }
    else
    {
        m_status = "error";
    }
}

void execution::echo_input(const std::string& prompt, const std::string& value)
{
    if (!m_done)
    {
        on_stream({{"name", "stdout"}, {"text", prompt + value + "\n"}});
    }
}

void execution::end_died(const std::string& ename, const std::string& evalue, clock::time_point now)
{
    if (m_done)
    {
        return;
    }
    if (!m_reply)
    {
        m_reply = json::object();
        m_status = "died";
        m_error = {{"ename", ename}, {"evalue", evalue}, {"traceback", json::array()}};
        m_wall_ms = std::chrono::duration<double, std::milli>(now - m_started).count();
    }
    finish(now);
}

void execution::end_now(clock::time_point now)
{
    if (!m_done && m_reply)
    {
        finish(now);
    }
}

void execution::finish(clock::time_point)
{
    for (auto& piece : m_budget.finish_streams())
    {
        emit_stream(piece.name, piece.text);
    }
    m_done = true;
    add_event("done", result(false));
}

json execution::result(bool with_outputs) const
{
    const auto number_or_null = [this](const char* key) -> json
    {
        const auto it = m_kernel_usage.find(key);
        return it != m_kernel_usage.end() && it->is_number() ? *it : json();
    };
    json usage = {{"wall_ms", m_wall_ms ? json(static_cast<std::int64_t>(*m_wall_ms)) : json()},
                  {"cpu_ms", number_or_null("cpu_ms")},
                  {"peak_rss_bytes", number_or_null("peak_rss_bytes")},
                  {"cut_bytes", m_budget.cut_bytes()},
                  {"cut_image_bytes", m_budget.cut_image_bytes()},
                  {"dropped_events", m_dropped_events}};
    json answer = {{"execution_id", m_id},
                   {"status", m_status},
                   {"execution_count", m_execution_count},
                   {"result", m_result},
                   {"stdout", m_stdout},
                   {"stderr", m_stderr},
                   {"error", m_error},
                   {"usage", usage},
                   {"truncated", m_budget.truncated() || m_dropped_events > 0 || m_outputs_capped}};
    if (with_outputs)
    {
        answer["outputs"] = m_outputs;
    }
    return answer;
}

} // namespace cellbox::gateway
