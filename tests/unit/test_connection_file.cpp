#include "cellbox/kernel/connection_file.hpp"

#include <catch2/catch.hpp>
#include <cstdio>
#include <fstream>
#include <string>

using namespace cellbox::kernel;

namespace
{
std::string write_file(const std::string& text)
{
    const std::string path = "cellbox-connection-test.json";
    std::ofstream(path) << text;
    return path;
}

const std::string valid_ports =
    R"("shell_port": 5001, "iopub_port": 5002, "stdin_port": 5003, "control_port": 5004, "hb_port": 5005)";
} // namespace

TEST_CASE("tcp and ipc connection files load")
{
    auto path = write_file(R"({"transport": "tcp", "ip": "127.0.0.1", "key": "secret", )" +
                           valid_ports + "}");
    auto tcp = load_connection_file(path);
    CHECK(tcp.m_transport == "tcp");
    CHECK(tcp.m_shell_port == "5001");
    CHECK(tcp.m_hb_port == "5005");
    CHECK(tcp.m_key == "secret");
    CHECK(tcp.m_signature_scheme == "hmac-sha256");

    path = write_file(R"({"transport": "ipc", "ip": "/tmp/k/kernel", "key": "", )" + valid_ports +
                      "}");
    auto ipc = load_connection_file(path);
    CHECK(ipc.m_transport == "ipc");
    CHECK(ipc.m_ip == "/tmp/k/kernel");
    CHECK(ipc.m_signature_scheme.empty()); // no key, no signatures
    std::remove(path.c_str());
}

TEST_CASE("bad connection files are rejected with the reason")
{
    auto path = write_file("{not json");
    CHECK_THROWS_WITH(load_connection_file(path), Catch::Contains("not valid JSON"));

    path = write_file(R"({"transport": "udp", "ip": "x", )" + valid_ports + "}");
    CHECK_THROWS_WITH(load_connection_file(path), Catch::Contains("transport"));

    path = write_file(
        R"({"transport": "tcp", "ip": "127.0.0.1", "control_port": 5004, )"
        R"("shell_port": "5001", "stdin_port": 5003, "iopub_port": 5002, "hb_port": 1})");
    CHECK_THROWS_WITH(load_connection_file(path), Catch::Contains("shell_port"));

    path = write_file(R"({"ip": "127.0.0.1", "signature_scheme": "hmac-md5", "key": "k", )" +
                      valid_ports + "}");
    CHECK_THROWS_WITH(load_connection_file(path), Catch::Contains("signature_scheme"));

    CHECK_THROWS_AS(load_connection_file("/nonexistent/file.json"), invalid_connection_file);
    std::remove(path.c_str());
}
