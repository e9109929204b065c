"""The load test's C++ client (tests/bench/load_driver.cpp, run by tests/bench/load.py) against a
real gateway and kernels: it must run every cell it is asked to, keep the number in flight it is
given, and report a wrong output as wrong, since the benchmark's figures are only worth what its
checks are."""

import json
import os
import pathlib
import subprocess
import uuid

import pytest

from conftest import BUILD_DIR, TOKEN
from test_kernel_death import run_cells


def driver_path():
    """The plain build's driver: a sanitized build (CELLBOX_SANITIZED) builds only the gateway
    and links the plain build's helpers, cellbox-sandbox among them, into its bin."""
    own = BUILD_DIR / "bin" / "cellbox-load-driver"
    if own.exists():
        return own
    return pathlib.Path(os.path.realpath(BUILD_DIR / "bin" / "cellbox-sandbox")).parent / \
        "cellbox-load-driver"


@pytest.fixture(scope="module")
def sessions(gateway):
    out = []
    for index in range(3):
        status, model, _ = gateway.request("POST", "/api/kernels", {})
        assert status == 201, model
        token = uuid.uuid4().hex[:16]
        # What load.py's first cell of a session does: SESSION_TOKEN and SESSION_N.
        [(reply, _)] = run_cells(gateway, model["id"],
                                 [f"SESSION_TOKEN = {token!r}; SESSION_N = {index}"])
        assert reply["content"]["status"] == "ok", reply
        out.append({"kernel_id": model["id"], "token": token, "index": index})
    return out


def run_driver(gateway, sessions, tmp_path, concurrency, rounds):
    spec = tmp_path / "input.json"
    spec.write_text(json.dumps({"host": "127.0.0.1", "port": gateway.port, "auth": TOKEN,
                                "concurrency": concurrency, "rounds": rounds,
                                "sessions": sessions}))
    driver = subprocess.Popen([str(driver_path()), str(spec)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        out, _ = driver.communicate("go\n", timeout=120)
    except subprocess.TimeoutExpired:
        driver.kill()
        driver.communicate()
        raise
    assert driver.returncode == 0, out
    ready, result = out.splitlines()
    assert ready == f"ready {len(sessions)}"
    return json.loads(result)


def test_the_driver_runs_every_cell_with_the_concurrency_it_is_given(gateway, sessions,
                                                                     tmp_path):
    result = run_driver(gateway, sessions, tmp_path, concurrency=2, rounds=4)
    assert len(result["latencies"]) == 3 * 4
    assert all(0 < t < 60 for t in result["latencies"])
    assert result["peak"] == 2
    assert (result["wrong"], result["lost"], result["crossed"], result["errors"]) == \
        ([], 0, 0, [])
    assert result["cpu_seconds"] > 0 and result["run_time"] > 0


def test_the_driver_reports_a_session_whose_output_is_wrong(gateway, sessions, tmp_path):
    """A session given another token than its kernel holds prints something else than the driver
    expects: each of its cells is wrong, with both texts, and the other sessions are not."""
    altered = [dict(s) for s in sessions]
    altered[1]["token"] = "0" * 16
    result = run_driver(gateway, altered, tmp_path, concurrency=3, rounds=2)
    assert len(result["latencies"]) == 3 * 2
    expected = "0" * 48 + " 1\n"
    actual = sessions[1]["token"] * 3 + " 1\n"
    assert result["wrong"] == [[1, expected, actual]] * 2
    assert result["errors"] == [[1, f"wrong output {actual}, expected {expected}"]] * 2
    assert (result["lost"], result["crossed"]) == (0, 0)
