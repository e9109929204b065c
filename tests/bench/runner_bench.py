#!/usr/bin/python3
"""`cellbox run` against nbclient (papermill's engine; papermill itself is not in Debian) on
the same notebooks, same machine, one run, runs interleaved so that load hits them alike.

Notebooks: notebooks/quickstart.ipynb (pandas, matplotlib) and a synthetic one of 50 small
cells (the per-cell overhead). Each is run, wall time of the whole command:
- `cellbox run --url` against a running gateway (kernel from its pool), cellbox-python;
- `cellbox run` without --url (its private gateway started and stopped each time);
- nbclient in a fresh `python3` process (what `papermill` / `jupyter execute` cost), on
  cellbox-python (unsandboxed, launched by jupyter_client) and on Debian's ipykernel;
- `cellbox run --url --kernel python3` (ipykernel prespawned by the gateway).
Prints a Markdown table of medians (seconds). Not a test.

    /usr/bin/python3 tests/bench/runner_bench.py --build-dir build
"""

import argparse
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time

import nbformat

from bench_util import _gateway_test_helpers

support = _gateway_test_helpers()
REPO = pathlib.Path(__file__).resolve().parents[2]

NBCLIENT = """
import sys, nbformat
from nbclient import NotebookClient
nb = nbformat.read(sys.argv[1], as_version=4)
NotebookClient(nb, kernel_name=sys.argv[2], timeout=120).execute()
nbformat.write(nb, sys.argv[3])
"""


def small_cells(path, count=50):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(f"x{i} = {i} * 2\nprint(x{i})") for i in range(count)]
    nbformat.write(nb, str(path))


def timed(command, env=None):
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    elapsed = time.perf_counter() - started
    assert done.returncode == 0, done.stderr[-2000:]
    return elapsed


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--build-dir", default="build")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    build = pathlib.Path(args.build_dir).resolve()
    support.CELLBOX = build / "bin" / "cellbox"
    cellbox = str(support.CELLBOX)
    env = dict(os.environ, JUPYTER_PATH=str(build / "share" / "jupyter"))
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="runner-bench-"))
    small = tmp / "small.ipynb"
    small_cells(small)
    notebooks = {"quickstart.ipynb": REPO / "notebooks" / "quickstart.ipynb",
                 "50 small cells": small}
    gw = support.Gateway("--max-kernels-per-user", "0")
    url = ["--url", gw.url + "/", "--token", support.TOKEN]
    out = str(tmp / "out.ipynb")
    ways = {
        "`cellbox run --url` (cellbox-python, pooled)":
            lambda nb: [cellbox, "run", str(nb), "-o", out, "-q", "--kernel", "cellbox-python", *url],
        "`cellbox run`, private gateway (cellbox-python)":
            lambda nb: [cellbox, "run", str(nb), "-o", out, "-q", "--kernel", "cellbox-python"],
        "nbclient, fresh python3 (cellbox-python, unsandboxed)":
            lambda nb: [sys.executable, "-c", NBCLIENT, str(nb), "cellbox-python", out],
        "`cellbox run --url --kernel python3` (ipykernel, prespawned)":
            lambda nb: [cellbox, "run", str(nb), "-o", out, "-q", "--kernel", "python3", *url],
        "nbclient, fresh python3 (ipykernel)":
            lambda nb: [sys.executable, "-c", NBCLIENT, str(nb), "python3", out],
    }
    samples = {(w, n): [] for w in ways for n in notebooks}
    try:
        for name, nb in notebooks.items():  # warm-up: page cache, pools
            for way, command in ways.items():
                timed(command(nb), env)
        for _ in range(args.runs):
            for name, nb in notebooks.items():
                for way, command in ways.items():
                    samples[(way, name)].append(timed(command(nb), env))
                    time.sleep(0.3)  # the pool refills
    finally:
        gw.stop()
    print("| runner, median of %d (s) | %s |" % (args.runs, " | ".join(notebooks)))
    print("|---|" + "---|" * len(notebooks))
    for way in ways:
        cells = [f"{statistics.median(samples[(way, n)]):.2f}" for n in notebooks]
        print(f"| {way} | {' | '.join(cells)} |")


if __name__ == "__main__":
    main()
