"""Pieces the benchmarks share (run as scripts from tests/bench, so a plain import works)."""

import importlib.util
import os
import pathlib
import uuid


def percentile(samples, q):
    """The q-quantile (0..1) of samples, nearest rank; nan when there are none."""
    s = sorted(samples)
    return s[min(len(s) - 1, max(0, int(round(q * (len(s) - 1)))))] if s else float("nan")


def print_table(labels, samples):
    """A Markdown table of the median and p90 (ms) of each sample list, in `labels`' order."""
    print("| measure | median ms | p90 ms |")
    print("|---|---|---|")
    for key, label in labels.items():
        print(f"| {label} | {percentile(samples[key], 0.5):.2f} | "
              f"{percentile(samples[key], 0.9):.2f} |")


def process_table():
    """{pid: (ppid, command line)} of every process now."""
    table = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            with open(f"/proc/{entry.name}/cmdline", "rb") as f:
                cmdline = f.read().replace(b"\0", b" ").decode(errors="replace")
        except (OSError, IndexError, ValueError):
            continue
        table[int(entry.name)] = (ppid, cmdline)
    return table


def execute_message(code, session, username="bench"):
    """A v5.3 execute_request in jupyter_server's JSON WebSocket framing."""
    return {"header": {"msg_id": uuid.uuid4().hex, "msg_type": "execute_request",
                       "session": session, "username": username, "version": "5.3",
                       "date": "2026-01-01T00:00:00.000000Z"},
            "parent_header": {}, "metadata": {}, "channel": "shell",
            "content": {"code": code, "silent": False, "store_history": False,
                        "allow_stdin": False, "stop_on_error": False}}


def _gateway_test_helpers():
    """tests/gateway/conftest.py, loaded under its own name (as the browser test does)."""
    path = pathlib.Path(__file__).resolve().parent.parent / "gateway" / "conftest.py"
    spec = importlib.util.spec_from_file_location("gateway_conftest", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_helpers = _gateway_test_helpers()
# SIGTERM, then SIGKILL after `timeout` seconds: the gateway tests' own process stopper.
stop_process = _helpers.stop_process
# The v1.kernel.websocket.jupyter.org framing (JupyterLab's own since 4.0), as the tests write it.
V1_PROTOCOL = "v1.kernel.websocket.jupyter.org"
encode_v1, decode_v1 = _helpers.encode_v1, _helpers.decode_v1
