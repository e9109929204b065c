#include "protocol/message_builder.hpp"

#include "cellbox/bounded_json.hpp"
#include "protocol/connection_info.hpp"

#include <chrono>
#include <cstdio>
#include <ctime>

namespace cellbox::gateway
{

std::string iso8601_now()
{
    const auto now = std::chrono::system_clock::now();
    const std::time_t seconds = std::chrono::system_clock::to_time_t(now);
    const auto micros =
        std::chrono::duration_cast<std::chrono::microseconds>(now.time_since_epoch()).count() %
        1000000;
    std::tm utc{};
    gmtime_r(&seconds, &utc);
    char text[96]; // generous: the compiler cannot bound every field
    std::snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02d.%06lldZ", utc.tm_year + 1900,
                  utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec,
                  static_cast<long long>(micros));
    return text;
}

kernel_message make_request(const std::string& channel, const std::string& msg_type,
                            const nlohmann::json& content, const std::string& session)
{
    const nlohmann::json header = {{"msg_id", random_hex(16)}, {"msg_type", msg_type},
                                   {"session", session},       {"username", "cellbox"},
                                   {"date", iso8601_now()},    {"version", "5.3"}};
    return {channel, header.dump(), "{}", "{}", content.dump(), {}};
}

kernel_message make_stderr_notice(const std::string& parent_header, const std::string& text)
{
    kernel_message message =
        make_request("iopub", "stream", {{"name", "stderr"}, {"text", text}}, "cellbox-gateway");
    message.parent_header = parent_header;
    return message;
}

kernel_message make_reply(const std::string& channel, const std::string& msg_type,
                          const std::string& parent_header, const nlohmann::json& content)
{
    kernel_message message = make_request(channel, msg_type, content, "cellbox-gateway");
    message.parent_header = parent_header;
    return message;
}

namespace
{
constexpr std::string_view lost_idle_metadata = R"({"cellbox":{"idle_status_lost":true}})";
} // namespace

kernel_message make_lost_idle_status(const std::string& parent_header)
{
    kernel_message idle =
        make_reply("iopub", "status", parent_header, {{"execution_state", "idle"}});
    idle.metadata = lost_idle_metadata;
    return idle;
}

bool is_lost_idle_status(const kernel_message& message)
{
    return message.metadata == lost_idle_metadata;
}

std::vector<kernel_message> make_error_answer(const kernel_message& request,
                                              const std::string& ename, const std::string& evalue)
{
    const nlohmann::json header = parse_json_bounded(request.header);
    const auto type = header.is_object() ? header.find("msg_type") : header.end();
    if (type == header.end() || !type->is_string() ||
        (request.channel != "shell" && request.channel != "control"))
    {
        return {}; // input_reply, comm messages: nothing waits for an answer
    }
    const std::string msg_type = type->get<std::string>();
    const std::string suffix = "_request";
    if (msg_type.size() <= suffix.size() ||
        msg_type.compare(msg_type.size() - suffix.size(), suffix.size(), suffix) != 0)
    {
        return {};
    }
    const std::string reply_type = msg_type.substr(0, msg_type.size() - suffix.size()) + "_reply";
    const nlohmann::json traceback = nlohmann::json::array({ename + ": " + evalue});
    nlohmann::json content = {
        {"status", "error"}, {"ename", ename}, {"evalue", evalue}, {"traceback", traceback}};
    if (msg_type != "execute_request")
    {
        return {make_reply(request.channel, reply_type, request.header, content)};
    }
    content["execution_count"] = nullptr;
    return {make_reply("iopub", "error", request.header,
                       {{"ename", ename}, {"evalue", evalue}, {"traceback", traceback}}),
            make_reply(request.channel, reply_type, request.header, content),
            make_reply("iopub", "status", request.header, {{"execution_state", "idle"}})};
}

} // namespace cellbox::gateway
