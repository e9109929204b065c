"""cellbox serve's REST API, as jupyter_server's kernels API, with real kernels."""

import re

from conftest import TOKEN


def test_api_root_and_kernelspecs(gateway):
    status, body, _ = gateway.request("GET", "/api")
    assert status == 200 and "version" in body
    status, body, _ = gateway.request("GET", "/api/kernelspecs")
    assert status == 200
    assert body["default"] == "cellbox-python"
    spec = body["kernelspecs"]["cellbox-python"]
    assert spec["name"] == "cellbox-python"
    assert spec["spec"]["language"] == "python"
    # The fields of jupyter_client's KernelSpec, of the types @jupyterlab/services checks;
    # argv names the programs without the host's directories.
    assert isinstance(spec["spec"]["argv"], list) and spec["spec"]["argv"]
    assert not any(arg.startswith("/") for arg in spec["spec"]["argv"]), spec["spec"]["argv"]
    assert spec["spec"]["argv"][0] == "cellbox-kernel"
    assert isinstance(spec["spec"]["env"], dict) and isinstance(spec["spec"]["metadata"], dict)
    assert spec["spec"]["interrupt_mode"] in ("signal", "message")
    assert isinstance(spec["resources"], dict)
    status, body, _ = gateway.request("GET", "/api/kernelspecs/cellbox-python")
    assert status == 200 and body["spec"]["display_name"]
    status, body, _ = gateway.request("GET", "/api/kernelspecs/nope")
    assert status == 404 and body["reason"] == "Not Found"


def test_authentication(gateway):
    assert gateway.request("GET", "/api/kernels", token=None)[0] == 401
    assert gateway.request("GET", "/api/kernels", token="wrong")[0] == 403
    status, _, _ = gateway.request("GET", "/api/kernels", token=None,
                                   headers={"Authorization": f"Bearer {TOKEN}"})
    assert status == 200
    status, _, _ = gateway.request("GET", f"/api/kernels?token={TOKEN}", token=None)
    assert status == 200


def test_kernel_lifecycle(gateway):
    status, model, headers = gateway.request("POST", "/api/kernels", {"name": "cellbox-python"})
    assert status == 201
    kernel_id = model["id"]
    assert re.fullmatch(r"\w+-\w+-\w+-\w+-\w+", kernel_id)
    assert headers["Location"] == f"/api/kernels/{kernel_id}"
    assert model["execution_state"] == "idle" and model["connections"] == 0
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", model["last_activity"])

    status, listed, _ = gateway.request("GET", "/api/kernels")
    assert kernel_id in [k["id"] for k in listed]
    assert gateway.request("GET", f"/api/kernels/{kernel_id}")[0] == 200
    assert gateway.request("POST", f"/api/kernels/{kernel_id}/interrupt", {})[0] == 204
    status, restarted, _ = gateway.request("POST", f"/api/kernels/{kernel_id}/restart", {})
    assert status == 200 and restarted["id"] == kernel_id
    assert restarted["execution_state"] == "idle"
    assert gateway.request("DELETE", f"/api/kernels/{kernel_id}")[0] == 204
    assert gateway.request("GET", f"/api/kernels/{kernel_id}")[0] == 404
    assert kernel_id not in [k["id"] for k in gateway.request("GET", "/api/kernels")[1]]


def test_bad_requests_get_clear_errors(gateway):
    status, body, _ = gateway.request("POST", "/api/kernels", b"{not json")
    assert status == 400 and "JSON" in body["message"]
    status, body, _ = gateway.request("POST", "/api/kernels", {"name": 5})
    assert status == 400
    status, body, _ = gateway.request("POST", "/api/kernels", {"env": "x"})
    assert status == 400 and "env" in body["message"]
    status, body, _ = gateway.request("POST", "/api/kernels", {"name": "no-such-kernel"})
    assert status == 404 and "no-such-kernel" in body["message"]
    assert gateway.request("GET", "/api/kernels/11111111-2222-3333-4444-555555555555")[0] == 404
    assert gateway.request("GET", "/api/kernels/not-an-id")[0] == 404
    assert gateway.request("GET", "/api/nothing-here")[0] == 404
    # An existing route with the wrong method: 405, as jupyter_server answers.
    assert gateway.request("DELETE", "/api/kernelspecs")[0] == 405
    assert gateway.request("GET", "/api")[0] == 200, "the server survived"


def test_sigterm_stops_every_kernel_and_leaves_nothing():
    import subprocess
    from conftest import Gateway

    g = Gateway()
    ids = [g.request("POST", "/api/kernels", {})[1]["id"] for _ in range(2)]
    assert len(set(ids)) == 2
    g.stop()  # SIGTERM
    assert g.process.returncode == 0, g.logs()
    ps = subprocess.run(["ps", "-eo", "uid=,args="], capture_output=True, text=True).stdout
    sandboxed = [line for line in ps.splitlines() if g.runtime in line]  # this server's kernels
    assert not sandboxed, f"kernels left running: {sandboxed}"
    import os
    leftover = [d for d in os.listdir(os.path.join(g.runtime, "run")) if d.startswith("kernel-")]
    assert not leftover, f"kernel directories left: {leftover}"
