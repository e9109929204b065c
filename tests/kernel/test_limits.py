"""Per-cell time limits, the soft memory limit and the per-cell resource report."""

import textwrap
import time

import pytest

from conftest import of_type, stdout_of

STUCK_CELLS = {
    "sleeping": "import time\ntime.sleep(60)",
    "busy": "while True:\n    pass",
    "blocked on I/O": "import os\nr, w = os.pipe()\nos.read(r, 1)",
}


@pytest.mark.parametrize("kind", list(STUCK_CELLS))
def test_request_timeout_interrupts_and_keeps_state(kernel, kind):
    kernel.execute(f"kept = '{kind}'")
    started = time.monotonic()
    reply, outputs = kernel.execute(STUCK_CELLS[kind], metadata={"cellbox": {"timeout": 1.5}})
    elapsed = time.monotonic() - started
    content = reply["content"]
    assert content["status"] == "error"
    assert content["ename"] == "CellTimeoutError"
    assert "1.5 s" in content["evalue"]
    assert 1.4 < elapsed < 10
    (error,) = of_type(outputs, "error")
    assert error["content"]["ename"] == "CellTimeoutError"
    reply, outputs = kernel.execute("print(kept)")
    assert reply["content"]["status"] == "ok"
    assert stdout_of(outputs) == f"{kind}\n"


def test_timeout_is_not_swallowed_by_except_exception(kernel):
    code = textwrap.dedent(
        """
        import time
        try:
            time.sleep(60)
        except Exception:
            print("swallowed")
        """
    )
    reply, outputs = kernel.execute(code, metadata={"cellbox": {"timeout": 1}})
    assert reply["content"]["ename"] == "CellTimeoutError"
    assert "swallowed" not in stdout_of(outputs)


def test_timeout_is_repeated_for_a_cell_that_catches_it(kernel):
    code = textwrap.dedent(
        """
        import time
        caught = 0
        while True:
            try:
                time.sleep(60)
            except CellTimeoutError:
                caught += 1
                if caught == 2:
                    raise
        """
    )
    reply, _ = kernel.execute(code, metadata={"cellbox": {"timeout": 0.5}})
    assert reply["content"]["ename"] == "CellTimeoutError"
    reply, outputs = kernel.execute("print(caught)")
    assert stdout_of(outputs) == "2\n"


def test_cell_within_its_limit_is_untouched(kernel):
    reply, outputs = kernel.execute("import time\ntime.sleep(0.3)\nprint('done')",
                                    metadata={"cellbox": {"timeout": 5}})
    assert reply["content"]["status"] == "ok"
    assert stdout_of(outputs) == "done\n"


def test_invalid_timeout_metadata_is_a_clear_error(kernel):
    reply, outputs = kernel.execute("print('must not run')",
                                    metadata={"cellbox": {"timeout": "soon"}})
    assert reply["content"]["status"] == "error"
    assert reply["content"]["ename"] == "InvalidRequest"
    assert "timeout" in reply["content"]["evalue"]
    assert "must not run" not in stdout_of(outputs)


def test_default_timeout_from_the_command_line(make_kernel):
    k = make_kernel("--cell-timeout", "1")
    k.execute("x = 1")
    reply, _ = k.execute("import time\ntime.sleep(30)")
    assert reply["content"]["ename"] == "CellTimeoutError"
    assert "1 s" in reply["content"]["evalue"]
    # A request can lift the default for one cell (0 = no limit).
    reply, _ = k.execute("time.sleep(1.5)\nx += 1", metadata={"cellbox": {"timeout": 0}})
    assert reply["content"]["status"] == "ok"
    reply, outputs = k.execute("print(x)")
    assert stdout_of(outputs) == "2\n"


MEMORY_HOGS = {
    "numpy": "import numpy\nnumpy.ones(10**11)",
    "bytearray": "bytearray(3 * 2**30)",
    "growing list": "def grow():\n    chunks = []\n    while True:\n        chunks.append(bytearray(2**20))\ngrow()",
}


@pytest.fixture(scope="module")
def limited_kernel():
    from conftest import Kernel
    k = Kernel(["--memory-limit", "2G"])
    yield k
    k.shutdown()


@pytest.mark.parametrize("kind", list(MEMORY_HOGS))
def test_memory_limit_raises_memory_error_and_keeps_state(limited_kernel, kind):
    limited_kernel.execute(f"kept = '{kind}'")
    reply, outputs = limited_kernel.execute(MEMORY_HOGS[kind], timeout=60)
    assert reply["content"]["status"] == "error"
    assert reply["content"]["ename"] == "MemoryError"
    reply, outputs = limited_kernel.execute("print(kept)")
    assert stdout_of(outputs) == f"{kind}\n"


def test_the_limit_is_what_fails_the_allocation(kernel, limited_kernel):
    # 3 GiB is refused under the 2 GiB limit but fine without it (the pages are never touched).
    reply, _ = kernel.execute("block = bytearray(3 * 2**30)\ndel block")
    assert reply["content"]["status"] == "ok"
    reply, _ = limited_kernel.execute("block = bytearray(3 * 2**30)")
    assert reply["content"]["ename"] == "MemoryError"


def test_every_reply_reports_the_cells_resources(kernel):
    reply, _ = kernel.execute("import time\ntime.sleep(0.3)")
    usage = reply["metadata"]["cellbox"]
    assert set(usage) == {"wall_ms", "cpu_ms", "peak_rss_bytes"}
    assert usage["wall_ms"] >= 300
    assert usage["cpu_ms"] < usage["wall_ms"]

    reply, _ = kernel.execute(
        "import time\nend = time.process_time() + 0.4\nwhile time.process_time() < end: pass")
    assert reply["metadata"]["cellbox"]["cpu_ms"] >= 350

    reply, _ = kernel.execute("big = bytearray(300 * 2**20)\nbig[::4096] = b'x' * len(big[::4096])\ndel big")
    big_peak = reply["metadata"]["cellbox"]["peak_rss_bytes"]
    reply, _ = kernel.execute("1 + 1")
    small_peak = reply["metadata"]["cellbox"]["peak_rss_bytes"]
    assert big_peak > 300 * 2**20
    assert small_peak < big_peak - 200 * 2**20, "the peak must be per cell"

    reply, _ = kernel.execute("1/0")
    assert "cellbox" in reply["metadata"], "failed cells are reported too"
