"""The zygote suites share the escape suite's table and checks (tests/sandbox)."""

import importlib.util
import pathlib
import sys

import pytest

SANDBOX_TESTS = pathlib.Path(__file__).resolve().parent.parent / "sandbox"
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

_spec = importlib.util.spec_from_file_location("sandbox_conftest", SANDBOX_TESTS / "conftest.py")
_sandbox_conftest = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_sandbox_conftest)

# test_escape.py imports these from "conftest": in this directory, that is this module.
ESCAPE_TABLE = _sandbox_conftest.ESCAPE_TABLE
SANDBOX = _sandbox_conftest.SANDBOX
KERNEL = _sandbox_conftest.KERNEL
pytest_terminal_summary = _sandbox_conftest.pytest_terminal_summary

from zygote_client import Zygote, client_for, wait_ready  # noqa: E402


@pytest.fixture(scope="module")
def zygote():
    z = Zygote()
    yield z
    z.close()


@pytest.fixture
def kernel(zygote):
    """A fresh zygote session with a connected client; shut down afterwards."""
    sessions = []

    def start(**fields):
        pid, dirs = zygote.spawn_kernel(**fields)
        client = client_for(dirs["connection_file"])
        wait_ready(client)
        sessions.append((pid, client))
        return pid, client, dirs

    yield start
    for pid, client in sessions:
        zygote.request("kill", pid=pid)
        client.stop_channels()
    for pid, _ in sessions:
        zygote.wait_exit(pid)
