"""/api/sessions as jupyter_server serves it (what JupyterLab uses when it talks to the gateway
directly): create (and re-use by path), get, list, rename, switch kernels, delete; per user."""

import time

import pytest

from conftest import Gateway
from test_kernel_death import run_cells, stdout
from test_users import user_token


def gone(gateway, kernel_id, seconds=10):
    """Shutting a kernel down takes a moment: true once the kernel has disappeared."""
    deadline = time.monotonic() + seconds
    while gateway.request("GET", f"/api/kernels/{kernel_id}")[0] != 404:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


@pytest.fixture(scope="module")
def gateway():
    g = Gateway()
    yield g
    g.stop()


def test_session_lifecycle(gateway):
    status, session, headers = gateway.request("POST", "/api/sessions", {
        "path": "work/analysis.ipynb", "name": "analysis.ipynb", "type": "notebook",
        "kernel": {"name": "cellbox-python"}})
    assert status == 201
    assert headers["Location"] == f"/api/sessions/{session['id']}"
    assert session["path"] == "work/analysis.ipynb" and session["type"] == "notebook"
    assert session["notebook"] == {"path": "work/analysis.ipynb", "name": "analysis.ipynb"}
    kernel = session["kernel"]
    assert kernel["name"] == "cellbox-python" and kernel["execution_state"] == "idle"
    assert stdout(run_cells(gateway, kernel["id"], ["print(1 + 1)"])[0][1]) == "2\n"

    # The same path gives the same session (a second browser tab).
    status, again, _ = gateway.request("POST", "/api/sessions", {
        "path": "work/analysis.ipynb", "type": "notebook"})
    assert status == 201 and again["id"] == session["id"]
    assert gateway.request("GET", f"/api/sessions/{session['id']}")[1]["kernel"]["id"] == \
        kernel["id"]
    assert [s["id"] for s in gateway.request("GET", "/api/sessions")[1]] == [session["id"]]

    # Rename; then switch to a new kernel by name: the old one is let go.
    status, renamed, _ = gateway.request("PATCH", f"/api/sessions/{session['id']}", {
        "path": "work/renamed.ipynb", "name": "renamed.ipynb"})
    assert status == 200 and renamed["path"] == "work/renamed.ipynb"
    status, switched, _ = gateway.request("PATCH", f"/api/sessions/{session['id']}", {
        "kernel": {"name": "cellbox-python"}})
    assert status == 200 and switched["kernel"]["id"] != kernel["id"]
    assert gone(gateway, kernel["id"])

    # Attach an existing kernel by id; an unknown id is refused.
    other = gateway.request("POST", "/api/kernels", {})[1]
    status, attached, _ = gateway.request("PATCH", f"/api/sessions/{session['id']}", {
        "kernel": {"id": other["id"]}})
    assert status == 200 and attached["kernel"]["id"] == other["id"]
    status, body, _ = gateway.request("PATCH", f"/api/sessions/{session['id']}", {
        "kernel": {"id": "00000000-0000-4000-8000-000000000000"}})
    assert status == 400 and "No such kernel" in body["message"]

    # Deleting the session shuts its kernel down.
    assert gateway.request("DELETE", f"/api/sessions/{session['id']}")[0] == 204
    assert gateway.request("GET", f"/api/sessions/{session['id']}")[0] == 404
    assert gone(gateway, other["id"])
    gateway.request("DELETE", f"/api/kernels/{switched['kernel']['id']}")


def test_a_session_whose_kernel_was_deleted(gateway):
    session = gateway.request("POST", "/api/sessions", {"path": "a.ipynb", "type": "notebook"})[1]
    gateway.request("DELETE", f"/api/kernels/{session['kernel']['id']}")
    assert gateway.request("GET", "/api/sessions")[1] == []
    # It went with its kernel (as jupyter_server drops it once a listing finds the kernel gone).
    status, body, _ = gateway.request("DELETE", f"/api/sessions/{session['id']}")
    assert status == 404 and body["message"] == f"Session not found: {session['id']}"


def test_bad_session_requests(gateway):
    status, body, _ = gateway.request("POST", "/api/sessions", {"type": "notebook"})
    assert status == 400 and "path" in body["message"]
    status, body, _ = gateway.request("POST", "/api/sessions", {"path": 5})
    assert status == 400 and "path must be a string" in body["message"]
    status, body, _ = gateway.request("POST", "/api/sessions", b"{not json")
    assert status == 400
    status, body, _ = gateway.request("POST", "/api/sessions", {
        "path": "x.ipynb", "type": "notebook", "kernel": {"name": "no-such-kernel"}})
    assert status == 501 and body["short_message"] == "Kernel not found: no-such-kernel"
    assert gateway.request("GET", "/api/sessions/nope")[0] == 404
    assert gateway.request("PUT", "/api/sessions")[0] == 405


def test_sessions_belong_to_their_user(gateway):
    alice, bob = user_token("alice"), user_token("bob")
    session = gateway.request("POST", "/api/sessions", {"path": "p.ipynb", "type": "notebook"},
                              token=alice)[1]
    assert gateway.request("GET", "/api/sessions", token=bob)[1] == []
    assert gateway.request("GET", f"/api/sessions/{session['id']}", token=bob)[0] == 404
    assert gateway.request("DELETE", f"/api/sessions/{session['id']}", token=bob)[0] == 404
    # Bob's session on the same path is his own, with his own kernel.
    mine = gateway.request("POST", "/api/sessions", {"path": "p.ipynb", "type": "notebook"},
                           token=bob)[1]
    assert mine["id"] != session["id"] and mine["kernel"]["id"] != session["kernel"]["id"]
    assert len(gateway.request("GET", "/api/sessions")[1]) == 2  # the admin sees both
    for token, s in ((alice, session), (bob, mine)):
        assert gateway.request("DELETE", f"/api/sessions/{s['id']}", token=token)[0] == 204
