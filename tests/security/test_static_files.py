"""Attacks on the pages served without a token (static_api): the landing page at / and the
files under static_dir at /static/...: path escapes (raw, percent-encoded, through symlinks),
directory listings, hidden files, bodies sent to public pages, and whether the API's answers
without a token changed. Requests go out on raw sockets so that no client library tidies
the path first."""

import gzip
import os
import shutil
import socket
import tempfile

import pytest

from conftest import Gateway

SECRET = "secret-next-to-the-static-dir"


@pytest.fixture(scope="module")
def served():
    """A gateway whose static_dir holds a few files, a hidden one, a symlink to a file outside
    it and one to a directory outside it; a secret file sits next to it."""
    root = tempfile.mkdtemp(prefix="cellbox-static-")
    static = os.path.join(root, "static")
    os.makedirs(os.path.join(static, "embed"))
    os.makedirs(os.path.join(static, "landing"))
    with open(os.path.join(static, "embed", "app.js"), "w") as f:
        f.write("console.log('app');\n")
    with open(os.path.join(static, "embed", "app.js.gz"), "wb") as f:
        f.write(gzip.compress(b"console.log('app');\n"))
    with open(os.path.join(static, "landing", "index.html"), "w") as f:
        f.write("<!doctype html><title>landing</title>\n")
    with open(os.path.join(static, ".hidden"), "w") as f:
        f.write(SECRET)
    with open(os.path.join(root, "secret.txt"), "w") as f:
        f.write(SECRET)
    os.symlink(os.path.join(root, "secret.txt"), os.path.join(static, "link-out.txt"))
    os.symlink(root, os.path.join(static, "dir-out"))
    gateway = Gateway("--static-dir", static)
    yield gateway
    gateway.stop()
    shutil.rmtree(root, ignore_errors=True)
    assert gateway.process.returncode == 0, "the gateway did not survive:\n" + gateway.logs()[-3000:]


def raw(gateway, target, method="GET", headers=None, body=b""):
    """(status, headers dict, body) of one request sent exactly as written."""
    lines = [f"{method} {target} HTTP/1.1", f"Host: 127.0.0.1:{gateway.port}", "Connection: close"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    with socket.create_connection(("127.0.0.1", gateway.port), timeout=30) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        data = b""
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    head, _, payload = data.partition(b"\r\n\r\n")
    status_line, *fields = head.decode("latin-1").split("\r\n")
    parsed = {k.strip().lower(): v.strip() for k, v in (f.split(":", 1) for f in fields if ":" in f)}
    return int(status_line.split()[1]), parsed, payload


def test_served_files_have_their_type(served):
    """A page asks for the widget and the landing page: right type, nosniff, revalidation."""
    status, headers, body = raw(served, "/static/embed/app.js")
    assert status == 200 and body == b"console.log('app');\n"
    assert headers["content-type"] == "application/javascript; charset=utf-8"
    assert headers["x-content-type-options"] == "nosniff" and "max-age" in headers["cache-control"]
    status, again, body = raw(served, "/static/embed/app.js", headers={"If-None-Match": headers["etag"]})
    assert status == 304 and body == b""
    status, headers, body = raw(served, "/?token=anything")
    assert status == 200 and b"<title>landing</title>" in body
    assert headers["content-type"] == "text/html; charset=utf-8" and headers["cache-control"] == "no-cache"
    assert headers["referrer-policy"] == "no-referrer", "the ?token= URL is never sent as a Referer"
    status, headers, body = raw(served, "/static/embed/app.js", method="HEAD")
    assert status == 200 and body == b"" and headers["content-length"] == "20"
    # The precompressed copy goes only to clients that accept gzip.
    status, headers, body = raw(served, "/static/embed/app.js", headers={"Accept-Encoding": "gzip"})
    assert status == 200 and headers["content-encoding"] == "gzip" and "Accept-Encoding" in headers["vary"]
    assert gzip.decompress(body) == b"console.log('app');\n"
    assert headers["content-type"] == "application/javascript; charset=utf-8"


@pytest.mark.parametrize("target", [
    "/static/../secret.txt",
    "/static/embed/../../secret.txt",
    "/static/%2e%2e/secret.txt",
    "/static/%2E%2E%2Fsecret.txt",
    "/static/..%2fsecret.txt",
    "/static/embed/%2e%2e/%2e%2e/secret.txt",
    "/static/..\\secret.txt",
    "/static//etc/passwd",
    "/static/%2fetc/passwd",
    "/static/.hidden",
    "/static/embed/app.js%00.png",
    "/static/embed/app.js%",
    "/static/embed/app.js%zz",
])
def test_path_escape_is_refused(served, target):
    """A visitor escapes static_dir with dot segments, encodings, backslashes, NUL, absolute
    or hidden paths."""
    status, headers, body = raw(served, target)
    assert status in (400, 404), (target, status)
    assert SECRET.encode() not in body and b"root:" not in body
    assert headers["content-type"] == "application/json" and b'"message"' in body


def test_symlinks_out_are_not_followed(served):
    """A symlink inside static_dir points at a file, and a directory, outside it."""
    for target in ("/static/link-out.txt", "/static/dir-out/secret.txt"):
        status, _, body = raw(served, target)
        assert status == 404 and SECRET.encode() not in body, target


def test_no_directory_listing(served):
    """A visitor asks for directories, hoping for a listing."""
    for target in ("/static/", "/static/embed", "/static/embed/", "/static"):
        status, _, body = raw(served, target)
        assert status in (400, 404), target
        assert b"app.js" not in body and b"index.html" not in body, target


def test_public_pages_take_no_body(served):
    """An unauthenticated visitor makes the gateway read a large body, or write with POST."""
    status, headers, _ = raw(served, "/static/embed/app.js", headers={"Content-Length": str(50 << 20)})
    assert status == 400 and headers.get("connection", "").lower() == "close"
    status, headers, _ = raw(served, "/static/embed/app.js", method="POST", body=b"{}",
                             headers={"Content-Length": "2"})
    assert status in (400, 405)
    status, headers, _ = raw(served, "/", method="DELETE")
    assert status == 405 and "GET" in headers["allow"]


def test_overlong_static_path_is_refused(served):
    """A visitor sends a static path far longer than any file the gateway has."""
    status, _, body = raw(served, "/static/" + "a/" * 400 + "x.js")
    assert status == 400 and b"longer than" in body


def test_the_api_without_a_token_is_unchanged(served):
    """A visitor without a token probes the API beside the now-public pages."""
    assert raw(served, "/api/kernels")[0] == 401
    assert raw(served, "/api/static/embed/app.js")[0] == 401
    assert raw(served, "/kernelspecs/cellbox-python/logo-64x64.png")[0] == 401
    status, _, body = raw(served, "/nothing-here")
    assert status == 404 and b'"message":"Not Found"' in body
    assert raw(served, "/metrics")[0] == 401


def test_pages_under_a_base_url(served):
    """A visitor reaches the pages of a gateway served under --base-url, and escapes from there."""
    static = next(a for a in served.process.args if a.endswith("static"))
    gateway = Gateway("--static-dir", static, "--base-url", "/cb/")
    try:
        status, _, body = raw(gateway, "/cb/")
        assert status == 200 and b"<title>landing</title>" in body
        assert raw(gateway, "/cb/static/embed/app.js")[0] == 200
        assert raw(gateway, "/cb/static/../secret.txt")[0] == 400
        assert raw(gateway, "/cb/api/kernels")[0] == 401
        assert raw(gateway, "/cb")[0] == 200  # the base without its slash: the landing page
        # Outside the base: nothing, not the page or the API routed as if under it.
        for outside in ("/", "/api/kernels", "/static/embed/app.js", "/cbx/api/kernels",
                        "/c/api/kernels"):
            status, _, body = raw(gateway, outside)
            assert status == 404 and b'"message":"Not Found"' in body, outside
        assert gateway.wait_for_log("outside base_url")
    finally:
        gateway.stop()
