"""The escape suite (tests/sandbox/probes) inside zygote sessions: each probe runs in a session
forked from the warm interpreter, with the same verdict, blocked-attempt and host-unchanged
checks as under cellbox-sandbox."""

import pathlib
import sys
import tempfile
import types

import pytest

from conftest import SANDBOX_TESTS
from zygote_client import Zygote

sys.path.insert(0, str(SANDBOX_TESTS))
import test_escape as escape  # noqa: E402

LIMIT_FIELDS = {"--memory": "memory", "--wall-time": "wall_time", "--cpu-time": "cpu_time",
                "--pids": "pids"}


@pytest.fixture(scope="module")
def host():
    h = escape.Host()
    yield h
    h.close()


@pytest.fixture(scope="module")
def pooled():
    z = Zygote(warm_modules="numpy")
    yield z
    z.close()


def run_in_zygote(zygote):
    def run(probe, host, unprivileged=False):
        assert not unprivileged, "the zygote runs as root"
        spec = escape.probe_spec(probe)
        limits = dict(zip(spec["limits"][::2], spec["limits"][1::2]))
        fields = {LIMIT_FIELDS[k]: (float(v) if k != "--memory" else v)
                  for k, v in limits.items()}
        workdir = tempfile.mkdtemp(prefix="cellbox-probe-work-")
        log = pathlib.Path(tempfile.mkdtemp(prefix="cellbox-probe-log-")) / "out.txt"
        answer = zygote.request(
            "spawn", workdir=workdir, log_file=str(log),
            script={"code": escape.PRELUDE + probe.read_text(),
                    "argv": host.arguments(probe.name)}, **fields)
        assert "pid" in answer, answer
        verdict = zygote.wait_exit(answer["pid"], timeout=60)["verdict"]
        output = log.read_text() if log.exists() else ""
        return spec, verdict, types.SimpleNamespace(stdout=output, stderr=output)
    return run


@pytest.mark.parametrize("probe", escape.PROBES, ids=[p.stem for p in escape.PROBES])
def test_probe_is_contained_in_a_zygote_session(probe, host, pooled):
    verdict = escape.check_probe(probe, host, run=run_in_zygote(pooled))
    if probe.stem == "20_memory_bomb":
        assert verdict["wall_ms"] < 1000, "the oom verdict must come within a second"
        assert verdict["signal"] == "SIGKILL"
