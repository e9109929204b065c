"""The rest of the kernel protocol: kernel_info, comms, stdin, stop_on_error, shutdown,
ipc transport, connection-file and request validation."""

import json
import os
import subprocess
import tempfile
import textwrap
import time

import pytest

from conftest import Kernel, of_type, stdout_of

KERNEL_BINARY = os.path.join(os.environ.get("CELLBOX_BUILD_DIR", "build"), "bin", "cellbox-kernel")


def test_kernel_info(kernel):
    kernel.client.kernel_info()
    reply = kernel.client.get_shell_msg(timeout=10)
    content = reply["content"]
    assert content["status"] == "ok"
    assert content["protocol_version"] == "5.3"
    assert content["implementation"] == "cellbox"
    assert content["language_info"]["name"] == "python"
    assert content["language_info"]["version"].startswith("3.")
    assert content["debugger"] is False


def test_comm_from_the_frontend(kernel):
    kernel.execute(textwrap.dedent(
        """
        received = []
        def on_open(comm, open_msg):
            received.append(open_msg["content"]["data"])
            @comm.on_msg
            def echo(msg):
                received.append(msg["content"]["data"])
                comm.send({"echo": msg["content"]["data"]["value"]})
        get_ipython().kernel.comm_manager.register_target("cellbox.test", on_open)
        """))
    comm_id = "comm-under-test"
    client = kernel.client
    client.shell_channel.send(client.session.msg(
        "comm_open", {"comm_id": comm_id, "target_name": "cellbox.test", "data": {"hello": 1}}))
    client.shell_channel.send(client.session.msg(
        "comm_msg", {"comm_id": comm_id, "data": {"value": 7}}))
    echo = None
    deadline = time.monotonic() + 10
    while echo is None and time.monotonic() < deadline:
        msg = client.get_iopub_msg(timeout=10)
        if msg["msg_type"] == "comm_msg" and msg["content"]["comm_id"] == comm_id:
            echo = msg["content"]["data"]
    assert echo == {"echo": 7}

    info_id = client.comm_info()
    info = kernel.reply(info_id)
    assert info["content"]["comms"][comm_id]["target_name"] == "cellbox.test"

    client.shell_channel.send(client.session.msg("comm_close", {"comm_id": comm_id, "data": {}}))
    time.sleep(0.3)
    _, outputs = kernel.execute("print(received)")
    assert stdout_of(outputs) == "[{'hello': 1}, {'value': 7}]\n"


def test_comm_from_the_kernel(kernel):
    reply, outputs = kernel.execute(
        "from ipykernel.comm import Comm\nc = Comm(target_name='cellbox.widget', data={'v': 1})")
    assert reply["content"]["status"] == "ok"
    (opened,) = of_type(outputs, "comm_open")
    assert opened["content"]["target_name"] == "cellbox.widget"
    assert opened["content"]["data"] == {"v": 1}


def test_input_and_getpass_over_stdin(kernel):
    requests = []

    def answer(request):
        requests.append(request["content"])
        return "secret" if request["content"]["password"] else "Ada"

    code = "import getpass\nname = input('name? ')\npw = getpass.getpass('pw? ')\nprint(name, len(pw))"
    reply, outputs = kernel.execute(code, allow_stdin=True, stdin_handler=answer)
    assert reply["content"]["status"] == "ok"
    assert stdout_of(outputs) == "Ada 6\n"
    assert [r["prompt"] for r in requests] == ["name? ", "pw? "]
    assert [r["password"] for r in requests] == [False, True]


def test_input_without_stdin_support_is_a_clear_error(kernel):
    reply, _ = kernel.execute("input('x')", allow_stdin=False)
    assert reply["content"]["ename"] == "StdinNotImplementedError"


def test_stop_on_error_aborts_queued_cells(kernel):
    first = kernel.send_execute("import time\ntime.sleep(0.5)\n1/0")
    queued = [kernel.send_execute(f"ran_{i} = True") for i in range(2)]
    reply, _ = kernel.collect(first)
    assert reply["content"]["ename"] == "ZeroDivisionError"
    for msg_id in queued:
        reply, _ = kernel.collect(msg_id)
        assert reply["content"]["status"] == "aborted"
    reply, outputs = kernel.execute("print('ran_0' in globals(), 'ran_1' in globals())")
    assert stdout_of(outputs) == "False False\n", "aborted cells must not run"


def test_without_stop_on_error_queued_cells_run(kernel):
    first = kernel.send_execute("import time\ntime.sleep(0.5)\n1/0", stop_on_error=False)
    queued = kernel.send_execute("after_error = 1")
    kernel.collect(first)
    reply, _ = kernel.collect(queued)
    assert reply["content"]["status"] == "ok"


def test_malformed_execute_request_gets_an_error_reply(kernel):
    msg_id = kernel.send_execute("1", silent="yes")
    reply, outputs = kernel.collect(msg_id, timeout=10)
    assert reply["content"]["status"] == "error"
    assert reply["content"]["ename"] == "InvalidRequest"
    assert "silent" in reply["content"]["evalue"]
    reply, _ = kernel.execute("1 + 1")
    assert reply["content"]["status"] == "ok"


def test_shutdown_ends_the_process_even_mid_cell(fresh_kernel):
    msg_id = fresh_kernel.send_execute("import time\nprint('running', flush=True)\ntime.sleep(100)")
    time.sleep(1)
    process = fresh_kernel.manager.provisioner.process
    started = time.monotonic()
    fresh_kernel.client.shutdown(restart=False)
    reply = fresh_kernel.client.get_control_msg(timeout=5)
    assert reply["msg_type"] == "shutdown_reply"
    assert reply["content"]["status"] == "ok"
    process.wait(timeout=5)
    assert time.monotonic() - started < 1


def test_shutdown_with_restart_flag(fresh_kernel):
    msg_id = fresh_kernel.client.shutdown(restart=True)
    reply = fresh_kernel.client.get_control_msg(timeout=5)
    assert reply["parent_header"]["msg_id"] == msg_id
    assert reply["content"] == {"restart": True, "status": "ok"}
    fresh_kernel.manager.provisioner.process.wait(timeout=5)


def test_kernel_starts_without_a_writable_home(make_kernel):
    k = make_kernel(env={"HOME": "/nonexistent", "PATH": os.environ["PATH"]})
    reply, outputs = k.execute("import os\nprint(os.environ['IPYTHONDIR'])")
    assert reply["content"]["status"] == "ok"
    assert "/cellbox-" in stdout_of(outputs)
    reply, outputs = k.execute("import matplotlib.pyplot as plt\nplt.plot([1, 2])")
    assert reply["content"]["status"] == "ok"
    assert any("image/png" in m["content"].get("data", {}) for m in outputs)


def test_ipc_transport(make_kernel):
    directory = tempfile.mkdtemp(prefix="cellbox-ipc-")
    k = make_kernel(transport="ipc", ip=os.path.join(directory, "kernel"))
    assert json.load(open(k.manager.connection_file))["transport"] == "ipc"
    reply, outputs = k.execute("print('over ipc')")
    assert stdout_of(outputs) == "over ipc\n"


def write_connection_file(**fields):
    handle = tempfile.NamedTemporaryFile("w", suffix=".json", delete=False)
    json.dump(fields, handle)
    handle.close()
    return handle.name


@pytest.mark.parametrize("fields,message", [
    ({"transport": "udp", "ip": "127.0.0.1"}, "transport"),
    ({"transport": "tcp", "ip": "127.0.0.1", "shell_port": "x"}, "must be an integer"),
])
def test_bad_connection_files_fail_cleanly(fields, message):
    path = write_connection_file(**fields)
    result = subprocess.run([KERNEL_BINARY, "-f", path], capture_output=True, text=True, timeout=30)
    assert result.returncode != 0
    assert message in result.stderr


def test_connection_file_that_is_not_json(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text("{nope")
    result = subprocess.run([KERNEL_BINARY, "-f", str(path)], capture_output=True, text=True,
                            timeout=30)
    assert result.returncode != 0
    assert "not valid JSON" in result.stderr
