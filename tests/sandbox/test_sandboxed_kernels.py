"""Jupyter kernels under cellbox-sandbox, talking ZeroMQ over ipc:// sockets in the session's
ipc directory: cellbox-kernel and Debian's ipykernel both pass their conformance tests."""

import json
import os
import pathlib
import subprocess
import tempfile
import time

import jupyter_kernel_test
import pytest
from jupyter_client.blocking import BlockingKernelClient
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager

from conftest import KERNEL, SANDBOX

KERNELS = {
    "cellbox": [str(KERNEL), "-f", "{connection_file}"],
    "ipykernel": ["/usr/bin/python3", "-m", "ipykernel_launcher", "-f", "{connection_file}"],
}


class SandboxedKernel:
    """A kernelspec whose argv runs the kernel through cellbox-sandbox, started over ipc."""

    def __init__(self, name, extra_sandbox_args=()):
        self.ipc_dir = tempfile.mkdtemp(prefix="cellbox-ipc-")
        self.workdir = tempfile.mkdtemp(prefix="cellbox-work-")
        specs = tempfile.mkdtemp(prefix="cellbox-specs-")
        spec_dir = pathlib.Path(specs, f"sandboxed-{name}")
        spec_dir.mkdir()
        argv = [str(SANDBOX), "--ipc-dir", self.ipc_dir, "--workdir", self.workdir,
                *extra_sandbox_args, "--", *KERNELS[name]]
        spec_dir.joinpath("kernel.json").write_text(json.dumps(
            {"argv": argv, "display_name": f"{name} (sandboxed)", "language": "python",
             "interrupt_mode": "signal"}))
        self.manager = KernelManager(
            kernel_name=f"sandboxed-{name}",
            kernel_spec_manager=KernelSpecManager(kernel_dirs=[specs]),
            transport="ipc", ip=os.path.join(self.ipc_dir, "kernel"),
            connection_file=os.path.join(self.ipc_dir, "kernel.json"))

    def start(self):
        self.manager.start_kernel()
        client = BlockingKernelClient(connection_file=self.manager.connection_file)
        client.load_connection_file()
        client.start_channels()
        client.wait_for_ready(timeout=60)
        return client

    def stop(self, client):
        client.stop_channels()
        self.manager.shutdown_kernel(now=False)


def conformance_for(name):
    class Conformance(jupyter_kernel_test.KernelTests):
        language_name = "python"
        file_extension = ".py"
        code_hello_world = "print('hello, world')"
        code_stderr = "import sys; print('oops', file=sys.stderr)"
        completion_samples = [{"text": "zi", "matches": {"zip"}}]
        complete_code_samples = ["1", "print('hello, world')"]
        incomplete_code_samples = ["print('''hello", "def f(x):\n  x*2"]
        invalid_code_samples = ["import = 7q"]
        code_page_something = "?print"
        code_generate_error = "raise ValueError('boom')"
        code_execute_result = [{"code": "6*7", "result": "42"}]
        code_display_data = [{"code": "from IPython.display import HTML, display; "
                                      "display(HTML('<b>x</b>'))", "mime": "text/html"}]
        code_inspect_sample = "open"
        code_clear_output = "from IPython.display import clear_output; clear_output()"

        @classmethod
        def setUpClass(cls):
            cls.sandboxed = SandboxedKernel(name)
            cls.km = cls.sandboxed.manager
            cls.kc = cls.sandboxed.start()

        @classmethod
        def tearDownClass(cls):
            cls.sandboxed.stop(cls.kc)

    Conformance.__name__ = f"Sandboxed{name.capitalize()}Conformance"
    return Conformance


SandboxedCellboxConformance = conformance_for("cellbox")
SandboxedIpykernelConformance = conformance_for("ipykernel")


def execute(client, code, timeout=30):
    outputs = []
    reply = client.execute_interactive(code, timeout=timeout, output_hook=outputs.append,
                                       stop_on_error=False)
    text = "".join(m["content"].get("text", "") for m in outputs if m["msg_type"] == "stream")
    text += "".join(m["content"]["data"]["text/plain"] for m in outputs
                    if m["msg_type"] == "execute_result")
    return reply["content"], text


@pytest.mark.parametrize("name", list(KERNELS))
def test_kernel_is_isolated_and_interruptible(name):
    sandboxed = SandboxedKernel(name)
    client = sandboxed.start()
    try:
        reply, text = execute(client, "import os, socket\n"
                                      "print(os.getuid(), os.getcwd(), os.path.exists('/root'))\n"
                                      "_ = open('/work/kept.txt', 'w').write('persisted')")
        uid, cwd, root_visible = text.split()
        assert int(uid) >= 100000 and cwd == "/work" and root_visible == "False"
        assert pathlib.Path(sandboxed.workdir, "kept.txt").read_text() == "persisted"

        client.execute("import time\nprint('running', flush=True)\ntime.sleep(60)", stop_on_error=False)
        time.sleep(1.5)
        sandboxed.manager.interrupt_kernel()  # SIGINT to the launcher, forwarded inside
        reply = client.get_shell_msg(timeout=20)
        assert reply["content"]["status"] == "error", reply
        assert reply["content"]["ename"] == "KeyboardInterrupt"
        reply, text = execute(client, "'alive after ' + 'the interrupt'")
        assert reply["status"] == "ok"
        assert text == "'alive after the interrupt'"
    finally:
        sandboxed.stop(client)


def test_tcp_connection_file_fails_with_a_clear_message(tmp_path):
    connection = tmp_path / "tcp.json"
    connection.write_text(json.dumps({"transport": "tcp", "ip": "127.0.0.1", "shell_port": 50001,
                                      "iopub_port": 50002, "stdin_port": 50003,
                                      "control_port": 50004, "hb_port": 50005, "key": "k"}))
    result = subprocess.run([str(SANDBOX), "--ipc-dir", str(tmp_path), "--", str(KERNEL), "-f",
                             str(connection)], capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert 'transport "tcp" is not available here' in result.stderr
    assert '"transport": "ipc"' in result.stderr
