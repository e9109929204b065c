"""Attacks on the tokens a SaaS mints with its own private key (RS256, ES256: the gateway holds
only public keys, from a PEM file or a JWKS file, reloaded on SIGHUP): tampered, wrong-key,
expired and algorithm-confused tokens, wrong audience or issuer, and tokens bound to page
origins used from another page over HTTP and WebSocket. Keys are made with `openssl`; tokens
are signed with PyJWT (Debian's python3-jwt), an implementation independent of the gateway's."""

import asyncio
import base64
import hashlib
import hmac
import json
import os
import signal
import subprocess
import time

import pytest
import websockets

from conftest import CELLBOX, Gateway, jwt as hs256, user_token

jwt = pytest.importorskip("jwt", reason="PyJWT (Debian's python3-jwt) signs the test tokens")
pytest.importorskip("cryptography", reason="PyJWT needs python3-cryptography for RS256/ES256")

APP, EVIL = "https://app.example", "https://evil.example"
AUDIENCE, ISSUER = "cellbox-test", "https://saas.example"


def openssl(*args):
    subprocess.run(["openssl", *args], check=True, capture_output=True)


def make_key(directory, name, kind):
    """A private key made with openssl, and its public key's PEM file."""
    private, public = directory / f"{name}.pem", directory / f"{name}.pub.pem"
    if kind == "rsa":
        openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048",
                "-out", str(private))
    else:
        openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
                "-out", str(private))
    openssl("pkey", "-in", str(private), "-pubout", "-out", str(public))
    return private.read_text(), public


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    directory = tmp_path_factory.mktemp("keys")
    made = {name: make_key(directory, name, kind) for name, kind in
            [("rsa", "rsa"), ("ec", "ec"), ("other_rsa", "rsa"), ("other_ec", "ec"),
             ("next_rsa", "rsa")]}
    trusted = directory / "trusted.pem"
    trusted.write_text(made["rsa"][1].read_text() + made["ec"][1].read_text())
    return directory, {name: private for name, (private, _) in made.items()}, made, trusted


@pytest.fixture(scope="module")
def gateway(keys):
    _, _, _, trusted = keys
    g = Gateway("--pool-size", "1", "--jwt-public-key", str(trusted),
                "--jwt-audience", AUDIENCE, "--jwt-issuer", ISSUER,
                "--allow-origin", f"{APP},{EVIL}")
    yield g
    g.stop()
    assert g.process.returncode == 0, "the gateway did not survive the attacks:\n" + g.logs()[-3000:]


def claims(user="saas-user", **extra):
    return {"sub": user, "exp": int(time.time()) + 600, "aud": AUDIENCE, "iss": ISSUER, **extra}


def sign(private, algorithm, body=None, headers=None):
    return jwt.encode(body or claims(), private, algorithm=algorithm, headers=headers)


def status_of(gateway, token, origin=None, path="/api/kernels"):
    status, body, _ = gateway.request("GET", path, token=token,
                                      headers={"Origin": origin} if origin else None)
    return status, body


def test_rs256_and_es256_tokens_are_accepted(gateway, keys):
    """(The honest case) tokens the SaaS signs with its RSA and EC P-256 keys."""
    _, private, _, _ = keys
    for algorithm, key in (("RS256", private["rsa"]), ("ES256", private["ec"])):
        token = sign(key, algorithm)
        assert status_of(gateway, token) == (200, []), algorithm
    # The user is the one the token names: what an RS256 token writes, an HS256 one reads.
    rs = sign(private["rsa"], "RS256", claims("carol"))
    assert gateway.request("PUT", "/api/contents/who.txt", {
        "type": "file", "format": "text", "content": "carol's"}, token=rs)[0] == 201
    status, model, _ = gateway.request("GET", "/api/contents/who.txt", token=hs256(claims("carol")))
    assert status == 200 and model["content"] == "carol's"


def test_tampered_wrong_key_and_expired_tokens_are_refused(gateway, keys):
    """A payload edited after signing, tokens signed by keys the server does not trust, and
    expired tokens."""
    _, private, _, _ = keys
    for algorithm, key in (("RS256", private["rsa"]), ("ES256", private["ec"])):
        head, _, signature = sign(key, algorithm).split(".")
        forged_body = base64.urlsafe_b64encode(
            json.dumps(claims("admin-ish")).encode()).rstrip(b"=").decode()
        status, body = status_of(gateway, f"{head}.{forged_body}.{signature}")
        assert status == 403 and "signature" in body["message"], algorithm
        expired = sign(key, algorithm, claims(exp=int(time.time()) - 120))
        status, body = status_of(gateway, expired)
        assert status == 403 and "expired" in body["message"], algorithm
    for algorithm, key in (("RS256", private["other_rsa"]), ("ES256", private["other_ec"])):
        status, body = status_of(gateway, sign(key, algorithm))
        assert status == 403 and "signature" in body["message"], algorithm


def test_algorithm_confusion_is_refused(gateway, keys):
    """The RSA public key used as an HS256 secret, an ES256 header over an RSA signature, and
    algorithms the server does not take (PS256, ES384, none)."""
    _, private, made, _ = keys
    public_pem = made["rsa"][1].read_bytes()
    head = base64.urlsafe_b64encode(b'{"alg":"HS256","typ":"JWT"}').rstrip(b"=")
    body = base64.urlsafe_b64encode(json.dumps(claims()).encode()).rstrip(b"=")
    mac = hmac.new(public_pem, head + b"." + body, hashlib.sha256).digest()
    confused = b".".join([head, body, base64.urlsafe_b64encode(mac).rstrip(b"=")]).decode()
    status, answer = status_of(gateway, confused)
    assert status == 403 and "signature" in answer["message"]
    rs = sign(private["rsa"], "RS256").split(".")
    es_head = base64.urlsafe_b64encode(b'{"alg":"ES256","typ":"JWT"}').rstrip(b"=").decode()
    assert status_of(gateway, f"{es_head}.{rs[1]}.{rs[2]}")[0] == 403
    for algorithm, key in (("PS256", private["rsa"]), ("ES384", None)):
        token = sign(key, algorithm) if key else jwt.encode(claims(), private["ec"],
                                                            algorithm="ES256",
                                                            headers={"alg": "ES384"})
        status, answer = status_of(gateway, token)
        assert status == 403 and "HS256, RS256 or ES256" in answer["message"], algorithm


def test_audience_and_issuer_are_checked(gateway, keys):
    """Tokens minted for another service (aud) or by another issuer (iss)."""
    _, private, _, _ = keys
    for body, words in [(claims(aud="other-service"), "audience"),
                        ({k: v for k, v in claims().items() if k != "aud"}, "audience"),
                        (claims(aud=["x", AUDIENCE]), None),
                        (claims(iss="https://evil.example"), "issuer"),
                        ({k: v for k, v in claims().items() if k != "iss"}, "issuer")]:
        status, answer = status_of(gateway, sign(private["ec"], "ES256", body))
        if words is None:
            assert status == 200, answer
        else:
            assert status == 403 and words in answer["message"], (body, answer)


def test_tokens_bound_to_origins_work_from_those_pages_only(gateway, keys):
    """A token bound to https://app.example used from another page, and without any Origin,
    on plain HTTP requests."""
    _, private, _, _ = keys
    bound = sign(private["rsa"], "RS256", claims(origins=[APP]))
    assert status_of(gateway, bound, APP) == (200, [])
    for origin in (EVIL, "https://app.example.evil.example", "http://app.example"):
        status, answer = status_of(gateway, bound, origin)
        assert status == 403 and "bound to other origins" in answer["message"], origin
    assert status_of(gateway, bound)[0] == 403
    assert gateway.request("PUT", "/api/contents/x.txt", {"type": "directory"}, token=bound,
                           headers={"Origin": EVIL})[0] == 403
    unbound = sign(private["rsa"], "RS256")
    assert status_of(gateway, unbound, EVIL) == (200, [])
    for bad in ([], ["app.example"], ["https://app.example/path"], "https://app.example"):
        status, answer = status_of(gateway, sign(private["ec"], "ES256", claims(origins=bad)), APP)
        assert status == 403 and "origins" in answer["message"], bad
    assert gateway.wait_for_log("token used from an origin it is not bound to")


def test_tokens_bound_to_origins_on_websockets(gateway, keys):
    """The same bound token opening a kernel's WebSocket from another page (both origins are
    allowed by --allow-origin: only the token's binding tells them apart)."""
    _, private, _, _ = keys
    bound = sign(private["ec"], "ES256", claims("wsuser", origins=[APP]))
    status, kernel, _ = gateway.request("POST", "/api/kernels", {}, token=bound,
                                        headers={"Origin": APP})
    assert status == 201, kernel

    async def connect(origin):
        url = f"ws://127.0.0.1:{gateway.port}/api/kernels/{kernel['id']}/channels?token={bound}"
        try:
            async with websockets.connect(url, origin=origin):
                return 101
        except websockets.InvalidStatusCode as e:
            return e.status_code

    try:
        assert asyncio.run(connect(APP)) == 101
        assert asyncio.run(connect(EVIL)) == 403
    finally:
        gateway.request("DELETE", f"/api/kernels/{kernel['id']}", token=bound,
                        headers={"Origin": APP})


def test_sighup_reloads_the_keys(keys, tmp_path):
    """A key rotation: the file gets a new key and SIGHUP; tokens of the old key stop working.
    A broken file on the next SIGHUP keeps the keys in use."""
    _, private, made, _ = keys
    key_file = tmp_path / "keys.pem"
    key_file.write_text(made["rsa"][1].read_text())
    g = Gateway("--pool-size", "0", "--launch-pool-size", "0", "--jwt-public-key", str(key_file))
    try:
        body = {"sub": "rotor", "exp": int(time.time()) + 600}
        old, new = sign(private["rsa"], "RS256", body), sign(private["next_rsa"], "RS256", body)
        assert status_of(g, old)[0] == 200 and status_of(g, new)[0] == 403
        key_file.write_text(made["next_rsa"][1].read_text())
        g.process.send_signal(signal.SIGHUP)
        assert g.wait_for_log("JWT public keys reloaded")
        assert status_of(g, new)[0] == 200 and status_of(g, old)[0] == 403
        key_file.write_text("not a key\n")
        g.process.send_signal(signal.SIGHUP)
        assert g.wait_for_log("JWT public keys not reloaded")
        assert status_of(g, new)[0] == 200
        assert status_of(g, user_token("rotor"))[0] == 200, "HS256 tokens still work"
    finally:
        g.stop()


def test_jwks_files_and_key_ids(keys, tmp_path):
    """Keys from a JWKS file by kid; a token whose kid names a key of another kind, and a
    JWKS file that cannot be used at start."""
    _, private, made, _ = keys
    from cryptography.hazmat.primitives.serialization import load_pem_public_key
    rsa_jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(
        load_pem_public_key(made["rsa"][1].read_bytes())))
    ec_jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(
        load_pem_public_key(made["ec"][1].read_bytes())))
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps({"keys": [
        {**rsa_jwk, "kid": "r1", "use": "sig", "alg": "RS256"}, {**ec_jwk, "kid": "e1"},
        {"kty": "oct", "k": "c2VjcmV0", "kid": "sym"}]}))
    g = Gateway("--pool-size", "0", "--launch-pool-size", "0", "--jwks-file", str(jwks))
    try:
        body = {"sub": "jwks-user", "exp": int(time.time()) + 600}
        assert status_of(g, sign(private["rsa"], "RS256", body, {"kid": "r1"}))[0] == 200
        assert status_of(g, sign(private["ec"], "ES256", body, {"kid": "e1"}))[0] == 200
        assert status_of(g, sign(private["ec"], "ES256", body))[0] == 200  # no kid: any ES256
        assert status_of(g, sign(private["ec"], "ES256", body, {"kid": "r1"}))[0] == 403
        assert status_of(g, sign(private["other_ec"], "ES256", body, {"kid": "e1"}))[0] == 403
        assert g.wait_for_log("2 keys: RS256 (kid r1) ES256 (kid e1)")
    finally:
        g.stop()
    # A coordinate of 33 bytes: no P-256 key.
    jwks.write_text(json.dumps({"keys": [{"kty": "EC", "crv": "P-256", "x": "A" * 44, "y": "AA"}]}))
    bad = subprocess.run([str(CELLBOX), "serve", "--port", "0", "--token", "t", "--pool-size", "0",
                          "--launch-pool-size", "0", "--work-dir", str(tmp_path / "w"),
                          "--runtime-dir", str(tmp_path / "r"), "--jwks-file", str(jwks)],
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "jwks.json" in bad.stderr and "32 bytes" in bad.stderr


def test_jwks_coordinates_without_their_leading_zeros(tmp_path):
    """PyJWT before 2.8 writes a P-256 coordinate as a minimal integer, without its leading
    zero bytes (one key in 128): the same key, accepted (padded back) rather than refused."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    while True:
        key = ec.generate_private_key(ec.SECP256R1())
        numbers = key.public_key().public_numbers()
        if numbers.x < 1 << 248 or numbers.y < 1 << 248:
            break

    def minimal(n):
        raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    jwk = {"kty": "EC", "crv": "P-256", "kid": "z", "x": minimal(numbers.x),
           "y": minimal(numbers.y)}
    assert min(len(jwk["x"]), len(jwk["y"])) < 43, "a coordinate shorter than 32 bytes"
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps({"keys": [jwk]}))
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    g = Gateway("--pool-size", "0", "--launch-pool-size", "0", "--jwks-file", str(jwks))
    try:
        body = {"sub": "jwks-user", "exp": int(time.time()) + 600}
        assert status_of(g, sign(private, "ES256", body, {"kid": "z"}))[0] == 200
        other = ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption())
        assert status_of(g, sign(other, "ES256", body, {"kid": "z"}))[0] == 403
    finally:
        g.stop()
