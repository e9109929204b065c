#include "protocol/json_check.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

using cellbox::gateway::is_json_object;

namespace
{

// What the gateway would have accepted by parsing the part with nlohmann::json.
bool nlohmann_says_object(const std::string& text)
{
    if (!nlohmann::json::accept(text))
    {
        return false;
    }
    return nlohmann::json::parse(text).is_object();
}

} // namespace

TEST_CASE("JSON objects are recognised without being parsed")
{
    for (const std::string good :
         {R"({})", R"( { } )", R"({"a":1})", R"({"a":[1,2.5,-3e+2,0,true,false,null,{}]})",
          R"({"text":"line\n\"quoted\" \\ \/ \u00e9 \ud83d\ude00"})",
          "{\"utf8\":\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"}",
          R"({"nested":{"deeper":{"list":[[],[{}]]}}})", "\t{\r\n\"a\" :\t[ ]\n}\n"})
    {
        CAPTURE(good);
        CHECK(is_json_object(good));
    }
    for (const std::string bad : {"",
                                  "[]",
                                  "\"text\"",
                                  "1",
                                  "{",
                                  "}",
                                  R"({"a"})",
                                  R"({"a":})",
                                  R"({"a":1,})",
                                  R"({"a":[1,]})",
                                  R"({a:1})",
                                  R"({"a":01})",
                                  R"({"a":1.})",
                                  R"({"a":.5})",
                                  R"({"a":1e})",
                                  R"({"a":tru})",
                                  R"({"a":"\x"})",
                                  R"({"a":"\u12"})",
                                  R"({"a":"\ud83d"})",
                                  R"({"a":"\ude00"})",
                                  "{\"a\":\"tab\tinside\"}",
                                  "{\"a\":\"\xc0\xaf\"}",
                                  "{\"a\":\"\xed\xa0\x80\"}",
                                  "{\"a\":\"\xf4\x90\x80\x80\"}",
                                  "{\"a\":\"\xe2\x82\"}",
                                  R"({"a":1} {})",
                                  R"({"a":1}x)",
                                  R"({"a":"unterminated})",
                                  R"({"a":1}, "channel": "shell"})"})
    {
        CAPTURE(bad);
        CHECK_FALSE(is_json_object(bad));
    }
}

TEST_CASE("hostile nesting is refused, not recursed into")
{
    const std::string deep = "{\"a\":" + std::string(100000, '[') + std::string(100000, ']') + "}";
    CHECK_FALSE(is_json_object(deep));
    const std::string fine = "{\"a\":" + std::string(100, '[') + std::string(100, ']') + "}";
    CHECK(is_json_object(fine));
}

TEST_CASE("the recogniser agrees with nlohmann::json on mutated documents")
{
    const std::vector<std::string> seeds = {
        R"({"name":"stdout","text":"hello\nworld\u00e9 \ud83d\ude00"})",
        R"({"data":{"text/plain":"42","image/png":"iVBORw0KGgo="},"metadata":{},"execution_count":3})",
        R"({"a":[1,-2.5e-3,true,false,null,{"b":[]},"s"],"c":{}})",
        "{\"utf8\":\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"}"};
    const std::string alphabet = "{}[]\",:\\/ubfnrt0123456789.eE+-aAfF \t\n\x01\x7f\xc3\xa9\xed\xa0"
                                 "\xf0\x9f\x98\x80\xc0\xff";
    std::mt19937 random(20261122);
    int agreed = 0;
    for (int round = 0; round < 30000; ++round)
    {
        std::string text = seeds[random() % seeds.size()];
        const int edits = 1 + static_cast<int>(random() % 3);
        for (int e = 0; e < edits && !text.empty(); ++e)
        {
            const std::size_t at = random() % text.size();
            const char c = alphabet[random() % alphabet.size()];
            switch (random() % 3)
            {
            case 0:
                text[at] = c;
                break;
            case 1:
                text.insert(text.begin() + static_cast<long>(at), c);
                break;
            default:
                text.erase(at, 1);
            }
        }
        const bool ours = is_json_object(text);
        const bool theirs = nlohmann_says_object(text);
        if (ours != theirs)
        {
            FAIL_CHECK("disagreement on: " << text << " (ours " << ours << ")");
        }
        agreed += ours ? 1 : 0;
    }
    // The mutations must exercise both answers, or the comparison proves little.
    CHECK(agreed > 100);
    CHECK(agreed < 29900);
}
