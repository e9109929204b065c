"""Hibernating sessions (issue 16): the kernel's namespace saved with dill into an image and
restored in another process, by the gateway's API, by culling and across gateway restarts."""

import importlib.util
import json
import os
import signal
import time

import pytest

from conftest import Gateway, stop_process

# Defines one of each kind of state; the image must bring every value back equal.
STATE = r"""
import threading, socket, json as js
n = 42
s = "héllo"
l = [1, [2, 3], "x"]
d = {"a": 1, "b": [1.5, None]}
def add(y, k=2):
    return y + n + k
class Point:
    def __init__(self, x):
        self.x = x
    def twice(self):
        return Point(self.x * 2)
p = Point(3)
square = lambda v: v * v
fh = open("/work/hib-file.txt", "w")
th = threading.Thread(target=lambda: None)
sock = socket.socket(socket.AF_UNIX)
gen = (i for i in range(3))
"""

CHECK = ("[n, s, l, d, add(1), add(1, k=0), p.twice().x, square(7), Point(5).x, js.dumps(d), "
         "sorted(k for k in ('fh', 'th', 'sock', 'gen') if k in dir())]")
EXPECTED = [42, "héllo", [1, [2, 3], "x"], {"a": 1, "b": [1.5, None]}, 45, 43, 6, 49, 5,
            '{"a": 1, "b": [1.5, null]}', []]


def unmount_under(directory):
    """A SIGKILLed gateway leaves its users' /work filesystems mounted (it cannot unmount
    them); the test's directory cannot be removed until they are gone."""
    import subprocess
    for point in sorted(mounts_under(directory), reverse=True):
        subprocess.run(["umount", "-l", point], check=False)


def processes_left_by(gateway, seconds=10):
    """The processes a gateway started that still run after it (their command lines name its
    runtime directory), once they had `seconds` to go."""
    deadline = time.monotonic() + seconds
    while True:
        left = []
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    if gateway.runtime.encode() in f.read():
                        left.append(int(pid))
            except OSError:
                pass  # gone meanwhile
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.1)


def has(module):
    return importlib.util.find_spec(module) is not None


def mounts_under(directory):
    with open("/proc/mounts") as mounts:
        return [line.split()[1] for line in mounts if line.split()[1].startswith(directory)]


def new_kernel(gw, **auth):
    status, body, _ = gw.request("POST", "/api/kernels", {}, **auth)
    assert status == 201, body
    return body["id"]


def run(gw, kernel_id, code, timeout=60):
    status, body, _ = gw.request("POST", f"/api/kernels/{kernel_id}/execute",
                                 {"code": code, "timeout": timeout})
    assert status == 200, body
    return body


def value(gw, kernel_id, expression):
    body = run(gw, kernel_id, f"import json as _j\nprint(_j.dumps({expression}))")
    assert body["status"] == "ok", body
    return json.loads(body["stdout"].strip().splitlines()[-1])


@pytest.fixture(scope="module")
def gw(gateway):
    return gateway  # conftest's, under a short name


def test_the_module_round_trips_a_namespace_between_two_kernels(gw):
    """Kernel side only: one kernel hibernates into /work, a second one restores from it."""
    first = new_kernel(gw)
    body = run(gw, first, STATE)
    assert body["status"] == "ok", body
    body = run(gw, first, "import os; os.makedirs('/work/img', exist_ok=True)\n"
                          "m = __import__('cellbox_hibernate').hibernate('/work/img')\n"
                          "print(__import__('json').dumps(m))")
    assert body["status"] == "ok", body
    manifest = json.loads(body["stdout"])
    assert set(manifest["not_saved"]) == {"fh", "th", "sock", "gen"}, manifest
    assert "open file" in manifest["not_saved"]["fh"]
    assert "generator" in manifest["not_saved"]["gen"]
    assert {"n", "s", "l", "d", "add", "Point", "p", "square"} <= set(manifest["saved"])
    assert manifest["modules"]["js"] == "json"
    second = new_kernel(gw)
    body = run(gw, second, "r = __import__('cellbox_hibernate').restore('/work/img')\n"
                           "print(__import__('json').dumps(r))")
    assert body["status"] == "ok", body
    report = json.loads(body["stdout"])
    assert report["not_restored"] == {}
    # The next user cell starts with one line saying what came back and what did not.
    body = run(gw, second, "1")
    assert body["stdout"].startswith("[cellbox] session resumed from hibernation"), body
    for name in ("fh", "th", "sock", "gen"):
        assert name in body["stdout"]
    assert value(gw, second, CHECK) == EXPECTED
    # The functions see the live namespace: a global changed after the restore counts.
    assert value(gw, second, "(globals().update(n=1), add(1))[1]") == 4
    for k in (first, second):
        gw.request("DELETE", f"/api/kernels/{k}")


SCIENCE = r"""
import numpy as np, pandas as pd, matplotlib.pyplot as plt
arr = np.arange(12.0).reshape(3, 4)
noise = np.random.default_rng(1).random(100000)
df = pd.DataFrame({"a": [1, 2, 3], "b": ["x", "y", "z"]})
fig, ax = plt.subplots()
ax.plot([1, 2, 3], [4, 5, 6], label="line")
plt.close(fig)
"""
SCIENCE_CHECK = ("[arr.tolist(), float(noise.sum()), df.to_dict('list'), "
                 "list(map(float, fig.axes[0].lines[0].get_ydata())), "
                 "fig.axes[0].lines[0].get_label(), np.linspace(0, 1, 3).tolist(), "
                 "pd.Series([1, 2]).sum().item()]")


@pytest.mark.skipif(not all(map(has, ("numpy", "pandas", "matplotlib"))),
                    reason="numpy, pandas or matplotlib is not installed")
def test_numpy_pandas_and_a_figure_come_back_equal(gw):
    first = new_kernel(gw)
    assert run(gw, first, SCIENCE)["status"] == "ok"
    before = value(gw, first, SCIENCE_CHECK)
    body = run(gw, first, "import os; os.makedirs('/work/img2', exist_ok=True)\n"
                          "m = __import__('cellbox_hibernate').hibernate('/work/img2')\n"
                          "print(__import__('json').dumps(m))")
    manifest = json.loads(body["stdout"])
    assert manifest["not_saved"] == {}, manifest
    assert {"np", "pd", "plt"} <= set(manifest["modules"])
    second = new_kernel(gw)
    body = run(gw, second, "r = __import__('cellbox_hibernate').restore('/work/img2')\n"
                           "print(__import__('json').dumps(r['not_restored']))")
    assert json.loads(body["stdout"]) == {}, body
    assert value(gw, second, SCIENCE_CHECK) == before
    for k in (first, second):
        gw.request("DELETE", f"/api/kernels/{k}")


def hibernate(gw, kernel_id, token=None):
    kwargs = {} if token is None else {"token": token}
    return gw.request("POST", f"/api/kernels/{kernel_id}/hibernate", **kwargs)


def wait_for_state(gw, kernel_id, state, seconds=20):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        status, body, _ = gw.request("GET", f"/api/kernels/{kernel_id}")
        if status == 200 and body["execution_state"] == state:
            return body
        time.sleep(0.1)
    raise AssertionError(f"kernel {kernel_id} never became {state}: {body}")


def test_the_api_hibernates_and_the_next_execute_resumes(gw):
    k = new_kernel(gw)
    body = run(gw, k, STATE + "\n" + "counter = 0\nfor i in range(3):\n    counter += i\n")
    assert body["status"] == "ok", body
    count_before = run(gw, k, "1")["execution_count"]
    status, answer, _ = hibernate(gw, k)
    assert status == 200, answer
    assert answer["kernel"]["id"] == k
    assert answer["kernel"]["execution_state"] == "hibernated"
    assert set(answer["manifest"]["not_saved"]) == {"fh", "th", "sock", "gen"}
    images = os.path.join(gw.work_dir, "state", "images")
    image = os.path.join(images, k + ".img")
    assert os.path.exists(image)
    assert os.stat(image).st_mode & 0o777 == 0o600
    assert os.stat(image).st_uid == 0
    # Listed with the same id, as hibernated; hibernating again is a no-op.
    status, model, _ = gw.request("GET", f"/api/kernels/{k}")
    assert (status, model["execution_state"]) == (200, "hibernated")
    assert hibernate(gw, k)[0] == 200
    # The next cell resumes it: first the line saying what came back, then the cell.
    body = run(gw, k, "counter")
    assert body["status"] == "ok", body
    assert body["stdout"].startswith("[cellbox] session resumed from hibernation"), body
    assert "not restored" in body["stdout"] and "gen (" in body["stdout"]
    assert body["result"] == {"text/plain": "3"}
    assert body["execution_count"] == count_before + 1
    assert value(gw, k, CHECK) == EXPECTED
    assert not os.path.exists(image), "the image of a restored kernel stays behind"
    assert wait_for_state(gw, k, "idle")
    gw.request("DELETE", f"/api/kernels/{k}")


def test_a_busy_kernel_is_not_hibernated_and_unknown_ids_are_404(gw):
    k = new_kernel(gw)
    assert hibernate(gw, "00000000-0000-0000-0000-000000000000")[0] == 404
    import threading
    # A cell still running 2 s after the request (the gateway's wait for a cell that is just
    # ending) is refused.
    slow = threading.Thread(target=run, args=(gw, k, "import time; time.sleep(8)"))
    slow.start()
    wait_for_state(gw, k, "busy")
    status, body, _ = hibernate(gw, k)
    slow.join()
    assert status == 409, body
    assert "idle" in body["message"]
    gw.request("DELETE", f"/api/kernels/{k}")


def test_a_kernel_ending_its_cell_hibernates_once_idle(gw):
    # A client that saw its cell's idle status may ask before the gateway read the reply (it
    # comes on another socket): asked while the cell still runs, the gateway waits for it.
    import threading
    k = new_kernel(gw)
    outcome = {}
    cell = threading.Thread(
        target=lambda: outcome.update(run(gw, k, "import time; time.sleep(0.3); kept = 41")))
    cell.start()
    wait_for_state(gw, k, "busy")
    status, body, _ = hibernate(gw, k)
    cell.join()
    assert outcome["status"] == "ok", outcome
    assert status == 200, body
    assert body["kernel"]["execution_state"] == "hibernated"
    assert value(gw, k, "kept + 1") == 42
    gw.request("DELETE", f"/api/kernels/{k}")


def test_deleting_a_hibernated_kernel_removes_its_image(gw):
    k = new_kernel(gw)
    run(gw, k, "x = list(range(1000))")
    assert hibernate(gw, k)[0] == 200
    image = os.path.join(gw.work_dir, "state", "images", k + ".img")
    assert os.path.exists(image)
    assert gw.request("DELETE", f"/api/kernels/{k}")[0] == 204
    assert not os.path.exists(image)
    assert gw.request("GET", f"/api/kernels/{k}")[0] == 404


def test_restart_of_a_hibernated_kernel_is_a_fresh_kernel(gw):
    k = new_kernel(gw)
    run(gw, k, "x = 5")
    assert hibernate(gw, k)[0] == 200
    status, body, _ = gw.request("POST", f"/api/kernels/{k}/restart")
    assert status == 200, body
    assert run(gw, k, "print('x' in dir())")["stdout"] == "False\n"
    gw.request("DELETE", f"/api/kernels/{k}")


def test_culling_hibernates_and_a_websocket_connect_resumes():
    import asyncio
    import uuid
    import websockets
    from conftest import TOKEN, reply_and_outputs
    g = Gateway("--cull-idle-timeout", "1", "--cull-interval", "1")
    try:
        k = new_kernel(g)
        assert run(g, k, "kept = {'a': [1, 2]}")["status"] == "ok"
        wait_for_state(g, k, "hibernated", seconds=15)
        assert g.wait_for_log("kernel hibernated")

        async def connect_and_run():
            url = (f"ws://127.0.0.1:{g.port}/api/kernels/{k}/channels"
                   f"?session_id={uuid.uuid4().hex}&token={TOKEN}")
            async with websockets.connect(url) as ws:
                async def receive():
                    return json.loads(await ws.recv())
                msg_id = uuid.uuid4().hex
                await ws.send(json.dumps({
                    "channel": "shell", "header": {"msg_id": msg_id, "msg_type": "execute_request",
                                                   "session": "s", "username": "u", "version": "5.3"},
                    "parent_header": {}, "metadata": {},
                    "content": {"code": "print(kept)", "silent": False}}))
                return await reply_and_outputs(receive, msg_id)

        reply, outputs = asyncio.run(connect_and_run())
        assert reply["content"]["status"] == "ok", reply
        text = "".join(o["content"]["text"] for o in outputs if o["msg_type"] == "stream")
        assert "[cellbox] session resumed from hibernation" in text
        assert "{'a': [1, 2]}" in text
        status, metrics, _ = None, g.request_text("/metrics"), None
        assert "cellbox_hibernate_seconds_count 1" in metrics
        assert "cellbox_restore_seconds_count 1" in metrics
    finally:
        g.stop()


def test_culling_can_still_shut_down():
    g = Gateway("--cull-idle-timeout", "1", "--cull-interval", "1", "--cull-action", "shutdown")
    try:
        k = new_kernel(g)
        deadline = time.monotonic() + 15
        while g.request("GET", f"/api/kernels/{k}")[0] == 200:
            assert time.monotonic() < deadline, "not culled"
            time.sleep(0.2)
    finally:
        g.stop()


def test_a_bad_cull_action_is_refused():
    import subprocess
    from conftest import CELLBOX
    done = subprocess.run([str(CELLBOX), "serve", "--port", "0", "--cull-action", "pause"],
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 2
    assert "cull_action" in done.stderr


def test_sigterm_hibernates_and_the_next_gateway_resumes_under_the_same_id(tmp_path):
    work = str(tmp_path / "work")
    first = Gateway(work_dir=work)
    try:
        status, session, _ = first.request("POST", "/api/sessions", {
            "path": "notes/a.ipynb", "name": "a.ipynb", "type": "notebook",
            "kernel": {"name": "cellbox-python"}})
        assert status == 201, session
        k = session["kernel"]["id"]
        assert run(first, k, "import math\nsaved = [math.pi, 'kept']")["status"] == "ok"
    finally:
        first.stop()  # SIGTERM
    assert first.process.returncode == 0
    assert first.wait_for_log("kernel hibernated")
    second = Gateway(work_dir=work)
    try:
        status, model, _ = second.request("GET", f"/api/kernels/{k}")
        assert status == 200, model
        assert model["execution_state"] == "hibernated"
        assert [m["id"] for m in second.request("GET", "/api/kernels")[1]] == [k]
        # Its notebook session too: same id, path, name, kernel.
        sessions = second.request("GET", "/api/sessions")[1]
        assert [(x["id"], x["path"], x["name"], x["kernel"]["id"]) for x in sessions] == \
            [(session["id"], "notes/a.ipynb", "a.ipynb", k)]
        assert value(second, k, "saved + [math.e > 2]") == [3.141592653589793, "kept", True]
    finally:
        second.stop()
        unmount_under(work)


def test_sigkill_keeps_hibernated_kernels_and_explains_the_lost_ones(tmp_path):
    work = str(tmp_path / "work")
    from test_users import user_token
    first = Gateway(work_dir=work)
    try:
        saved = new_kernel(first)
        lost = new_kernel(first)
        run(first, saved, "v = 'checkpointed'")
        run(first, lost, "v = 'gone'")
        assert hibernate(first, saved)[0] == 200
        # A user who never comes back: the next gateway must still unmount her /work.
        new_kernel(first, token=user_token("carol"))
    finally:
        first.process.send_signal(signal.SIGKILL)
        first.process.wait()
    # Its sandboxes die with it: nobody could reach or reap them any more.
    assert processes_left_by(first) == [], "the killed gateway's kernels outlived it"
    carols_work = os.path.join(work, "users", "carol")
    assert carols_work in mounts_under(work), "the killed gateway could not have unmounted it"
    second = Gateway(work_dir=work)
    try:
        status, body, _ = second.request("GET", f"/api/kernels/{lost}")
        assert status == 410, body
        assert "was lost" in body["message"] and "killed" in body["message"]
        assert second.request("POST", f"/api/kernels/{lost}/hibernate")[0] == 410
        # Another user learns nothing of it.
        assert second.request("GET", f"/api/kernels/{lost}", token=user_token("eve"))[0] == 404
        assert value(second, saved, "v") == "checkpointed"
        second.stop()
        # Everything the killed gateway left mounted, carol's /work included, is gone with
        # the gateway that came after it.
        assert mounts_under(work) == []
    finally:
        second.stop()
        unmount_under(work)


def test_after_sigkill_a_checkpoint_brings_the_kernel_back(tmp_path):
    work = str(tmp_path / "work")
    try:
        checkpoint_then_sigkill_then_resume(work)
    finally:
        unmount_under(work)  # also when it failed before the second gateway


def checkpoint_then_sigkill_then_resume(work):
    first = Gateway("--checkpoint-interval", "1", work_dir=work)
    try:
        k = new_kernel(first)
        run(first, k, "v = 'from the checkpoint'")
        # The new kernel, idle without an image, may have been saved once before the cell
        # came (the cell then waited for it): that one does not hold v. Exactly one more
        # follows the cell.
        before = first.logs().count("kernel checkpointed")
        assert before <= 1
        deadline = time.monotonic() + 15
        while first.logs().count("kernel checkpointed") == before:
            assert time.monotonic() < deadline, "no checkpoint"
            time.sleep(0.2)
        # Still running: a checkpoint keeps the process; an idle kernel is not saved again.
        assert first.request("GET", f"/api/kernels/{k}")[1]["execution_state"] == "idle"
        time.sleep(2.5)
        assert first.logs().count("kernel checkpointed") == before + 1
    finally:
        first.process.send_signal(signal.SIGKILL)
        first.process.wait()
    # The checkpointed kernel's process was kept running: it dies with its gateway too.
    assert processes_left_by(first) == [], "the killed gateway's kernels outlived it"
    second = Gateway(work_dir=work)
    try:
        assert second.request("GET", f"/api/kernels/{k}")[1]["execution_state"] == "hibernated"
        assert value(second, k, "v") == "from the checkpoint"
    finally:
        second.stop()


def test_the_per_user_image_limit():
    g = Gateway("--hibernate-max", "2M")
    try:
        k = new_kernel(g)
        run(g, k, "import os\nsmall = 'x'\nbig = os.urandom(3 << 20)")
        status, body, _ = hibernate(g, k)
        assert status == 200, body
        # The value that does not fit is named, the others are saved.
        assert "image size limit" in body["manifest"]["not_saved"]["big"]
        assert "small" in body["manifest"]["saved"]
        assert value(g, k, "[small, 'big' in dir()]") == ["x", False]
        other = new_kernel(g)
        run(g, other, "import os\nfill = os.urandom(1900 << 10)")
        assert hibernate(g, other)[0] == 200
        # k's image went when it resumed; other's 1.9 MiB leave no room for 200 KiB more.
        third = new_kernel(g)
        run(g, third, "import os\nmore = os.urandom(200 << 10)")
        status, body, _ = hibernate(g, third)
        assert status == 200, body
        assert "image size limit" in body["manifest"]["not_saved"]["more"]
    finally:
        g.stop()
