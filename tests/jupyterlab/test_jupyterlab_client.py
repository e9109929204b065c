"""JupyterLab 4 talks to a Jupyter server through @jupyterlab/services; client.mjs drives
`cellbox serve` with that library (pinned in package.json) the way the Lab UI does: kernel
specs, a kernel over the v1 WebSocket protocol, execute, stdin, completion, inspection,
interrupt, restart, shutdown, notebook sessions and the contents API. node runs once per
module and prints a JSON report; each test here asserts on one area of it."""

import importlib.util
import json
import os
import pathlib
import subprocess

import pytest

HERE = pathlib.Path(__file__).resolve().parent
NODE_TIMEOUT = 60  # client.mjs takes a few seconds; each await in it has its own 20 s limit

# `Gateway` (start/stop of `cellbox serve`, REST calls with its token) from the gateway suite,
# loaded under its own name so that it never clashes with a conftest pytest imports itself.
_spec = importlib.util.spec_from_file_location("gateway_conftest", HERE.parent / "gateway" / "conftest.py")
gateway_conftest = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(gateway_conftest)
Gateway, GATEWAY_TOKEN = gateway_conftest.Gateway, gateway_conftest.TOKEN

KERNEL_NAME = "cellbox-python"


def run_client(url):
    """Runs client.mjs in its own process group; returns (exit code, report, stderr)."""
    return gateway_conftest.run_node_report(HERE, "client.mjs", [url, GATEWAY_TOKEN],
                                            NODE_TIMEOUT)


@pytest.fixture(scope="module")
def run():
    """One gateway and one run of client.mjs for the whole module: (report, gateway)."""
    gateway_conftest.npm_ci(HERE)
    gateway = Gateway()
    try:
        code, report, stderr = run_client(gateway.url)
        # Shown with -rA (as the first test's setup output); failures quote their own step.
        print(json.dumps(report, indent=1))
        report["exitCode"] = code
        if "steps" not in report:
            pytest.fail(f"client.mjs ({code}) printed no report: {report}\n{stderr[-4000:]}\n"
                        f"--- cellbox serve log ---\n{gateway.logs()[-4000:]}")
        yield report, gateway
    finally:
        gateway.stop()


def passed(report, name):
    """The record of step `name`, failing the test with the step's error (and the library's
    console output, where its warnings are) when the step did not succeed."""
    step = report["steps"].get(name)
    assert step is not None, \
        f"client.mjs has no step {name!r}: {sorted(report['steps'])} {report.get('error', '')}"
    if not step["ok"]:
        console = "\n".join(report.get("console", [])[-30:])
        pytest.fail(f"step {name!r} failed: {step['error']}\n"
                    f"record: {json.dumps(step)}\n--- console ---\n{console}", pytrace=False)
    return step


def test_kernelspecs(run):
    report, _ = run
    step = passed(report, "kernelspecs")
    assert KERNEL_NAME in step["client"]["names"]
    assert step["client"]["default"] == step["server"]["default"] == KERNEL_NAME, step
    spec = step["spec"]
    assert spec["name"] == KERNEL_NAME
    assert spec["language"] == "python", spec
    assert spec["display_name"], spec
    assert isinstance(spec["argv"], list), spec


def test_kernel_v1_websocket_and_execute(run):
    report, _ = run
    start = passed(report, "kernel_start")
    assert start["name"] == KERNEL_NAME
    assert start["requestedProtocols"] == ["v1.kernel.websocket.jupyter.org"], start
    assert start["protocol"] == "v1.kernel.websocket.jupyter.org", \
        f"the gateway did not accept the v1 subprotocol: {start['protocol']!r}"
    assert start["connectionStatus"] == "connected", start
    assert start["language"] == "python", start

    step = passed(report, "execute")
    assert step["reply"]["status"] == "ok", step
    assert step["stream"] == "hello from cellbox\n", step
    assert step["results"] == ["2"], step
    kinds = step["iopubTypes"]
    assert kinds[0] == "status:busy" and kinds[-1] == "status:idle", kinds
    assert "execute_input" in kinds, kinds


def test_stdin(run):
    report, _ = run
    step = passed(report, "stdin")
    assert step["prompts"] == ["Your name? "], step
    assert step["reply"]["status"] == "ok", step
    assert step["stream"] == "hi cellbox\n", step


def test_complete_and_inspect(run):
    report, _ = run
    complete = passed(report, "complete")
    assert complete["status"] == "ok", complete
    assert any(m.endswith("path") for m in complete["matches"]), complete
    inspect = passed(report, "inspect")
    assert inspect["status"] == "ok" and inspect["found"], inspect
    assert "len" in inspect["text"], inspect


def test_interrupt(run):
    report, _ = run
    step = passed(report, "interrupt")
    assert step["reply"]["status"] == "error", step
    assert step["reply"]["ename"] == "KeyboardInterrupt", step
    assert "KeyboardInterrupt" in step["errors"], step
    assert step["seconds"] < 10, f"the interrupted sleep(30) took {step['seconds']} s"


def test_restart(run):
    report, _ = run
    step = passed(report, "restart")
    assert step["sameId"], "a restart keeps the kernel's id"
    assert step["protocol"] == "v1.kernel.websocket.jupyter.org", step
    assert step["oldVariable"] == {"status": "error", "ename": "NameError"}, \
        f"x (set before the restart) should be gone: {step['oldVariable']}"
    assert step["after"]["status"] == "ok" and step["after"]["results"] == ["2"], step
    assert step["after"]["execution_count"] == 2, "the execution count starts over after the restart"


def test_shutdown(run):
    report, gateway = run
    step = passed(report, "shutdown")
    assert step["disposed"], "KernelManager.shutdown() disposes the connection"
    assert step["id"] not in step["running"], step
    assert step["id"] not in step["server"], step
    status, kernels, _ = gateway.request("GET", f"/api/kernels/{step['id']}")
    assert status == 404, (status, kernels)


def test_sessions(run):
    report, gateway = run
    step = passed(report, "sessions")
    started = step["started"]
    assert started["path"] == "notebooks/first.ipynb" and started["type"] == "notebook", started
    assert started["kernel"] == KERNEL_NAME, started
    assert step["results"] == ["21"], step
    assert step["path"] == "notebooks/renamed.ipynb", step
    assert step["foundNew"] == {"id": started["id"], "path": "notebooks/renamed.ipynb",
                                "kernel": step["kernelId"]}, step
    assert step["foundOld"] is None, "the old path no longer finds the session"
    assert started["id"] not in step["running"] and started["id"] not in step["serverSessions"], step
    assert step["kernelId"] not in step["serverKernels"], "shutting a session down ends its kernel"
    status, sessions, _ = gateway.request("GET", "/api/sessions")
    assert (status, sessions) == (200, []), sessions


def test_client_exit_status(run):
    """Nothing outside the steps went wrong: no uncaught error, exit status 0 (1 when any
    step failed, which the tests above explain one by one)."""
    report, _ = run
    assert "error" not in report, report["error"]
    failed = sorted(name for name, s in report["steps"].items() if not s["ok"])
    assert report["exitCode"] == 0, f"client.mjs exited {report['exitCode']}; failed steps: {failed}"


def test_contents_manager_saves_gets_and_lists(run):
    report, _ = run
    saved = passed(report, "contents_save")
    assert saved["untitled"] == "Untitled Folder" and saved["folder"] == "lab", saved
    assert saved["text"]["path"] == "lab/hello.txt" and saved["text"]["type"] == "file"
    assert saved["text"]["size"] == len("hello from lab") and saved["text"]["writable"] is True
    assert saved["notebook"] == {"path": "lab/nb.ipynb", "type": "notebook"}
    assert saved["binary"] == {"path": "lab/bytes.bin", "size": 4}
    assert saved["untitledNotebook"] == "lab/Untitled.ipynb"
    got = passed(report, "contents_get")
    assert got["text"] == {"content": "hello from lab", "format": "text", "mimetype": "text/plain"}
    assert got["notebook"] == {"type": "notebook", "format": "json", "source": "print(1)"}
    assert got["binary"] == {"content": "AAEC/w==", "format": "base64"}
    assert got["bareContent"] is None
    listed = passed(report, "contents_list")
    assert listed["type"] == "directory"
    assert listed["names"] == ["Untitled.ipynb", "bytes.bin", "hello.txt", "nb.ipynb"]
    assert listed["types"]["nb.ipynb"] == "notebook" and listed["types"]["hello.txt"] == "file"


def test_contents_manager_renames_copies_and_deletes(run):
    report, _ = run
    moved = passed(report, "contents_rename_copy")
    assert moved["renamed"] == "lab/renamed.txt" and moved["oldStatus"] == 404, moved
    assert moved["renamedContent"] == "hello from lab"
    assert moved["copy"] == "lab/renamed-Copy1.txt"
    assert moved["clash"] == 409 and moved["checkpoints"] == []
    deleted = passed(report, "contents_delete")
    assert deleted["nonEmpty"] == 400 and deleted["after"] == 404, deleted
    assert "lab" not in deleted["root"]


def test_contents_manager_paths_stay_in_work(run):
    report, gateway = run
    escape = passed(report, "contents_escape")
    for path, status in escape["statuses"].items():
        # The library normalises "api/contents/.." to "api" itself (whose answer is no
        # contents model, refused by its validation); every other form reaches the API.
        assert status in (400, 404) or (path == ".." and "Missing property" in status), \
            (path, status)
    assert escape["saveOutside"] in (400, 404) and escape["renameOutside"] in (400, 404), escape
    assert not os.path.exists(os.path.join(gateway.work_dir, "users", "escaped.txt"))
    assert not os.path.exists("/tmp/escaped.txt")


def run_restart_phase(url, *args):
    done = subprocess.run(["node", str(HERE / "restart.mjs"), url, GATEWAY_TOKEN, *args],
                          cwd=HERE, capture_output=True, text=True, timeout=NODE_TIMEOUT)
    lines = done.stdout.strip().splitlines()
    assert lines, f"restart.mjs printed nothing: {done.stderr[-2000:]}"
    return json.loads(lines[-1])


def test_same_kernel_id_and_state_across_a_gateway_restart(tmp_path):
    """JupyterLab's client keeps its kernel id across a SIGTERM and a new gateway on the same
    work/state directories, and finds its variables (issue 16)."""
    gateway_conftest.npm_ci(HERE)
    work = str(tmp_path / "work")
    first = Gateway(work_dir=work)
    try:
        before = run_restart_phase(first.url, "before")
    finally:
        first.stop()
    assert before.get("run", {}).get("status") == "ok", before
    second = Gateway(work_dir=work)
    try:
        after = run_restart_phase(second.url, "after", before["id"])
    finally:
        second.stop()
        with open("/proc/mounts") as mounts:  # the users' /work filesystems of both gateways
            points = [line.split()[1] for line in mounts if line.split()[1].startswith(work)]
        for point in sorted(points, reverse=True):
            subprocess.run(["umount", "-l", point], check=False)
    assert after.get("id") == before["id"], after
    assert after["run"]["status"] == "ok", after
    assert after["run"]["text"].endswith("42\n"), after
    assert "session resumed from hibernation" in after["run"]["text"]
    assert after["run"]["count"] == before["run"]["count"] + 1
