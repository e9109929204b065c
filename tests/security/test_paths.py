"""Path tricks on every path parameter: kernel ids, kernelspec names and resource files,
session ids, encoded dots and slashes, NUL bytes, oversized segments. Each gets a 4xx and
never a host file's content; the gateway keeps serving."""

import http.client

import pytest

from conftest import ADMIN_TOKEN, user_token

HOST_FILE_MARKERS = ("root:x:0:0", "root:*:", "BEGIN PRIVATE KEY")


def raw_get(gateway, target, token=ADMIN_TOKEN):
    """GET exactly `target` (no client-side normalisation of dots or escapes)."""
    connection = http.client.HTTPConnection("127.0.0.1", gateway.port, timeout=30)
    try:
        connection.putrequest("GET", target, skip_accept_encoding=True)
        connection.putheader("Authorization", f"token {token}")
        connection.endheaders()
        response = connection.getresponse()
        return response.status, response.read().decode(errors="replace")
    finally:
        connection.close()


TRICKS = [
    "/api/kernels/..%2f..%2f..%2fetc%2fpasswd",
    "/api/kernels/../../../../etc/passwd",
    "/api/kernels/%2e%2e/%2e%2e/etc/passwd",
    "/api/kernels/aaaa-bbbb-cccc-dddd-eeee%00/restart",
    "/api/kernels/" + "a" * 4000,
    "/api/kernelspecs/..%2f..%2f..%2fetc",
    "/api/kernelspecs/../../../etc/passwd",
    "/kernelspecs/cellbox-python/..%2fkernel.json",
    "/kernelspecs/cellbox-python/..%2f..%2f..%2f..%2fetc%2fpasswd",
    "/kernelspecs/..%2f..%2f..%2f..%2fetc/passwd",
    "/kernelspecs/cellbox-python/%2e%2e",
    "/kernelspecs/cellbox-python/kernel.json%00.png",
    "/kernelspecs/%00/kernel.json",
    "/api/sessions/..%2f..%2fetc%2fpasswd",
    "//etc/passwd",
    "/api/kernels/%252e%252e%252fetc%252fpasswd",
]


@pytest.mark.parametrize("target", TRICKS, ids=range(len(TRICKS)))
def test_path_tricks_never_reach_host_files(gateway, target):
    """A request whose path climbs out of the API with dots, encoded slashes or NUL bytes."""
    for token in (ADMIN_TOKEN, user_token("mallory")):
        status, body = raw_get(gateway, target, token)
        assert 400 <= status < 500, (target, status, body[:200])
        assert not any(marker in body for marker in HOST_FILE_MARKERS), (target, body[:200])
    assert raw_get(gateway, "/api/kernelspecs")[0] == 200, "the gateway still serves"


@pytest.mark.parametrize("name", ["../../../etc", "/etc/passwd", "cellbox-python/../python3",
                                  "", "x" * 5000, "\u0000"])
def test_kernel_names_that_are_paths_start_nothing(gateway, name):
    """POST /api/kernels with a kernelspec name that is a path, empty, huge or a NUL."""
    token = user_token("mallory")
    status, body, _ = gateway.request("POST", "/api/kernels", {"name": name}, token=token)
    assert status in (400, 404), (status, body)
    assert gateway.request("GET", "/api/kernels", token=token)[1] == []
