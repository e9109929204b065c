"""Path tricks on every path parameter: kernel ids, kernelspec names and resource files,
session ids, encoded dots and slashes, NUL bytes, oversized segments, URLs and headers. Each
gets a 4xx (414 and 431 for a URL or header over the limits) and never a host file's content;
the gateway keeps serving."""

import http.client
import json

import pytest

from conftest import ADMIN_TOKEN, user_token

HOST_FILE_MARKERS = ("root:x:0:0", "root:*:", "BEGIN PRIVATE KEY")


def raw_get(gateway, target, token=ADMIN_TOKEN, headers=()):
    """GET exactly `target` (no client-side normalisation of dots or escapes)."""
    connection = http.client.HTTPConnection("127.0.0.1", gateway.port, timeout=30)
    try:
        connection.putrequest("GET", target, skip_accept_encoding=True)
        connection.putheader("Authorization", f"token {token}")
        for name, value in headers:
            connection.putheader(name, value)
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


def assert_refused_with(gateway, expected, target, headers=()):
    """`target` (with `headers`) is answered `expected` with a JSON message, and logged, for the
    admin and a tenant alike; then the gateway serves others."""
    for token in (ADMIN_TOKEN, user_token("mallory")):
        status, body = raw_get(gateway, target, token, headers)
        assert status == expected, (status, body[:200])
        assert json.loads(body)["message"], body
    assert gateway.wait_for_log("header over a limit")
    assert raw_get(gateway, "/api/kernelspecs")[0] == 200, "the gateway still serves"


@pytest.mark.parametrize("length", [8000, 100000])
def test_an_overlong_url_gets_414(gateway, length):
    """A GET whose URL holds 8000 or 100 000 characters (a path segment past the target limit)."""
    assert_refused_with(gateway, 414, "/api/kernels/" + "a" * length)


def test_an_overlong_query_gets_414(gateway):
    """A GET whose query string holds 8000 characters after a short path."""
    assert_refused_with(gateway, 414, "/api/kernels?x=" + "q" * 8000)


def test_an_oversized_header_gets_431(gateway):
    """A GET with a short URL and a header field of 10 000 characters."""
    assert_refused_with(gateway, 431, "/api/kernels", [("X-Junk", "j" * 10000)])
