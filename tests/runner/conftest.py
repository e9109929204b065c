"""`cellbox run` against a gateway of its own (the gateway suite's `Gateway`, loaded under its
own name as tests/security does) or in its private session, on notebooks written with
nbformat."""

import importlib.util
import os
import pathlib
import shutil
import subprocess
import tempfile

import nbformat
import pytest

HERE = pathlib.Path(__file__).resolve().parent


def _load(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


gateway_support = _load("gateway_conftest", HERE.parent / "gateway" / "conftest.py")
Gateway = gateway_support.Gateway
TOKEN = gateway_support.TOKEN
CELLBOX = gateway_support.CELLBOX
KERNEL = "cellbox-python"


@pytest.fixture(scope="module")
def gateway():
    g = Gateway()
    yield g
    g.stop()


def notebook(*cells, kernel=KERNEL):
    """A notebook of `cells`: strings are code cells, (source, [tags]) tagged code cells,
    ("md", text) markdown."""
    nb = nbformat.v4.new_notebook()
    for cell in cells:
        if isinstance(cell, str):
            nb.cells.append(nbformat.v4.new_code_cell(cell))
        elif cell[0] == "md":
            nb.cells.append(nbformat.v4.new_markdown_cell(cell[1]))
        else:
            c = nbformat.v4.new_code_cell(cell[0])
            c.metadata["tags"] = list(cell[1])
            nb.cells.append(c)
    if kernel:
        nb.metadata["kernelspec"] = {"name": kernel, "display_name": kernel, "language": "python"}
    return nb


def write(tmp_path, nb, name="in.ipynb"):
    path = tmp_path / name
    nbformat.write(nb, str(path))
    return path


def run(*args, gateway=None, stdin=None, timeout=180, tmpdir=None):
    """`cellbox run ARGS` (through `gateway` when given, else its private session, whose
    directory goes under `tmpdir`)."""
    command = [str(CELLBOX), "run", *map(str, args)]
    if gateway is not None:
        command += ["--url", gateway.url + "/", "--token", TOKEN]
    env = dict(os.environ, TMPDIR=str(tmpdir)) if tmpdir else None  # a short one: private_dir()
    return subprocess.run(command, input=stdin, capture_output=True, timeout=timeout,
                          text=isinstance(stdin, str) or stdin is None, env=env)


@pytest.fixture
def private_dir():
    """A short directory of its own for a private gateway ($TMPDIR of the run; kernels' socket
    paths must stay short), so that its processes can be told from other runs'."""
    directory = pathlib.Path(tempfile.mkdtemp(prefix="cbr-", dir="/tmp"))
    yield directory
    shutil.rmtree(directory, ignore_errors=True)


def processes_under(directory):
    """Pids of the processes whose command line names `directory` (a private gateway's)."""
    found = subprocess.run(["pgrep", "-f", str(directory)], capture_output=True, text=True)
    return found.stdout.split()


def read(path):
    nb = nbformat.read(str(path), as_version=4)
    nbformat.validate(nb)
    return nb


def code_cells(nb):
    return [c for c in nb.cells if c.cell_type == "code"]


def stdout_of(cell):
    return "".join(o.get("text", "") for o in cell.outputs
                   if o.output_type == "stream" and o.name == "stdout")
