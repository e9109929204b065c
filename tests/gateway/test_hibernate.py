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


def has(module):
    return importlib.util.find_spec(module) is not None


def new_kernel(gw):
    status, body, _ = gw.request("POST", "/api/kernels", {})
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
def gw():
    g = Gateway()
    yield g
    g.stop()


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
