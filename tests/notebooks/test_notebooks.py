"""Executes every notebook in notebooks/ against cellbox-python with nbclient and checks the
outputs. Cells tagged `raises-exception` must fail; every other cell must succeed."""

import base64
import functools
import pathlib

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = sorted((pathlib.Path(__file__).parents[2] / "notebooks").glob("*.ipynb"))


@functools.lru_cache(maxsize=None)
def execute(path):
    notebook = nbformat.read(path, as_version=4)
    arguments = notebook.metadata.get("cellbox", {}).get("kernel_arguments", [])
    client = NotebookClient(notebook, kernel_name="cellbox-python", timeout=120,
                            extra_arguments=arguments)
    client.execute()
    return notebook


def outputs_of(cell):
    return cell.get("outputs", [])


def errors_of(cell):
    return [o for o in outputs_of(cell) if o["output_type"] == "error"]


def text_of(cell):
    return "".join(o.get("text", "") for o in outputs_of(cell) if o["output_type"] == "stream")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_runs_as_tagged(path):
    notebook = execute(path)
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        expected_failure = "raises-exception" in cell.metadata.get("tags", [])
        assert bool(errors_of(cell)) == expected_failure, cell.source


def test_quickstart_outputs():
    notebook = execute(NOTEBOOKS[[p.name for p in NOTEBOOKS].index("quickstart.ipynb")])
    code = [c for c in notebook.cells if c.cell_type == "code"]
    assert text_of(code[1]) == "hello from cellbox 42\n"
    assert "<b>bold</b>" in outputs_of(code[2])[0]["data"]["text/html"]
    table = outputs_of(code[3])[0]["data"]["text/html"]
    assert "Grace" in table and "<table" in table
    assert outputs_of(code[4])[0]["data"]["text/plain"] == "85.0"
    pngs = [o["data"]["image/png"] for o in outputs_of(code[5]) if "image/png" in o.get("data", {})]
    assert len(pngs) == 1 and base64.b64decode(pngs[0]).startswith(b"\x89PNG")


def test_limits_outputs():
    notebook = execute(NOTEBOOKS[[p.name for p in NOTEBOOKS].index("limits.ipynb")])
    code = [c for c in notebook.cells if c.cell_type == "code"]
    assert errors_of(code[1])[0]["ename"] == "KeyboardInterrupt"
    assert text_of(code[2]) == "still here: [1, 2, 3]\n"
    assert errors_of(code[3])[0]["ename"] == "CellTimeoutError"
    assert text_of(code[4]) == "state kept after the timeout: [1, 2, 3, 4]\n"
    assert errors_of(code[5])[0]["ename"] == "MemoryError"
    assert text_of(code[6]) == "state kept after MemoryError: [1, 2, 3, 4]\n"
