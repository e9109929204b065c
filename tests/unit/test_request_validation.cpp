#include "cellbox/kernel/request_validation.hpp"

#include <catch2/catch.hpp>

using cellbox::kernel::execute_request_problem;
using nlohmann::json;

TEST_CASE("well-formed execute requests pass")
{
    CHECK_FALSE(execute_request_problem(json{{"code", "1+1"}}));
    CHECK_FALSE(execute_request_problem(json{{"code", ""},
                                             {"silent", false},
                                             {"store_history", true},
                                             {"user_expressions", json::object()},
                                             {"allow_stdin", true},
                                             {"stop_on_error", false}}));
}

TEST_CASE("malformed execute requests are named")
{
    CHECK(execute_request_problem(json::array()));
    CHECK(execute_request_problem(json::object()));
    CHECK(*execute_request_problem(json{{"code", 42}}) ==
          "execute_request content needs 'code' as a string");
    CHECK_THAT(*execute_request_problem(json{{"code", "x"}, {"silent", "no"}}),
               Catch::Contains("silent"));
    CHECK_THAT(*execute_request_problem(json{{"code", "x"}, {"user_expressions", 1}}),
               Catch::Contains("user_expressions"));
}
