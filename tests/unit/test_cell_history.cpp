#include "cellbox/kernel/cell_history.hpp"

#include <catch2/catch.hpp>

using cellbox::kernel::cell_history;
using nlohmann::json;

namespace
{
json request(json fields)
{
    return fields;
}
} // namespace

TEST_CASE("history numbers lines itself and answers tail, range and search")
{
    cell_history history;
    for (const char* code : {"a = 1", "6*7", "print(a)", "6*7"})
    {
        history.store_inputs(0, 1, code); // xeus always passes line 1
    }

    auto tail = history.process_request(request({{"hist_access_type", "tail"}, {"n", 2}}));
    CHECK(tail["status"] == "ok");
    REQUIRE(tail["history"].size() == 2);
    CHECK(tail["history"][0] == json::array({1, 3, "print(a)"}));
    CHECK(tail["history"][1] == json::array({1, 4, "6*7"}));

    auto with_output = history.process_request(
        request({{"hist_access_type", "tail"}, {"n", 1}, {"output", true}}));
    CHECK(with_output["history"][0][2].size() == 2);
    CHECK(with_output["history"][0][2][0] == "6*7");

    auto range = history.process_request(
        request({{"hist_access_type", "range"}, {"session", 1}, {"start", 2}, {"stop", 4}}));
    REQUIRE(range["history"].size() == 2);
    CHECK(range["history"][0][1] == 2);
    CHECK(range["history"][1][1] == 3);

    auto other_session = history.process_request(
        request({{"hist_access_type", "range"}, {"session", 7}, {"start", 1}, {"stop", 9}}));
    CHECK(other_session["history"].empty());

    auto search =
        history.process_request(request({{"hist_access_type", "search"}, {"pattern", "6[*]7"}}));
    CHECK(search["history"].size() == 2);
    auto unique = history.process_request(
        request({{"hist_access_type", "search"}, {"pattern", "6[*]7"}, {"unique", true}}));
    REQUIRE(unique["history"].size() == 1);
    CHECK(unique["history"][0][1] == 4); // the latest occurrence
    auto limited = history.process_request(
        request({{"hist_access_type", "search"}, {"pattern", "*"}, {"n", 3}}));
    REQUIRE(limited["history"].size() == 3);
    CHECK(limited["history"][0][1] == 2); // the last three, oldest first
}

TEST_CASE("an empty history answers with empty lists")
{
    cell_history history;
    auto tail = history.process_request(request({{"hist_access_type", "tail"}, {"n", 5}}));
    CHECK(tail["status"] == "ok");
    CHECK(tail["history"].empty());
}
