// The gateway's metrics registry (text exposition format) and settings parsing.
#include "app/config.hpp"
#include "telemetry/metrics.hpp"

#include <catch2/catch.hpp>
#include <map>

using namespace cellbox::gateway;

TEST_CASE("the registry renders counters, gauges and cumulative histograms")
{
    metrics_registry r;
    r.counter("requests_total", "Requests\nby code");
    r.gauge("kernels", "Kernels");
    r.histogram("latency_seconds", "Latency", {0.1, 1, 10});
    r.increment("requests_total", {{"code", "2xx"}});
    r.increment("requests_total", {{"code", "2xx"}}, 2);
    r.set("kernels", {{"state", "say \"hi\"\\"}}, 3);
    r.observe("latency_seconds", {}, 0.05);
    r.observe("latency_seconds", {}, 0.5);
    r.observe("latency_seconds", {}, 50);
    CHECK(r.render() == "# HELP kernels Kernels\n"
                        "# TYPE kernels gauge\n"
                        "kernels{state=\"say \\\"hi\\\"\\\\\"} 3\n"
                        "# HELP latency_seconds Latency\n"
                        "# TYPE latency_seconds histogram\n"
                        "latency_seconds_bucket{le=\"0.1\"} 1\n"
                        "latency_seconds_bucket{le=\"1\"} 2\n"
                        "latency_seconds_bucket{le=\"10\"} 2\n"
                        "latency_seconds_bucket{le=\"+Inf\"} 3\n"
                        "latency_seconds_sum 50.55\n"
                        "latency_seconds_count 3\n"
                        "# HELP requests_total Requests\\nby code\n"
                        "# TYPE requests_total counter\n"
                        "requests_total{code=\"2xx\"} 3\n");
    r.clear("kernels");
    CHECK(r.render().find("kernels{") == std::string::npos);
    CHECK_THROWS_AS(r.increment("kernels"), std::logic_error);
    CHECK_THROWS_AS(r.increment("undeclared"), std::logic_error);
}

TEST_CASE("settings: file, then environment, with types checked")
{
    serve_settings s;
    apply_config_text(s,
                      "port = 9000\ncell_timeout = 2\nmemory = \"512M\"\n"
                      "kernelspec_path = [\"/a\", \"/b\"]\ncull_busy = true\n",
                      "test.toml");
    CHECK(s.port == 9000);
    CHECK(s.manager.cell_timeout_s == 2);
    CHECK(s.manager.memory_limit == "512M");
    CHECK(s.kernelspec_path == std::vector<std::string>{"/a", "/b"});
    CHECK(s.manager.cull_busy);

    const std::map<std::string, std::string> env = {{"CELLBOX_PORT", "9001"},
                                                    {"CELLBOX_CULL_BUSY", "off"},
                                                    {"CELLBOX_KERNELSPEC_PATH", "/c::/d"},
                                                    {"CELLBOX_CELL_TIMEOUT", "1.5"}};
    apply_environment(s,
                      [&](const char* name) -> const char*
                      {
                          const auto it = env.find(name);
                          return it == env.end() ? nullptr : it->second.c_str();
                      });
    CHECK(s.port == 9001);
    CHECK_FALSE(s.manager.cull_busy);
    CHECK(s.kernelspec_path == std::vector<std::string>{"/c", "/d"});
    CHECK(s.manager.cell_timeout_s == 1.5);

    CHECK_THROWS_WITH(apply_config_text(s, "prot = 1\n", "x.toml"),
                      Catch::Contains("unknown key 'prot'"));
    CHECK_THROWS_WITH(apply_config_text(s, "port = -1\n", "x.toml"),
                      Catch::Contains("'port' must be an integer from 0 to 65535"));
    CHECK_THROWS_WITH(apply_config_text(s, "kernelspec_path = [1]\n", "x.toml"),
                      Catch::Contains("array of strings"));
    CHECK_THROWS_AS(apply_environment(s,
                                      [](const char* name) -> const char* {
                                          return std::string(name) == "CELLBOX_PORT" ? "8x"
                                                                                     : nullptr;
                                      }),
                    config_error);
}

TEST_CASE("settings: derived values and validation")
{
    serve_settings s;
    s.manager.runtime_dir = "/tmp/r";
    s.server.base_url = "/prefix";
    finish_settings(s);
    CHECK(s.server.token.size() == 48);
    CHECK(s.server.base_url == "/prefix/");
    CHECK(s.manager.streams.replay_timeout == std::chrono::milliseconds(300000));

    serve_settings bad;
    bad.manager.runtime_dir = "/tmp/r";
    bad.manager.cull_interval_s = 0;
    CHECK_THROWS_WITH(finish_settings(bad), Catch::Contains("cull_interval"));
    serve_settings negative;
    negative.manager.runtime_dir = "/tmp/r";
    negative.replay_timeout_s = -1;
    CHECK_THROWS_WITH(finish_settings(negative), Catch::Contains("replay_timeout"));
    CHECK(flag_name("cell_timeout_cap") == "--cell-timeout-cap");
    CHECK(env_name("cell_timeout_cap") == "CELLBOX_CELL_TIMEOUT_CAP");
}
