// json_check (is_json_object) and the bounded parser (json_depth_within, parse_json_bounded):
// the gateway splices a kernel's message parts into legacy frames after is_json_object alone,
// so it must accept exactly what a parser accepts as an object, and never more nesting. And
// string_members (the SAX reading of a header's fields) must read what the parsed object holds.
#include "cellbox/bounded_json.hpp"
#include "fuzz_support.hpp"
#include "protocol/json_check.hpp"
#include "protocol/message_fields.hpp"

using namespace cellbox;
using cellbox::fuzz::require;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    const std::string_view text = fuzz::text_of(data, size);
    for (const int depth : {2, 8, max_json_depth})
    {
        const bool object = gateway::is_json_object(text, depth);
        const nlohmann::json parsed = parse_json_bounded(text, depth);
        require(!object || parsed.is_object(), "what is_json_object accepts, the parser does");
        // The other way round only a byte order mark differs (nlohmann skips one; a message
        // part never starts with one).
        require(object || !parsed.is_object() || text.substr(0, 3) == "\xEF\xBB\xBF",
                "what the parser accepts as an object, is_json_object does");
        if (object)
        {
            require(json_depth_within(text, depth), "an accepted object is within the depth");
            // What the gateway forwards must survive a round trip through the parser.
            require(nlohmann::json::parse(parsed.dump()) == parsed, "a round trip keeps it");
        }
        if (!json_depth_within(text, depth))
        {
            require(parsed.is_discarded(), "too deep is never parsed");
        }
    }
    const nlohmann::json parsed = parse_json_bounded(text);
    const auto members = gateway::string_members(text, {"msg_id", "msg_type", "session", "a"});
    require(members.has_value() == parsed.is_object(), "string_members reads exactly objects");
    if (members)
    {
        const char* keys[] = {"msg_id", "msg_type", "session", "a"};
        for (std::size_t i = 0; i < 4; ++i)
        {
            require((*members)[i] == gateway::string_field(parsed, keys[i]),
                    "string_members reads what the parsed object holds");
        }
    }
    return 0;
}
