"""`cellbox run`: papermill's semantics through the execute API, checked on the notebooks it
writes (validated with nbformat) and against what nbclient writes for the same notebook."""

import json
import os
import signal
import subprocess
import time

import nbformat
import pytest
from nbclient import NotebookClient

from conftest import (CELLBOX, HERE, TOKEN, code_cells, notebook, processes_under, read, run,
                      stdout_of, write)

REPO_NOTEBOOKS = HERE.parents[1] / "notebooks"


def test_parameters_injected_after_the_parameters_cell(gateway, tmp_path):
    nb = notebook(("md", "# Title"), ("alpha = 1\nname = 'default'", ["parameters"]),
                  "print(alpha, repr(name), ratio, flag, nothing)\nalpha * 2")
    source = write(tmp_path, nb)
    out = tmp_path / "out.ipynb"
    done = run(source, "-o", out, "-p", "alpha", "21", "-p", "name", 'say "hi"\n',
               "-p", "ratio", "0.5", "-p", "flag", "True", "-p", "nothing", "None",
               gateway=gateway)
    assert done.returncode == 0, done.stderr
    result = read(out)
    injected = result.cells[2]
    assert injected.metadata.tags == ["injected-parameters"]
    assert injected.source.startswith("# Parameters\n")
    assert stdout_of(result.cells[3]) == "21 'say \"hi\"\\n' 0.5 True None\n"
    assert result.cells[3].outputs[-1]["data"]["text/plain"] == "42"
    assert result.metadata.papermill["parameters"] == {
        "alpha": 21, "name": 'say "hi"\n', "ratio": 0.5, "flag": True, "nothing": None}


def test_parameters_open_a_notebook_without_a_parameters_cell(gateway, tmp_path):
    source = write(tmp_path, notebook("print(n * 2)"))
    out = tmp_path / "out.ipynb"
    done = run("-p", "n", "4", source, "-o", out, gateway=gateway)  # options before the notebook
    assert done.returncode == 0, done.stderr
    result = read(out)
    assert result.cells[0].metadata.tags == ["injected-parameters"]
    assert stdout_of(result.cells[1]) == "8\n"


def test_parameters_as_json_with_lists_and_dicts(gateway, tmp_path):
    source = write(tmp_path, notebook(("cfg = {}\nn = 0", ["parameters"]), "print(cfg, n)"))
    out = tmp_path / "out.ipynb"
    done = run(source, "-o", out, "-y", '{"cfg": {"k": [1, 2.5, null, "s"]}, "n": 1}',
               "-p", "n", "2", gateway=gateway)
    assert done.returncode == 0, done.stderr
    assert stdout_of(code_cells(read(out))[2]) == "{'k': [1, 2.5, None, 's']} 2\n"


def test_outputs_counts_and_metadata_written(gateway, tmp_path):
    nb = notebook("x = 3", "", "print('out'); import sys; print('err', file=sys.stderr)",
                  "from IPython.display import HTML, display\ndisplay(HTML('<b>b</b>'))\nx + 1")
    nb.cells[0].outputs = [nbformat.v4.new_output("stream", name="stdout", text="stale")]
    source = write(tmp_path, nb)
    out = tmp_path / "out.ipynb"
    done = run(source, "-o", out, gateway=gateway)
    assert done.returncode == 0, done.stderr
    result = read(out)
    cells = code_cells(result)
    assert [c.execution_count for c in cells] == [1, None, 2, 3]
    assert cells[0].outputs == []  # the stale output is gone
    assert [(o.output_type, o.name, o.text) for o in cells[2].outputs] == [
        ("stream", "stdout", "out\n"), ("stream", "stderr", "err\n")]
    assert [o.output_type for o in cells[3].outputs] == ["display_data", "execute_result"]
    assert cells[3].outputs[0]["data"]["text/html"] == "<b>b</b>"
    for cell in cells:
        assert cell.metadata.papermill["status"] == "completed"
        assert cell.metadata.papermill["duration"] >= 0
    usage = cells[2].metadata.cellbox
    assert usage["status"] == "ok" and usage["wall_ms"] >= 0 and usage["peak_rss_bytes"] > 0
    assert result.metadata.papermill["exception"] is False
    assert "cell 4/4" in done.stderr and "ok, 3/4 cells" in done.stderr


def test_a_failing_cell_stops_the_run(gateway, tmp_path):
    source = write(tmp_path, notebook("a = 1", "raise ValueError('bad value')", "print('later')"))
    out = tmp_path / "out.ipynb"
    done = run(source, "-o", out, gateway=gateway)
    assert done.returncode == 1
    assert "ValueError" in done.stderr and "raise ValueError('bad value')" in done.stderr
    result = read(out)
    assert result.cells[0].metadata.tags == ["papermill-error-cell-tag"]
    assert "In [2]" in result.cells[0].source
    failed = [c for c in code_cells(result) if c.metadata.papermill["status"] == "failed"]
    assert len(failed) == 1
    error = failed[0].outputs[-1]
    assert (error.output_type, error.ename, error.evalue) == ("error", "ValueError", "bad value")
    later = code_cells(result)[-1]
    assert later.execution_count is None and later.outputs == []
    assert later.metadata.papermill["status"] == "pending"
    assert result.metadata.papermill["exception"] is True


def test_allow_errors_runs_every_cell(gateway, tmp_path):
    source = write(tmp_path, notebook("1/0", "print('later')"))
    out = tmp_path / "out.ipynb"
    done = run(source, "-o", out, "--allow-errors", gateway=gateway)
    assert done.returncode == 0, done.stderr
    cells = code_cells(read(out))
    assert cells[0].outputs[0].ename == "ZeroDivisionError"
    assert stdout_of(cells[1]) == "later\n"
    assert "ZeroDivisionError" in done.stderr  # still reported


def test_cell_timeout_keeps_the_state(gateway, tmp_path):
    source = write(tmp_path, notebook("k = 5", "import time\ntime.sleep(30)", "print(k)"))
    out = tmp_path / "out.ipynb"
    done = run(source, "-o", out, "--timeout", "1", "--allow-errors", gateway=gateway)
    assert done.returncode == 0, done.stderr
    cells = code_cells(read(out))
    assert cells[1].metadata.cellbox["status"] == "timeout"
    assert cells[1].outputs[-1].output_type == "error"
    assert stdout_of(cells[2]) == "5\n"


def test_progress_bar_on_a_terminal(gateway, tmp_path):
    import pty
    source = write(tmp_path, notebook("1", "2", "3", "4"))
    master, slave = pty.openpty()
    process = subprocess.Popen([str(CELLBOX), "run", str(source), "-o", str(tmp_path / "o.ipynb"),
                                "--url", gateway.url + "/", "--token", TOKEN], stderr=slave)
    os.close(slave)
    assert process.wait(timeout=60) == 0
    seen = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the terminal has no writer left
            break
        if not chunk:
            break
        seen += chunk
    os.close(master)
    assert b"\r\x1b[K" in seen
    assert b"[##########..........] cell 3/4" in seen
    assert b"ok, 4/4 cells" in seen


def test_log_output_streams_to_stderr(gateway, tmp_path):
    source = write(tmp_path, notebook("print('visible-line')"))
    done = run(source, "-o", tmp_path / "o.ipynb", "--log-output", "-q", gateway=gateway)
    assert done.returncode == 0
    assert done.stderr == "visible-line\n"


def test_parallel_jobs_each_in_their_own_kernel(gateway, tmp_path):
    paths = []
    for i in range(3):
        paths.append(write(tmp_path, notebook(
            f"import os, time\nmine = {i}\nassert 'other' not in globals()\nother = 1",
            "time.sleep(1.5)\nprint(mine)"), name=f"nb{i}.ipynb"))
    outdir = tmp_path / "out"
    done = run(*paths, "-j", "2", "-o", outdir, gateway=gateway)
    assert done.returncode == 0, done.stderr
    spans = []
    for i in range(3):
        result = read(outdir / f"nb{i}.ipynb")
        assert stdout_of(code_cells(result)[1]) == f"{i}\n"
        spans.append((result.metadata.papermill["start_time"], result.metadata.papermill["end_time"]))
    spans.sort()
    # -j 2: the first two overlap in time, the third starts after one of them ended.
    assert spans[1][0] < spans[0][1]
    assert spans[2][0] >= min(spans[0][1], spans[1][1])
    assert done.stderr.count(" ok, ") == 3
    status, kernels, _ = gateway.request("GET", "/api/kernels")
    assert status == 200 and kernels == []  # every kernel deleted


def test_files_put_into_work(gateway, tmp_path):
    data = tmp_path / "my data.csv"
    data.write_text("a,b\n1,2\n")
    blob = tmp_path / "blob.bin"
    blob.write_bytes(bytes(range(256)))
    source = write(tmp_path, notebook(
        "print(open('my data.csv').read().splitlines()[1], open('blob.bin', 'rb').read() == bytes(range(256)))"))
    out = tmp_path / "out.ipynb"
    done = run(source, "-o", out, "--files", data, "--files", blob, gateway=gateway)
    assert done.returncode == 0, done.stderr
    assert stdout_of(code_cells(read(out))[0]) == "1,2 True\n"
    missing = run(source, "-o", out, "--files", tmp_path / "absent.csv", gateway=gateway)
    assert missing.returncode == 2 and "absent.csv" in missing.stderr


def test_stdin_to_stdout(gateway):
    text = nbformat.writes(notebook(("x = 0", ["parameters"]), "x + 1"))
    done = run("-", "-p", "x", "41", gateway=gateway, stdin=text)
    assert done.returncode == 0, done.stderr
    result = nbformat.reads(done.stdout, as_version=4)
    nbformat.validate(result)
    assert code_cells(result)[-1].outputs[0]["data"]["text/plain"] == "42"


def test_private_session_without_url(tmp_path, private_dir):
    source = write(tmp_path, notebook(("x = 0", ["parameters"]), "import os\nprint(x, os.getcwd())",
                                      "1/0"))
    out = tmp_path / "out.ipynb"
    done = run(source, "-o", out, "-p", "x", "7", tmpdir=private_dir)
    assert done.returncode == 1, done.stderr
    result = read(out)
    assert stdout_of(code_cells(result)[2]).startswith("7 ")
    assert code_cells(result)[3].outputs[-1].ename == "ZeroDivisionError"
    # The private gateway is gone with its directory.
    assert processes_under(private_dir) == []
    assert not list(private_dir.glob("cellbox-run-*"))


def test_private_session_with_a_long_tmpdir(tmp_path):
    deep = tmp_path / ("d" * 60)
    deep.mkdir()
    source = write(tmp_path, notebook("print('fine')"))
    done = run(source, "-o", tmp_path / "out.ipynb", tmpdir=deep)  # socket paths would not fit
    assert done.returncode == 0, done.stderr
    assert stdout_of(code_cells(read(tmp_path / "out.ipynb"))[0]) == "fine\n"


def test_interrupt_deletes_the_kernel_and_writes_the_notebook(gateway, tmp_path):
    source = write(tmp_path, notebook("print('started', flush=True)", "import time\ntime.sleep(60)",
                                      "print('never')"))
    out = tmp_path / "out.ipynb"
    process = subprocess.Popen([str(CELLBOX), "run", str(source), "-o", str(out), "--url",
                                gateway.url + "/", "--token", TOKEN, "--log-output"],
                               stderr=subprocess.PIPE, text=True)
    for line in process.stderr:
        if line.startswith("started"):
            break
    time.sleep(0.5)
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=30) == 130
    result = read(out)
    assert stdout_of(code_cells(result)[0]) == "started\n"
    assert code_cells(result)[2].execution_count is None
    status, kernels, _ = gateway.request("GET", "/api/kernels")
    assert status == 200 and kernels == []


def structure(nb):
    """What a run must reproduce, without timings or ids."""
    cells = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            cells.append((cell.cell_type, cell.source))
            continue
        outputs = []
        for o in cell.outputs:
            if o.output_type == "stream":
                outputs.append(("stream", o.name, o.text))
            elif o.output_type == "error":
                outputs.append(("error", o.ename, o.evalue))
            else:
                outputs.append((o.output_type, sorted(o.data), o.data.get("text/plain")))
        cells.append(("code", cell.source, cell.execution_count, outputs))
    return cells


def test_same_notebook_as_nbclient(gateway, tmp_path):
    nb = notebook("import sys\nprint('a'); print('b', file=sys.stderr)\n6 * 7",
                  "from IPython.display import display, Markdown\ndisplay(Markdown('**m**'))",
                  "h = display(Markdown('one'), display_id=True)\nh.update(Markdown('two'))",
                  "for i in range(3): print(i)", "[1, 2]")
    source = write(tmp_path, nb)
    out = tmp_path / "out.ipynb"
    done = run(source, "-o", out, gateway=gateway)
    assert done.returncode == 0, done.stderr
    ours = read(out)
    theirs = nbformat.read(str(source), as_version=4)
    NotebookClient(theirs, kernel_name="cellbox-python", timeout=60).execute()
    assert structure(ours) == structure(theirs)


def test_repository_quickstart_notebook(gateway, tmp_path):
    out = tmp_path / "quickstart.ipynb"
    done = run(REPO_NOTEBOOKS / "quickstart.ipynb", "-o", out, gateway=gateway)
    assert done.returncode == 0, done.stderr
    result = read(out)
    assert all(c.metadata.papermill["status"] == "completed" for c in code_cells(result))
    assert any(o.output_type == "display_data" and "image/png" in o.data
               for c in code_cells(result) for o in c.outputs)


def test_repository_limits_notebook_fails_where_tagged(gateway, tmp_path):
    out = tmp_path / "limits.ipynb"
    done = run(REPO_NOTEBOOKS / "limits.ipynb", "-o", out, "--timeout", "2", "--allow-errors",
               gateway=gateway)
    assert done.returncode == 0, done.stderr
    for cell in code_cells(read(out)):
        failed = any(o.output_type == "error" for o in cell.outputs)
        assert failed == ("raises-exception" in cell.metadata.get("tags", [])), cell.source
