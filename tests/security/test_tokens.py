"""Attacks on authentication: forged, expired and malformed JWTs, and tokens that try to
name another user or raise the server's caps."""

import time

import pytest

from conftest import ADMIN_TOKEN, Gateway, b64url, jwt, run_cell, user_token


def kernels_as(gateway, token):
    return gateway.request("GET", "/api/kernels", token=token)[0]


def test_alg_none_is_refused(gateway):
    """A token with alg "none" and no signature claims to be alice."""
    head = b64url(b'{"alg":"none","typ":"JWT"}')
    body = b64url(b'{"sub":"alice","exp":%d}' % (int(time.time()) + 600))
    for token in (f"{head}.{body}.", f"{head}.{body}"):
        assert kernels_as(gateway, token) == 403


def test_algorithm_confusion_is_refused(gateway):
    """A token signed HS384/HS512 or claiming RS256 with the admin token as the key."""
    import hashlib
    claims = {"sub": "alice", "exp": int(time.time()) + 600}
    assert kernels_as(gateway, jwt(claims, header={"alg": "HS384"}, algorithm=hashlib.sha384)) == 403
    assert kernels_as(gateway, jwt(claims, header={"alg": "RS256"})) == 403


def test_expired_token_is_refused(gateway):
    """A correctly signed token that expired a minute ago."""
    assert kernels_as(gateway, jwt({"sub": "alice", "exp": int(time.time()) - 60})) == 403


def test_token_signed_with_another_secret_is_refused(gateway):
    """A token signed with a guessed secret."""
    assert kernels_as(gateway, user_token("alice", secret="guess")) == 403


@pytest.mark.parametrize("sub", ["../admin", "admin", "", "a/b", "x" * 300, ".", "..", "\u0000x"])
def test_path_like_or_reserved_subjects_are_refused(gateway, sub):
    """A signed token whose subject is a path, the admin's name, empty or oversized."""
    token = jwt({"sub": sub, "exp": int(time.time()) + 600})
    assert kernels_as(gateway, token) in (400, 403)


def test_admin_token_is_not_a_signing_key_for_a_user_named_like_it(gateway):
    """The admin token itself sent as a JWT subject; a user token cannot reach admin routes."""
    assert gateway.request("GET", "/metrics", token=user_token("mallory"))[0] == 403
    assert kernels_as(gateway, ADMIN_TOKEN) == 200


def test_duplicate_alg_keys_cannot_split_the_parsers(gateway):
    """A header with two "alg" keys, hoping one parser reads HS256 and the other "none"."""
    body = b64url(b'{"sub":"alice","exp":%d}' % (int(time.time()) + 600))
    for header in (b'{"alg":"HS256","alg":"none"}', b'{"alg":"none","alg":"HS256"}'):
        head = b64url(header)
        for signature in ("", b64url(b"\0" * 32)):
            assert kernels_as(gateway, f"{head}.{body}.{signature}") == 403, header


def test_header_tricks_are_refused(gateway):
    """Key-fetching and critical headers (jku, x5u, kid paths, crit) and NUL bytes."""
    claims = {"sub": "alice", "exp": int(time.time()) + 600}
    for extra in ({"jku": "http://127.0.0.1:1/keys"}, {"kid": "../../../../dev/null"},
                  {"x5u": "http://127.0.0.1:1/cert"}):
        # The gateway fetches nothing and uses its own secret: with a guessed key, refused.
        forged = jwt(claims, secret="", header={"alg": "HS256", **extra})
        assert kernels_as(gateway, forged) == 403
    token = user_token("alice")
    assert kernels_as(gateway, token[:10] + "%00" + token[10:]) == 403


@pytest.fixture(scope="module")
def capped_gateway():
    g = Gateway("--max-kernels-per-user", "1", "--memory", "256M", "--cell-timeout-cap", "5")
    yield g
    g.stop()


def test_token_limits_cannot_raise_the_servers_caps(capped_gateway):
    """A validly signed token whose limits ask for more kernels, memory and time than the
    server allows anyone."""
    greedy = user_token("greedy", kernels=100, memory="100G", cell_timeout=10000)
    status, kernel, _ = capped_gateway.request("POST", "/api/kernels", {}, token=greedy)
    assert status == 201, kernel
    assert capped_gateway.request("POST", "/api/kernels", {}, token=greedy)[0] == 429
    out, error = run_cell(capped_gateway, kernel["id"], greedy, "import time\ntime.sleep(30)")
    assert error and error.startswith("CellTimeoutError") and "5 s" in error, (out, error)
    capped_gateway.request("DELETE", f"/api/kernels/{kernel['id']}", token=greedy)
