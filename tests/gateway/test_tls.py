"""cellbox serve --certfile/--keyfile: HTTPS and WSS on the port, nothing else."""

import asyncio
import os
import socket
import ssl
import subprocess
import tempfile
import uuid
import warnings

import pytest
import websockets

from conftest import CELLBOX, TOKEN, Gateway
from test_websocket import V1, run_cell


def make_certificate(directory, name="gateway"):
    cert, key = os.path.join(directory, f"{name}.pem"), os.path.join(directory, f"{name}.key")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1", "-addext",
         "subjectAltName=IP:127.0.0.1,DNS:localhost", "-keyout", key, "-out", cert],
        check=True, capture_output=True)
    return cert, key


@pytest.fixture(scope="module")
def certificate():
    return make_certificate(tempfile.mkdtemp(prefix="cellbox-tls-"))


@pytest.fixture(scope="module")
def tls_gateway(certificate):
    cert, key = certificate
    g = Gateway("--certfile", cert, "--keyfile", key,
                ssl_context=ssl.create_default_context(cafile=cert))
    yield g
    g.stop()


def test_the_printed_url_is_https_and_rest_works(tls_gateway):
    assert tls_gateway.url.startswith("https://")
    status, specs, _ = tls_gateway.request("GET", "/api/kernelspecs")
    assert status == 200 and "cellbox-python" in specs["kernelspecs"]
    status, _, _ = tls_gateway.request("GET", "/api/kernels", token="wrong")
    assert status == 403


def test_tls_1_2_is_accepted(tls_gateway, certificate):
    context = ssl.create_default_context(cafile=certificate[0])
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    with socket.create_connection(("127.0.0.1", tls_gateway.port), timeout=10) as raw:
        with context.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
            assert tls.version() == "TLSv1.2"


def test_tls_1_1_is_refused(tls_gateway):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            context.set_ciphers("ALL:@SECLEVEL=0")
            context.minimum_version = ssl.TLSVersion.TLSv1
            context.maximum_version = ssl.TLSVersion.TLSv1_1
    except (ssl.SSLError, ValueError):
        pytest.skip("this OpenSSL cannot even offer TLS 1.1")
    with socket.create_connection(("127.0.0.1", tls_gateway.port), timeout=10) as raw:
        with pytest.raises((ssl.SSLError, ConnectionError)):
            context.wrap_socket(raw, server_hostname="127.0.0.1")
    assert tls_gateway.request("GET", "/api")[0] == 200
    assert tls_gateway.wait_for_log("unsupported protocol")


@pytest.mark.parametrize("v1", [False, True], ids=["legacy", "v1"])
def test_execute_over_wss(tls_gateway, v1):
    status, model, _ = tls_gateway.request("POST", "/api/kernels", {})
    assert status == 201
    session = uuid.uuid4().hex

    async def scenario():
        url = (f"wss://127.0.0.1:{tls_gateway.port}/api/kernels/{model['id']}/channels"
               f"?session_id={session}&token={TOKEN}")
        async with websockets.connect(url, ssl=tls_gateway.ssl_context,
                                      subprotocols=[V1] if v1 else None) as ws:
            assert ws.subprotocol == (V1 if v1 else None)
            reply, outputs = await run_cell(ws, "1+1", v1, session)
            assert reply["content"]["status"] == "ok"
            assert [o["content"]["data"]["text/plain"] for o in outputs
                    if o["msg_type"] == "execute_result"] == ["2"]

    asyncio.run(scenario())
    assert tls_gateway.request("DELETE", f"/api/kernels/{model['id']}")[0] == 204


def test_plain_http_to_the_tls_port_is_closed_and_the_server_keeps_working(tls_gateway):
    with socket.create_connection(("127.0.0.1", tls_gateway.port), timeout=10) as s:
        s.sendall(b"GET /api HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        received = b""
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            received += chunk
        assert not received.startswith(b"HTTP/")  # at most a TLS alert, then the close
    assert tls_gateway.request("GET", "/api")[0] == 200


def test_failed_handshakes_and_silent_clients_do_not_disturb_the_server(tls_gateway):
    silent = socket.create_connection(("127.0.0.1", tls_gateway.port), timeout=10)
    untrusting = ssl.create_default_context()  # does not know the self-signed certificate
    for _ in range(3):
        with socket.create_connection(("127.0.0.1", tls_gateway.port), timeout=10) as raw:
            with pytest.raises(ssl.SSLCertVerificationError):
                untrusting.wrap_socket(raw, server_hostname="127.0.0.1")
    with socket.create_connection(("127.0.0.1", tls_gateway.port), timeout=10) as raw:
        raw.sendall(os.urandom(64))  # garbage in place of a ClientHello
    assert tls_gateway.request("GET", "/api")[0] == 200
    silent.close()
    assert tls_gateway.wait_for_log("TLS handshake failed")


def serve_exit(*args):
    result = subprocess.run([str(CELLBOX), "serve", "--port", "0", "--no-token", *args],
                            capture_output=True, text=True, timeout=30)
    return result.returncode, result.stderr


def test_missing_certificate_or_key_exits_2(certificate, tmp_path):
    cert, key = certificate
    code, err = serve_exit("--certfile", str(tmp_path / "nope.pem"), "--keyfile", key,
                           "--runtime-dir", str(tmp_path / "run"), "--work-dir", str(tmp_path))
    assert code == 2 and "nope.pem" in err and "No such file" in err
    code, err = serve_exit("--certfile", cert, "--keyfile", str(tmp_path / "nope.key"),
                           "--runtime-dir", str(tmp_path / "run"), "--work-dir", str(tmp_path))
    assert code == 2 and "nope.key" in err


def test_garbage_or_mismatched_key_exits_2(certificate, tmp_path):
    cert, key = certificate
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a certificate\n")
    code, err = serve_exit("--certfile", str(garbage), "--keyfile", key,
                           "--runtime-dir", str(tmp_path / "run"), "--work-dir", str(tmp_path))
    assert code == 2 and "garbage.pem" in err and "certificate" in err
    _, other_key = make_certificate(str(tmp_path), "other")
    code, err = serve_exit("--certfile", cert, "--keyfile", other_key,
                           "--runtime-dir", str(tmp_path / "run"), "--work-dir", str(tmp_path))
    assert code == 2 and "does not match" in err


def test_key_inside_the_certificate_file(certificate, tmp_path):
    cert, key = certificate
    both = tmp_path / "both.pem"
    both.write_text(open(cert).read() + open(key).read())
    g = Gateway("--certfile", str(both), ssl_context=ssl.create_default_context(cafile=cert))
    try:
        assert g.url.startswith("https://") and g.request("GET", "/api")[0] == 200
    finally:
        g.stop()


def test_jupyter_server_gateway_client_over_tls(tls_gateway):
    from test_gateway_client import call, start_jupyter, stop_jupyter

    # jupyter_server 1.23 passes --GatewayClient.ca_certs on only along with a client
    # certificate, so a self-signed gateway needs validate_cert=False there.
    process, url, _, log = start_jupyter(tls_gateway.url, "--GatewayClient.validate_cert=False")
    try:
        status, specs = call(url, "GET", "/api/kernelspecs")
        assert status == 200 and "cellbox-python" in specs["kernelspecs"]
        status, model = call(url, "POST", "/api/kernels", {"name": "cellbox-python"})
        assert status == 201
        assert model["id"] in [k["id"] for k in tls_gateway.request("GET", "/api/kernels")[1]]
        assert call(url, "DELETE", f"/api/kernels/{model['id']}")[0] == 204
    finally:
        stop_jupyter(process, log)
