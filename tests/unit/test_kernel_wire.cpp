// The gateway's wire layer against a real cellbox-kernel over ipc://: our signatures are
// accepted, the kernel's verify, and a message with a bad signature is ignored.
#include "protocol/connection_info.hpp"
#include "protocol/message_builder.hpp"
#include "protocol/wire_codec.hpp"
#include "protocol/zmq_frames.hpp"

#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <signal.h>
#include <string>
#include <sys/wait.h>
#include <unistd.h>
#include <zmq_addon.hpp>

using namespace cellbox::gateway;
using nlohmann::json;

namespace
{

std::vector<std::string> receive(zmq::socket_t& socket, int timeout_ms)
{
    zmq::pollitem_t item{socket.handle(), 0, ZMQ_POLLIN, 0};
    if (zmq::poll(&item, 1, std::chrono::milliseconds(timeout_ms)) == 0)
    {
        return {};
    }
    return receive_frames(socket);
}

void send(zmq::socket_t& socket, const std::vector<std::string>& frames)
{
    REQUIRE(send_frames(socket, frames));
}

struct kernel_process
{
    pid_t pid = -1;
    ~kernel_process()
    {
        if (pid > 0)
        {
            kill(pid, SIGKILL);
            waitpid(pid, nullptr, 0);
        }
    }
};

} // namespace

TEST_CASE("a real kernel accepts our signed messages and signs its own")
{
    char directory_template[] = "/tmp/cellbox-wire-XXXXXX";
    const std::string directory = mkdtemp(directory_template);
    const connection_info info = make_ipc_connection(directory);
    const std::string connection_file = directory + "/kernel.json";
    write_connection_file(info, connection_file);

    kernel_process kernel;
    kernel.pid = fork();
    if (kernel.pid == 0)
    {
        execl(CELLBOX_KERNEL_PATH, CELLBOX_KERNEL_PATH, "-f", connection_file.c_str(), nullptr);
        _exit(127);
    }
    zmq::context_t context;
    zmq::socket_t shell(context, zmq::socket_type::dealer);
    shell.set(zmq::sockopt::routing_id, "wire-test");
    shell.set(zmq::sockopt::linger, 0);
    shell.connect(info.endpoint(info.shell_port));
    zmq::socket_t iopub(context, zmq::socket_type::sub);
    iopub.set(zmq::sockopt::subscribe, "");
    iopub.set(zmq::sockopt::linger, 0);
    iopub.connect(info.endpoint(info.iopub_port));
    const message_signer signer(info.key);

    // A forged request first: the kernel must drop it (no reply).
    const message_signer forger("not-the-key");
    send(shell, encode_wire(make_request("shell", "kernel_info_request", json::object(), "w"), {},
                            forger));

    // Requests sent before the kernel binds are queued and all answered: any of ours will do.
    std::vector<std::string> reply;
    std::vector<std::string> request_ids;
    for (int attempt = 0; attempt < 100 && reply.empty(); ++attempt)
    {
        const kernel_message request =
            make_request("shell", "kernel_info_request", json::object(), "w");
        request_ids.push_back(json::parse(request.header)["msg_id"]);
        send(shell, encode_wire(request, {}, signer));
        reply = receive(shell, 200);
    }
    REQUIRE_FALSE(reply.empty());
    const kernel_message info_reply = decode_wire(reply, "shell", signer);
    const std::string answered = json::parse(info_reply.parent_header)["msg_id"];
    CHECK(std::find(request_ids.begin(), request_ids.end(), answered) != request_ids.end());
    CHECK(json::parse(info_reply.content)["implementation"] == "cellbox");
    CHECK_THROWS_AS(decode_wire(reply, "shell", forger), protocol_error);

    // The iopub subscription may reach the kernel after its shell answers: a SUB that
    // connected before the kernel bound retries on its own timer, and a PUB drops what it
    // publishes before the subscription arrives (ZeroMQ's slow joiner; CI saw the cell's
    // output lost). As jupyter_client does, nudge with kernel_info until iopub speaks.
    bool iopub_heard = false;
    for (int attempt = 0; attempt < 100 && !iopub_heard; ++attempt)
    {
        send(shell, encode_wire(make_request("shell", "kernel_info_request", json::object(), "w"),
                                {}, signer));
        iopub_heard = !receive(iopub, 200).empty();
    }
    REQUIRE(iopub_heard);

    const kernel_message execute =
        make_request("shell", "execute_request",
                     {{"code", "print(6 * 7)"}, {"silent", false}, {"allow_stdin", false}}, "w");
    const std::string execute_id = json::parse(execute.header)["msg_id"];
    send(shell, encode_wire(execute, {}, signer));
    std::string printed;
    // Bounded by time, not by message count: every kernel_info_request queued while the kernel
    // started publishes its own busy/idle pair first, and a slow start queues dozens of them.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (std::chrono::steady_clock::now() < deadline)
    {
        const auto frames = receive(iopub, 200);
        if (frames.empty())
        {
            continue;
        }
        const kernel_message published = decode_wire(frames, "iopub", signer);
        const json header = json::parse(published.header);
        if (json::parse(published.parent_header).value("msg_id", "") != execute_id)
        {
            continue;
        }
        if (header["msg_type"] == "stream")
        {
            printed += json::parse(published.content)["text"].get<std::string>();
        }
        if (header["msg_type"] == "status" &&
            json::parse(published.content)["execution_state"] == "idle")
        {
            break;
        }
    }
    CHECK(printed == "42\n");
    std::system(("rm -rf " + directory).c_str());
}
