// `cellbox run`'s model without a gateway: papermill's typing of -p values, the Python
// literals written into the injected cell, the placement of that cell, and the checks a
// notebook's bytes go through.
#include "runner/notebook.hpp"
#include "runner/parameters.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <vector>

using namespace cellbox::gateway::runner;
using json = nlohmann::json;

namespace
{

// A vector, not a json: `{code(...)}` as one json would be that cell itself under clang (a
// braced list of one json copies it) and an array under gcc.
json notebook_of(const std::vector<json>& cells, int minor = 5)
{
    return read_notebook(json{
        {"nbformat", 4},
        {"nbformat_minor", minor},
        {"metadata", json::object()},
        {"cells", cells}}.dump());
}

json code(const std::string& source, json tags = json::array())
{
    return {{"cell_type", "code"},
            {"metadata", {{"tags", tags}}},
            {"source", source},
            {"outputs", json::array()},
            {"execution_count", nullptr}};
}

} // namespace

TEST_CASE("-p values are typed as papermill types them", "[runner]")
{
    CHECK(parse_parameter("a", "True").value == json(true));
    CHECK(parse_parameter("a", "False").literal == "False");
    CHECK(parse_parameter("a", "None").value.is_null());
    CHECK(parse_parameter("a", "42").value == json(42));
    CHECK(parse_parameter("a", "-007").literal == "-7");
    CHECK(parse_parameter("a", "+5").literal == "5");
    CHECK(parse_parameter("a", "0.25").value == json(0.25));
    CHECK(parse_parameter("a", "1e3").literal == "1e3");
    CHECK(parse_parameter("a", ".5").value.is_number_float());
    CHECK(parse_parameter("a", "nan").literal == "float(\"nan\")");
    CHECK(parse_parameter("a", "-Infinity").literal == "float(\"-inf\")");
    CHECK(parse_parameter("a", "99999999999999999999999").literal == "99999999999999999999999");
    // Anything else is a string, whatever it looks like.
    CHECK(parse_parameter("a", "true").value == json("true"));
    CHECK(parse_parameter("a", "1.2.3").value == json("1.2.3"));
    CHECK(parse_parameter("a", "[1, 2]").literal == "\"[1, 2]\"");
    CHECK(raw_parameter("a", "42").value == json("42"));
}

TEST_CASE("string values become Python literals that cannot end early", "[runner]")
{
    CHECK(python_string("plain") == "\"plain\"");
    CHECK(python_string("a\"b") == "\"a\\\"b\"");
    CHECK(python_string("back\\") == "\"back\\\\\"");
    CHECK(python_string("x\n__import__('os')") == "\"x\\n__import__('os')\"");
    CHECK(python_string(std::string("nul\0x", 5)) == "\"nul\\x00x\"");
    CHECK(python_string("\x1b\r\t") == "\"\\x1b\\r\\t\"");
    CHECK(python_string("héllo ✓") == "\"héllo ✓\"");
    CHECK_THROWS_AS(parse_parameter("a", "\xff\xfe"), parameter_error);
    CHECK_THROWS_AS(parse_parameter("a", "\xed\xa0\x80"), parameter_error); // a surrogate
}

TEST_CASE("-y takes a JSON object whose values become Python literals", "[runner]")
{
    const auto ps =
        parse_parameters_json(R"({"a": [1, 2.5, null, true], "b": {"k\"": "v\n"}, "c": "x"})");
    REQUIRE(ps.size() == 3);
    CHECK(ps[0].literal == "[1, 2.5, None, True]");
    CHECK(ps[1].literal == "{\"k\\\"\": \"v\\n\"}");
    CHECK(ps[2].value == json("x"));
    CHECK_THROWS_AS(parse_parameters_json("[1]"), parameter_error);
    CHECK_THROWS_AS(parse_parameters_json(R"({"not name": 1})"), parameter_error);
    CHECK_THROWS_AS(
        parse_parameters_json("{\"a\": " + std::string(100, '[') + std::string(100, ']') + "}"),
        parameter_error);
}

TEST_CASE("parameter names must be Python identifiers", "[runner]")
{
    CHECK(python_identifier("alpha_2"));
    CHECK(python_identifier("_"));
    CHECK(python_identifier("match")); // a soft keyword is a valid name
    for (const char* bad :
         {"", "2x", "a b", "a=1", "a;import os", "class", "None", "é", "a\n", "x.y", "a-b"})
    {
        INFO(bad);
        CHECK_FALSE(python_identifier(bad));
        CHECK_THROWS_AS(parse_parameter(bad, "1"), parameter_error);
    }
}

TEST_CASE("the injected cell assigns every parameter once, the last value winning", "[runner]")
{
    const std::vector<parameter> ps = {parse_parameter("a", "1"), parse_parameter("b", "x"),
                                       parse_parameter("a", "2")};
    CHECK(parameters_source(ps) == "# Parameters\nb = \"x\"\na = 2\n");
    CHECK(parameters_json(ps) == json{{"a", 2}, {"b", "x"}});
}

TEST_CASE("the injected cell follows the parameters cell, else opens the notebook", "[runner]")
{
    const std::vector<parameter> ps = {parse_parameter("n", "3")};
    json with = notebook_of({code("x = 1"), code("n = 1", {"parameters"}), code("print(n)")});
    inject_parameters(with, ps);
    REQUIRE(with["cells"].size() == 4);
    CHECK(has_tag(with["cells"][2], injected_tag));
    CHECK(cell_source(with["cells"][2]) == "# Parameters\nn = 3\n");
    CHECK(with["cells"][2]["id"].is_string());
    CHECK(with["metadata"]["papermill"]["parameters"] == json{{"n", 3}});

    json without = notebook_of({code("print(n)")});
    inject_parameters(without, ps);
    CHECK(has_tag(without["cells"][0], injected_tag));

    // A notebook run before: its injected cell is replaced, not doubled.
    inject_parameters(with, {parse_parameter("n", "4")});
    REQUIRE(with["cells"].size() == 4);
    CHECK(cell_source(with["cells"][2]) == "# Parameters\nn = 4\n");

    // nbformat 4.4 cells have no ids: none is added.
    json old = notebook_of({code("n = 1", {"parameters"})}, 4);
    inject_parameters(old, ps);
    CHECK_FALSE(old["cells"][1].contains("id"));
}

TEST_CASE("a run starts from clean cells and a failure leaves papermill's markers", "[runner]")
{
    json nb = notebook_of({code("1"), code("2"), code("3")});
    nb["cells"][0]["outputs"] = json::array({json{{"output_type", "stream"}}});
    nb["cells"][0]["execution_count"] = 7;
    reset_for_run(nb);
    CHECK(nb["cells"][0]["outputs"].empty());
    CHECK(nb["cells"][0]["execution_count"].is_null());
    CHECK(nb["cells"][1]["metadata"]["papermill"]["status"] == "pending");

    const std::size_t moved = mark_error(nb, 1, json(2));
    REQUIRE(nb["cells"].size() == 5);
    CHECK(moved == 3);
    CHECK(cell_source(nb["cells"][moved]) == "2");
    CHECK(has_tag(nb["cells"][0], error_tag));
    CHECK(cell_source(nb["cells"][0]).find("In [2]") != std::string::npos);
    CHECK(cell_source(nb["cells"][2]).find("papermill-error-cell") != std::string::npos);
    // A second run drops the markers of the first.
    reset_for_run(nb);
    CHECK(nb["cells"].size() == 3);
}

TEST_CASE("bytes that are not a notebook are refused with the reason", "[runner]")
{
    auto refused = [](const std::string& text)
    {
        try
        {
            read_notebook(text);
        }
        catch (const notebook_error& e)
        {
            return std::string(e.what());
        }
        return std::string("accepted");
    };
    CHECK(refused("{").find("not JSON") != std::string::npos);
    CHECK(refused("[]").find("not a JSON object") != std::string::npos);
    CHECK(refused(R"({"nbformat": 3, "nbformat_minor": 0, "cells": []})").find("nbformat") !=
          std::string::npos);
    CHECK(refused(R"({"nbformat": 4, "nbformat_minor": 5, "cells": {}})").find("cells") !=
          std::string::npos);
    CHECK(
        refused(
            R"({"nbformat": 4, "nbformat_minor": 5, "cells": [{"cell_type": "evil", "source": ""}]})")
            .find("cell 0") != std::string::npos);
    CHECK(
        refused(
            R"({"nbformat": 4, "nbformat_minor": 5, "cells": [{"cell_type": "code", "source": [1]}]})")
            .find("source") != std::string::npos);
    CHECK(
        refused(
            R"({"nbformat": 4, "nbformat_minor": 5, "cells": [{"cell_type": "code", "source": "", "id": "a"}, {"cell_type": "code", "source": "", "id": "a"}]})")
            .find("duplicate") != std::string::npos);
    CHECK(refused(std::string(100000, '[')).find("not JSON") != std::string::npos);
    // Cells of 4.5 without ids get one; a missing metadata is added.
    const json nb = read_notebook(
        R"({"nbformat": 4, "nbformat_minor": 5, "cells": [{"cell_type": "markdown", "source": ["a", "b"]}]})");
    CHECK(nb["cells"][0]["id"].is_string());
    CHECK(nb["cells"][0]["metadata"].is_object());
    CHECK(cell_source(nb["cells"][0]) == "ab");
}
