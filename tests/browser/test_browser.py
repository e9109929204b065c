"""The guide's promise "JupyterLab/Notebook frontends work through --gateway-url", checked
the way a person would: Debian's classic Notebook 6 runs in front of `cellbox serve`, and
Debian's chromium (driven by run.mjs through playwright-core) opens a notebook, runs all
cells, restarts and interrupts the kernel from the menus. run.mjs reports what the page
shows as JSON; this file asserts on it. A screenshot of the page is left in the working
directory (browser-failure.png) when the test fails."""

import importlib.util
import json
import os
import pathlib
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

HERE = pathlib.Path(__file__).resolve().parent
NODE_TIMEOUT = 45  # the driver takes ~6 s; every step in it has its own 20 s limit
FAILURE_SCREENSHOT = pathlib.Path.cwd() / "browser-failure.png"

# `Gateway` (start/stop of `cellbox serve`, REST calls with its token) from the gateway suite,
# loaded under its own name so that it never clashes with a conftest pytest imports itself.
_spec = importlib.util.spec_from_file_location("gateway_conftest", HERE.parent / "gateway" / "conftest.py")
gateway_conftest = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(gateway_conftest)
Gateway, GATEWAY_TOKEN, free_port = gateway_conftest.Gateway, gateway_conftest.TOKEN, gateway_conftest.free_port

NOTEBOOK_TOKEN = "notebook-" + os.urandom(4).hex()
CELLS = [
    "1+1",
    'print("hello from cellbox")',
    "import matplotlib.pyplot as plt\nplt.plot([1, 2, 3])\nplt.show()",
    "from IPython.display import HTML\nHTML(\"<b id='rich'>rich</b>\")",
    "1/0",  # last: Notebook 6 runs cells with stop_on_error, so nothing after it would run
]


class NotebookServer:
    """Debian's Notebook 6.4 with its kernels on the gateway, in a throwaway Jupyter home."""

    def __init__(self, gateway_url, notebook_dir):
        self.port = free_port()
        self.home = tempfile.mkdtemp(prefix="cellbox-notebook-")
        self.log = open(os.path.join(self.home, "notebook.log"), "w+")
        env = dict(os.environ, JUPYTER_RUNTIME_DIR=os.path.join(self.home, "runtime"),
                   JUPYTER_CONFIG_DIR=os.path.join(self.home, "config"),
                   JUPYTER_DATA_DIR=os.path.join(self.home, "data"))
        self.process = subprocess.Popen(
            ["/usr/bin/python3", "-m", "notebook", "--no-browser", "--allow-root",
             "--ip=127.0.0.1", f"--port={self.port}", "--port-retries=0",
             f"--NotebookApp.token={NOTEBOOK_TOKEN}", f"--notebook-dir={notebook_dir}",
             f"--gateway-url={gateway_url}", f"--GatewayClient.auth_token={GATEWAY_TOKEN}"],
            stdout=self.log, stderr=subprocess.STDOUT, env=env)
        self.url = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"{self.url}/api/status?token={NOTEBOOK_TOKEN}", timeout=5)
                return
            except (urllib.error.URLError, ConnectionError):
                assert self.process.poll() is None, f"notebook server exited:\n{self.logs()}"
                assert time.monotonic() < deadline, f"notebook server did not start:\n{self.logs()}"
                time.sleep(0.2)

    def stop(self):
        gateway_conftest.stop_process(self.process)

    def logs(self):
        self.log.seek(0)
        return self.log.read()


def kill_marked(marker):
    """Kills what is left of node and the browser it started (all of them inherit `marker` in
    their environment), by pid: only ever finds something when node had to be killed."""
    for proc in pathlib.Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if marker.encode() in (proc / "environ").read_bytes().split(b"\0"):
                os.kill(int(proc.name), signal.SIGKILL)
        except (OSError, ProcessLookupError):
            pass


def run_driver(url, screenshot):
    """Runs run.mjs in its own process group; returns (exit code, parsed JSON, stderr)."""
    marker = "CELLBOX_BROWSER_TEST=" + os.urandom(6).hex()
    env = dict(os.environ, CELLBOX_BROWSER_TEST=marker.split("=")[1])
    node = subprocess.Popen(["node", str(HERE / "run.mjs"), url, str(screenshot)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env, start_new_session=True)
    try:
        out, err = node.communicate(timeout=NODE_TIMEOUT)
    except subprocess.TimeoutExpired:
        node.terminate()  # playwright closes chromium on SIGTERM
        try:
            out, err = node.communicate(timeout=5)
        except subprocess.TimeoutExpired:
            os.killpg(node.pid, signal.SIGKILL)
            out, err = node.communicate()
        err += f"\nrun.mjs killed after {NODE_TIMEOUT} s"
    finally:
        kill_marked(marker)
    lines = out.strip().splitlines()
    try:
        report = json.loads(lines[-1]) if lines else {}
    except ValueError:
        report = {"unparsed": out}
    return node.returncode, report, err


@pytest.fixture
def servers():
    gateway_conftest.npm_ci(HERE)
    notebook_dir = tempfile.mkdtemp(prefix="cellbox-notebooks-")
    nb = new_notebook(cells=[new_code_cell(c) for c in CELLS], metadata={
        "kernelspec": {"name": "cellbox-python", "display_name": "Python 3 (cellbox)", "language": "python"}})
    nbformat.write(nb, os.path.join(notebook_dir, "test.ipynb"))
    gateway = Gateway()
    try:
        notebook = NotebookServer(gateway.url, notebook_dir)
    except BaseException:
        gateway.stop()
        raise
    yield gateway, notebook
    notebook.stop()
    gateway.stop()
    shutil.rmtree(notebook_dir, ignore_errors=True)


def by_source(cells, source):
    matches = [c for c in cells if c["source"] == source]
    assert matches, f"no cell {source!r} in the page: {[c['source'] for c in cells]}"
    return matches[-1]


def test_notebook_6_through_gateway_url(servers):
    gateway, notebook = servers
    FAILURE_SCREENSHOT.unlink(missing_ok=True)
    screenshot = pathlib.Path(tempfile.mkdtemp(prefix="cellbox-browser-")) / "page.png"
    code, report, stderr = run_driver(f"{notebook.url}/notebooks/test.ipynb?token={NOTEBOOK_TOKEN}", screenshot)
    try:
        # Shown with -rA, and with every failure below.
        print(json.dumps({k: report.get(k) for k in ("steps", "error", "console")}, indent=1))
        assert code == 0, f"run.mjs failed ({code}): {report.get('error')}\n{stderr}"

        # The kernel the page talks to is cellbox's: the only one the gateway has.
        status, kernels, _ = gateway.request("GET", "/api/kernels")
        assert status == 200
        assert [(k["id"], k["name"]) for k in kernels] == [(report["kernel"]["id"], "cellbox-python")]
        assert report["kernelAfterRestart"] == report["kernel"], "a restart keeps the kernel's id"

        cells = report["cells"]
        assert by_source(cells, CELLS[0])["result"] == ["2"]
        assert by_source(cells, CELLS[1])["stream"] == ["hello from cellbox\n"]
        images = by_source(cells, CELLS[2])["images"]
        assert len(images) == 1 and images[0].startswith("data:image/png;base64,iVBORw0KGgo"), images
        assert by_source(cells, CELLS[3])["rich"] == ["rich"]
        error = "".join(by_source(cells, CELLS[4])["error"])
        assert "ZeroDivisionError" in error and "Traceback" in error, error
        assert [c["prompt"] for c in cells] == [f"In\u00a0[{n}]:" for n in range(1, len(CELLS) + 1)]

        after = report["cellsAfterRestart"]
        x = by_source(after, "x")
        assert x["prompt"] == "In\u00a0[1]:", "the execution count starts over after the restart"
        assert "NameError" in "".join(x["error"]), x
        sleep = by_source(after, "import time; time.sleep(30)")
        assert "KeyboardInterrupt" in "".join(sleep["error"]), sleep
    except BaseException:
        if screenshot.exists():
            shutil.copy(screenshot, FAILURE_SCREENSHOT)
            print(f"screenshot: {FAILURE_SCREENSHOT}")
        print(f"--- notebook server log ---\n{notebook.logs()[-4000:]}", file=sys.stderr)
        print(f"--- cellbox serve log ---\n{gateway.logs()[-4000:]}", file=sys.stderr)
        raise
    finally:
        shutil.rmtree(screenshot.parent, ignore_errors=True)
