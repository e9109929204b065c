#include "cellbox/kernel/kernel_options.hpp"

#include <catch2/catch.hpp>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

using namespace cellbox::kernel;
using nlohmann::json;

namespace
{
parse_result parse(std::vector<std::string> args, std::string* errors = nullptr)
{
    args.insert(args.begin(), "cellbox-kernel");
    std::vector<char*> argv;
    for (auto& a : args)
    {
        argv.push_back(a.data());
    }
    std::ostringstream out, err;
    auto result = parse_kernel_options(static_cast<int>(argv.size()), argv.data(), out, err);
    if (errors != nullptr)
    {
        *errors = err.str();
    }
    return result;
}

std::string existing_file()
{
    const std::string path = "cellbox-options-test.json";
    std::ofstream(path) << "{}";
    return path;
}
} // namespace

TEST_CASE("byte sizes accept plain numbers and binary units")
{
    CHECK(parse_byte_size("1073741824") == 1073741824ULL);
    CHECK(parse_byte_size("512M") == 512ULL << 20);
    CHECK(parse_byte_size("512MiB") == 512ULL << 20);
    CHECK(parse_byte_size("1g") == 1ULL << 30);
    CHECK(parse_byte_size("1.5GiB") == 3ULL << 29);
    CHECK(parse_byte_size("64k") == 64ULL << 10);
    CHECK_THROWS_AS(parse_byte_size(""), invalid_value);
    CHECK_THROWS_AS(parse_byte_size("lots"), invalid_value);
    CHECK_THROWS_AS(parse_byte_size("12 parsecs"), invalid_value);
    CHECK_THROWS_AS(parse_byte_size("0"), invalid_value);
    CHECK_THROWS_WITH(parse_byte_size("5X"), Catch::Contains("unknown size unit"));
}

TEST_CASE("cell options come from metadata.cellbox")
{
    CHECK_FALSE(parse_cell_options(json::object()).timeout_s);
    CHECK_FALSE(parse_cell_options(json{{"other", 1}}).timeout_s);
    CHECK(parse_cell_options(json{{"cellbox", {{"timeout", 2.5}}}}).timeout_s == 2.5);
    CHECK(parse_cell_options(json{{"cellbox", {{"timeout", 0}}}}).timeout_s == 0.0);
    CHECK_FALSE(parse_cell_options(json{{"cellbox", {{"timeout", nullptr}}}}).timeout_s);
    CHECK_THROWS_AS(parse_cell_options(json{{"cellbox", {{"timeout", "soon"}}}}), invalid_value);
    CHECK_THROWS_AS(parse_cell_options(json{{"cellbox", {{"timeout", -1}}}}), invalid_value);
    CHECK_THROWS_AS(parse_cell_options(json{{"cellbox", 3}}), invalid_value);
}

TEST_CASE("the command line gives the connection file and the limits")
{
    const std::string file = existing_file();
    auto result = parse({"-f", file, "--cell-timeout", "2.5", "--memory-limit", "1G"});
    REQUIRE(std::holds_alternative<kernel_options>(result));
    const auto& options = std::get<kernel_options>(result);
    CHECK(options.connection_file == file);
    CHECK(options.cell_timeout_s == 2.5);
    REQUIRE(options.memory_limit_bytes);
    CHECK(*options.memory_limit_bytes == 1ULL << 30);

    auto defaults = parse({"-f", file});
    REQUIRE(std::holds_alternative<kernel_options>(defaults));
    CHECK(std::get<kernel_options>(defaults).cell_timeout_s == 0);
    CHECK_FALSE(std::get<kernel_options>(defaults).memory_limit_bytes);
    std::remove(file.c_str());
}

TEST_CASE("bad command lines exit non-zero with a message")
{
    const std::string file = existing_file();
    std::string errors;
    auto missing = parse({}, &errors);
    REQUIRE(std::holds_alternative<int>(missing));
    CHECK(std::get<int>(missing) != 0);

    auto negative = parse({"-f", file, "--cell-timeout", "-3"}, &errors);
    REQUIRE(std::holds_alternative<int>(negative));
    CHECK(std::get<int>(negative) != 0);

    auto bad_size = parse({"-f", file, "--memory-limit", "huge"}, &errors);
    REQUIRE(std::holds_alternative<int>(bad_size));
    CHECK(std::get<int>(bad_size) != 0);
    CHECK_THAT(errors, Catch::Contains("--memory-limit"));

    auto no_file = parse({"-f", "/nonexistent/connection.json"}, &errors);
    REQUIRE(std::holds_alternative<int>(no_file));
    CHECK(std::get<int>(no_file) != 0);

    auto version = parse({"--version"});
    REQUIRE(std::holds_alternative<int>(version));
    CHECK(std::get<int>(version) == 0);
    std::remove(file.c_str());
}
