"""Attacks on `cellbox run`, the notebook runner: notebooks that are not notebooks, parameters
that try to become code, cells that flood the output or try to kill the runner's private
gateway, and a hostile gateway behind --url. Each ends in a clear message and exit code (2:
bad input, 3: unusable gateway) or a notebook written within its budgets; the runner never
crashes, hangs, or runs code it was not given."""

import http.server
import json
import os
import pathlib
import subprocess
import threading

import nbformat
import pytest

from conftest import ADMIN_TOKEN, CELLBOX, Gateway, _load

# The runner suite's helpers: a short private directory per run, and its processes.
runner_support = _load("runner_conftest", pathlib.Path(__file__).resolve().parents[1] / "runner"
                       / "conftest.py")
private_dir = runner_support.private_dir
processes_under = runner_support.processes_under

MAX_OUTPUT = 100_000


@pytest.fixture(scope="module")
def gateway():
    g = Gateway("--execute-max-output-bytes", str(MAX_OUTPUT))
    yield g
    g.stop()
    assert g.process.returncode == 0, "the gateway did not survive the runner:\n" + g.logs()[-3000:]


def run(*args, url=None, token=ADMIN_TOKEN, timeout=120, tmpdir=None):
    """`cellbox run ARGS`: through `url`, else a private gateway whose directory goes under
    `tmpdir` (so that its processes can be told from other runs')."""
    command = [str(CELLBOX), "run", *map(str, args)]
    if url:
        command += ["--url", url, "--token", token]
    env = dict(os.environ, TMPDIR=str(tmpdir)) if tmpdir else None  # a short one: private_dir()
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env)


def notebook_file(tmp_path, *sources, name="in.ipynb"):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(s) for s in sources]
    nb.metadata["kernelspec"] = {"name": "cellbox-python", "display_name": "c", "language": "python"}
    path = tmp_path / name
    nbformat.write(nb, str(path))
    return path


def no_kernels(gateway):
    status, kernels, _ = gateway.request("GET", "/api/kernels")
    return status == 200 and kernels == []


@pytest.mark.parametrize("text, reason", [
    (b"{\"nbformat\": 4, ", "not JSON"),
    (b"[" * 100_000 + b"]" * 100_000, "not JSON"),
    (b"\"just a string\"", "not a JSON object"),
    (b'{"nbformat": 3, "nbformat_minor": 0, "cells": []}', "nbformat"),
    (b'{"nbformat": 4, "nbformat_minor": 5, "cells": "x"}', "cells"),
    (b'{"nbformat": 4, "nbformat_minor": 5, "cells": [{"cell_type": "code", "source": {"a": 1}}]}',
     "cell 0"),
    (b'{"nbformat": 4, "nbformat_minor": 5, "cells": [{"cell_type": "code", "source": "\xff"}]}',
     "not JSON"),
    (b'{"nbformat": 4, "nbformat_minor": 5, "cells": [], "metadata": []}', "metadata"),
], ids=["truncated", "deep", "string", "nbformat3", "cells", "source", "utf8", "metadata"])
def test_malformed_notebooks_refused(gateway, tmp_path, text, reason):
    """Malformed or hostile notebook bytes: refused with the reason, exit 2, nothing run."""
    path = tmp_path / "bad.ipynb"
    path.write_bytes(text)
    done = run(path, "-o", tmp_path / "out.ipynb", url=gateway.url + "/")
    assert done.returncode == 2, done.stderr
    assert reason in done.stderr and str(path) in done.stderr
    assert not (tmp_path / "out.ipynb").exists()
    assert no_kernels(gateway)


@pytest.mark.parametrize("source", ["sparse", "/dev/zero"])
def test_oversized_notebook_refused(gateway, tmp_path, source):
    """A notebook past 256 MiB, or an endless one (/dev/zero): refused at the limit, the
    runner never holds more than it."""
    path = pathlib.Path(source)
    if source == "sparse":
        path = tmp_path / "huge.ipynb"
        with open(path, "wb") as f:
            f.truncate(257 << 20)
    done = run(path, "-o", tmp_path / "out.ipynb", url=gateway.url + "/")
    assert done.returncode == 2 and "larger than 256 MiB" in done.stderr


@pytest.mark.parametrize("name", ["x=1;open('PWNED','w')#", "__import__('os')", "a b", "class",
                                  "x\nopen('PWNED','w')", ""])
def test_parameter_names_cannot_inject_code(gateway, tmp_path, name):
    """Parameter names that carry code: refused as non-identifiers, no kernel started."""
    path = notebook_file(tmp_path, "print(1)")
    done = run(path, "-p", name, "1", url=gateway.url + "/")
    assert done.returncode == 2 and "not a Python identifier" in done.stderr
    assert no_kernels(gateway)


@pytest.mark.parametrize("value", ["1); open('PWNED', 'w')  #", "\"\nopen('PWNED', 'w')\n\"",
                                   "\\\"; open('PWNED', 'w'); \"", "'''\nopen('PWNED','w')\n'''",
                                   "x\x01y\rz\x1b[2J\x7f"])
def test_parameter_values_stay_literals(gateway, tmp_path, value):
    """Parameter values that try to close their literal and run code: they stay one string."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("v = None"),
                nbformat.v4.new_code_cell("import os\nprint(repr(v)); print(os.path.exists('PWNED'))")]
    nb.cells[0].metadata["tags"] = ["parameters"]
    path = tmp_path / "p.ipynb"
    nbformat.write(nb, str(path))
    out = tmp_path / "out.ipynb"
    done = run(path, "-o", out, "-p", "v", value, url=gateway.url + "/")
    assert done.returncode == 0, done.stderr
    result = nbformat.read(str(out), as_version=4)
    nbformat.validate(result)
    printed = result.cells[2].outputs[0].text
    assert printed == repr(value) + "\nFalse\n"


@pytest.mark.parametrize("name", ["%2e%2e", "..%2Fescape", "a%00b", "%2F%2Fetc%2Fpasswd"])
def test_files_names_cannot_leave_work(gateway, tmp_path, name):
    """--files with names that decode to paths out of /work: written under /work by that
    literal name, nowhere else."""
    local = tmp_path / name
    local.write_text("payload")
    path = notebook_file(tmp_path, "import os\nprint(sorted(os.listdir('.')))")
    out = tmp_path / "out.ipynb"
    done = run(path, "-o", out, "--files", local, url=gateway.url + "/")
    assert done.returncode == 0, done.stderr
    listed = nbformat.read(str(out), as_version=4).cells[0].outputs[0].text
    assert repr(name) in listed
    status, model, _ = gateway.request("GET", "/api/contents/" + name.replace("%", "%25"))
    assert status == 200 and model["name"] == name


def test_huge_output_cut_to_the_budget(gateway, tmp_path):
    """A cell printing 3 MB and one making 3 000 displays: cut to the budgets, notebook valid."""
    path = notebook_file(tmp_path, "print('x' * 3_000_000)",
                         "from IPython.display import display\nfor i in range(3000): display(i)",
                         "print('after')")
    out = tmp_path / "out.ipynb"
    done = run(path, "-o", out, url=gateway.url + "/")
    assert done.returncode == 0, done.stderr
    assert out.stat().st_size < 20 * MAX_OUTPUT + 5_000_000
    result = nbformat.read(str(out), as_version=4)
    nbformat.validate(result)
    assert result.cells[0].metadata.cellbox["truncated"] is True
    assert "bytes of output cut here" in result.cells[0].outputs[0].text
    assert len(result.cells[0].outputs[0].text) < 2 * MAX_OUTPUT
    assert result.cells[2].outputs[0].text == "after\n"


def test_cells_cannot_kill_the_private_gateway(tmp_path, private_dir):
    """Cells that signal their parent, their process group and every process: the private
    gateway and the runner survive, the notebook is written, nothing is left running."""
    path = notebook_file(tmp_path, "import os, signal\nprint(os.getppid())",
                         "os.kill(os.getppid(), signal.SIGKILL)",
                         "try:\n    os.killpg(0, signal.SIGKILL)\nexcept OSError as e:\n    print(e)",
                         "try:\n    os.kill(-1, signal.SIGKILL)\nexcept OSError as e:\n    print(e)",
                         "print('end')")
    out = tmp_path / "out.ipynb"
    done = run(path, "-o", out, "--allow-errors", tmpdir=private_dir)
    assert done.returncode in (0, 1), done.stderr
    assert "cellbox run:" not in done.stderr  # no gateway failure
    result = nbformat.read(str(out), as_version=4)
    nbformat.validate(result)
    statuses = [c.metadata.cellbox["status"] for c in result.cells]
    assert statuses[0] == "ok"
    assert all(s in ("ok", "error", "died") for s in statuses)
    assert processes_under(private_dir) == []


def test_private_gateway_token_not_on_its_command_line(tmp_path, private_dir):
    """The private gateway's token: never on a command line another local user can read."""
    path = notebook_file(tmp_path, "import time\ntime.sleep(1)")
    process = subprocess.Popen([str(CELLBOX), "run", str(path), "-o", str(tmp_path / "o.ipynb")],
                               stderr=subprocess.PIPE, env=dict(os.environ, TMPDIR=str(private_dir)))
    try:
        lines = []
        for _ in range(100):
            lines = processes_under(private_dir / "cellbox-run-")
            if lines:
                break
            threading.Event().wait(0.05)
        assert lines, "the private gateway was not found"
        cmdline = pathlib.Path(f"/proc/{lines[0]}/cmdline").read_bytes().split(b"\0")
        assert b"--token" not in cmdline
    finally:
        assert process.wait(timeout=60) == 0


def test_killed_runner_leaves_no_private_gateway(tmp_path, private_dir):
    """SIGKILL on the runner mid-cell: its private gateway and sandboxed kernel go too, no
    orphan keeps running."""
    path = notebook_file(tmp_path, "print('started', flush=True)", "import time\ntime.sleep(60)")
    process = subprocess.Popen([str(CELLBOX), "run", str(path), "-o", str(tmp_path / "o.ipynb"),
                                "--log-output"], stderr=subprocess.PIPE, text=True,
                               env=dict(os.environ, TMPDIR=str(private_dir)))
    for line in process.stderr:
        if line.startswith("started"):
            break
    gateway_pids = processes_under(private_dir / "cellbox-run-")
    assert gateway_pids
    process.kill()
    process.wait()
    for _ in range(300):
        if not any(pathlib.Path(f"/proc/{pid}").exists() for pid in gateway_pids):
            break
        threading.Event().wait(0.05)
    assert not any(pathlib.Path(f"/proc/{pid}").exists() for pid in gateway_pids)


class HostileGateway(http.server.BaseHTTPRequestHandler):
    """Starts kernels, then answers cells with garbage lines and no "done"."""

    def log_message(self, *args):
        pass

    def do_POST(self):
        length = int(self.headers.get("Content-Length", 0))
        self.rfile.read(length)
        if self.path.endswith("/api/kernels"):
            kernel = {"evil-id": "../../etc", "garbage": "k1"}.get(self.server.mode)
            body = json.dumps({"id": kernel}).encode() if kernel else b"{}"
            status = 201 if kernel else 500
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/x-ndjson")
        self.end_headers()
        self.wfile.write(b"not json\n[1,2]\n" + b"[" * 50_000 + b"\n{\"type\": 7}\n"
                         + b'{"type":"stream","name":"stdout","text":"x"}\n')

    def do_DELETE(self):
        self.send_response(204)
        self.end_headers()


@pytest.mark.parametrize("mode", ["refuses", "evil-id", "garbage"])
def test_hostile_gateway(tmp_path, mode):
    """A gateway behind --url that refuses kernels, names one with a path, or streams garbage
    and never says done: a clear failure, a valid notebook, no crash."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), HostileGateway)
    server.mode = mode
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        path = notebook_file(tmp_path, "print(1)", "print(2)")
        out = tmp_path / "out.ipynb"
        done = run(path, "-o", out, url=f"http://127.0.0.1:{server.server_address[1]}/")
    finally:
        server.shutdown()
    result = nbformat.read(str(out), as_version=4)
    nbformat.validate(result)
    if mode == "refuses":
        assert done.returncode == 3 and "did not start a kernel" in done.stderr
        assert "(HTTP 500)" in done.stderr
    elif mode == "evil-id":
        assert done.returncode == 3 and "did not start a kernel" in done.stderr
    else:
        assert done.returncode == 1
        cells = [c for c in result.cells if c.cell_type == "code"]
        assert cells[0].outputs[-1].ename == "GatewayError"
        assert cells[1].execution_count is None
