"""The execute API (POST /api/kernels/{id}/execute, GET/DELETE .../executions/{id}, POST
/api/execute) with real HTTP clients: each status, streams whose first event comes while the
cell still runs, resumption after a dropped connection, DELETE interrupting, output budgets,
bad input and another user's kernel."""
import base64
import hashlib
import hmac
import http.client
import json
import threading
import time

import pytest

from conftest import TOKEN, Gateway


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def user_token(user):
    head = b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = b64url(json.dumps({"sub": user, "exp": int(time.time()) + 600}).encode())
    signature = hmac.new(TOKEN.encode(), f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{b64url(signature)}"


@pytest.fixture(scope="module")
def gw():
    # Keepalives every 0.3 s so that a short silence shows some; a hard kill 3 s after the
    # soft limit (the default grace).
    g = Gateway("--execute-keepalive", "0.3", "--execution-keep", "60")
    yield g
    g.stop()


@pytest.fixture(scope="module")
def kernel(gw):
    status, body, _ = gw.request("POST", "/api/kernels", {})
    assert status == 201
    yield body["id"]
    gw.request("DELETE", f"/api/kernels/{body['id']}")


def open_stream(gw, path, body=None, accept="application/x-ndjson", method="POST",
                token=TOKEN, headers=None):
    """The response of a streamed request, its headers read, its body not."""
    conn = http.client.HTTPConnection("127.0.0.1", gw.port, timeout=60)
    all_headers = {"Authorization": f"token {token}", "Accept": accept}
    all_headers.update(headers or {})
    data = None if body is None else json.dumps(body).encode()
    if data is not None:
        all_headers["Content-Type"] = "application/json"
    conn.request(method, path, body=data, headers=all_headers)
    res = conn.getresponse()
    res.conn = conn
    return res


def drop(res):
    """The client goes away: closes its side of the connection."""
    res.close()
    res.conn.close()


def ndjson_events(res, skip_keepalive=True):
    """The events of an NDJSON body as they come."""
    while True:
        line = res.readline()
        if not line:
            return
        if not line.strip():
            continue
        event = json.loads(line)
        if skip_keepalive and event["type"] == "keepalive":
            continue
        yield event


def sse_events(res):
    """(event name, id, data) of a text/event-stream body as they come; comments skipped."""
    name, ident, data = None, None, []
    while True:
        line = res.readline()
        if not line:
            return
        line = line.decode().rstrip("\n")
        if line == "":
            if data:
                yield name, ident, json.loads("\n".join(data))
            name, ident, data = None, None, []
        elif line.startswith(":"):
            continue
        else:
            field, _, value = line.partition(": ")
            if field == "event":
                name = value
            elif field == "id":
                ident = int(value)
            elif field == "data":
                data.append(value)


def execute(gw, kernel, body, token=TOKEN):
    return gw.request("POST", f"/api/kernels/{kernel}/execute", body, token=token)


def kernel_state(gw, kernel):
    return gw.request("GET", f"/api/kernels/{kernel}")[1]["execution_state"]


def test_ok_answers_outputs_result_and_usage(gw, kernel):
    status, body, headers = execute(gw, kernel, {"code": "print('hi')\nv = 21\nv * 2"})
    assert status == 200
    assert headers["Content-Type"] == "application/json"
    assert body["status"] == "ok"
    assert body["stdout"] == "hi\n" and body["stderr"] == ""
    assert body["result"] == {"text/plain": "42"}
    assert body["error"] is None
    assert body["truncated"] is False
    assert [o["output_type"] for o in body["outputs"]] == ["stream", "execute_result"]
    assert body["outputs"][1]["execution_count"] == body["execution_count"]
    assert body["usage"]["wall_ms"] >= 0
    # The kernel reports its CPU time and peak memory in the execute_reply's metadata.
    assert isinstance(body["usage"]["cpu_ms"], int)
    assert body["usage"]["peak_rss_bytes"] > 0
    assert headers["X-Cellbox-Execution-Id"] == body["execution_id"]
    # State is the kernel's: the next execution sees it.
    assert execute(gw, kernel, {"code": "v"})[1]["result"] == {"text/plain": "21"}


def test_files_in_work_are_utf8_in_a_pooled_session(gw, kernel):
    """A zygote's session (the pool's) reads and writes UTF-8 by default, as a kernel started
    on its own does (tests/kernel)."""
    code = ("open('/work/ü.txt', 'w').write('héllo ✓')\n"
            "import os\nprint(open('/work/ü.txt').read(), 'ü.txt' in os.listdir('/work'))")
    body = execute(gw, kernel, {"code": code})[1]
    assert body["status"] == "ok", body["error"]
    assert body["stdout"] == "héllo ✓ True\n"


def test_error_status_carries_the_traceback(gw, kernel):
    body = execute(gw, kernel, {"code": "1/0"})[1]
    assert body["status"] == "error"
    assert body["error"]["ename"] == "ZeroDivisionError"
    assert any("ZeroDivisionError" in line for line in body["error"]["traceback"])
    assert body["outputs"][-1]["output_type"] == "error"


def test_timeout_is_the_soft_limit_and_keeps_state(gw, kernel):
    execute(gw, kernel, {"code": "kept = 'yes'"})
    body = execute(gw, kernel, {"code": "import time\ntime.sleep(60)", "timeout": 1})[1]
    assert body["status"] == "timeout"
    assert body["error"]["ename"] == "CellTimeoutError"
    assert execute(gw, kernel, {"code": "kept"})[1]["result"] == {"text/plain": "'yes'"}


def test_a_hard_kill_is_died_with_the_explanation(gw):
    kernel = gw.request("POST", "/api/kernels", {})[1]["id"]
    stubborn = ("import signal, time\n"
                "signal.signal(signal.SIGINT, lambda *args: None)\n"
                "time.sleep(60)")
    body = execute(gw, kernel, {"code": stubborn, "timeout": 1})[1]
    assert body["status"] == "died"
    assert body["error"]["ename"] == "CellTimeoutError"
    assert "did not stop" in body["error"]["evalue"]
    gw.request("DELETE", f"/api/kernels/{kernel}")


def test_a_kernel_that_dies_is_died(gw):
    kernel = gw.request("POST", "/api/kernels", {})[1]["id"]
    body = execute(gw, kernel, {"code": "import os\nos._exit(3)"})[1]
    assert body["status"] == "died"
    assert body["error"]["ename"] == "KernelDied"
    assert "exited with code 3" in body["error"]["evalue"]
    gw.request("DELETE", f"/api/kernels/{kernel}")


def test_a_cell_queued_behind_a_failing_one_is_aborted(gw, kernel):
    first = open_stream(gw, f"/api/kernels/{kernel}/execute",
                        {"code": "import time\ntime.sleep(1.5)\n1/0"}, accept="application/json")
    # The first cell is in the kernel's queue before the second is sent.
    second = execute(gw, kernel, {"code": "print('never')"})[1]
    assert json.loads(first.read())["status"] == "error"
    assert second["status"] == "aborted"
    assert second["stdout"] == ""


def test_stdin_answers_input_in_order(gw, kernel):
    body = execute(gw, kernel, {"code": "print(input('a? '), input(), input())",
                                "stdin": ["one", "two"]})[1]
    assert body["status"] == "ok"
    # Each answer is echoed after its prompt, as a terminal shows it; past the given lines
    # input() reads an empty line.
    assert body["stdout"] == "a? one\ntwo\n\none two \n"


def test_input_without_stdin_is_refused_by_the_kernel(gw, kernel):
    body = execute(gw, kernel, {"code": "input()"})[1]
    assert body["status"] == "error"


def test_store_history_is_accepted(gw, kernel):
    body = execute(gw, kernel, {"code": "7", "store_history": False})[1]
    assert body["status"] == "ok" and body["result"] == {"text/plain": "7"}


def test_ndjson_streams_the_first_event_before_the_cell_ends(gw, kernel):
    res = open_stream(gw, f"/api/kernels/{kernel}/execute",
                      {"code": "print('early', flush=True)\nimport time\ntime.sleep(60)"})
    assert res.status == 200
    assert res.getheader("Content-Type") == "application/x-ndjson"
    events = ndjson_events(res)
    first = next(events)
    assert first == {"type": "stream", "name": "stdout", "text": "early\n"}
    # Still running: the event came before the end, not with it.
    assert kernel_state(gw, kernel) == "busy"
    execution = res.getheader("X-Cellbox-Execution-Id")
    assert gw.request("DELETE", f"/api/kernels/{kernel}/executions/{execution}")[0] == 204
    rest = list(events)
    assert rest[-1]["type"] == "done"
    assert rest[-1]["status"] == "aborted"
    assert "outputs" not in rest[-1]


def test_sse_streams_the_first_event_before_the_cell_ends(gw, kernel):
    res = open_stream(gw, f"/api/kernels/{kernel}/execute",
                      {"code": "print('early', flush=True)\nimport time\ntime.sleep(60)"},
                      accept="text/event-stream")
    assert res.getheader("Content-Type") == "text/event-stream"
    events = sse_events(res)
    name, ident, data = next(events)
    assert (name, ident) == ("stream", 0)
    assert data["text"] == "early\n"
    assert kernel_state(gw, kernel) == "busy"
    execution = res.getheader("X-Cellbox-Execution-Id")
    gw.request("DELETE", f"/api/kernels/{kernel}/executions/{execution}")
    rest = list(events)
    assert rest[-1][0] == "done" and rest[-1][2]["status"] == "aborted"


def test_keepalives_while_the_cell_is_silent(gw, kernel):
    res = open_stream(gw, f"/api/kernels/{kernel}/execute",
                      {"code": "import time\ntime.sleep(1.5)\nprint('end')"})
    events = list(ndjson_events(res, skip_keepalive=False))
    assert {"type": "keepalive"} in events
    assert events[-1]["type"] == "done" and events[-1]["stdout"] == "end\n"
    sse = open_stream(gw, f"/api/kernels/{kernel}/execute",
                      {"code": "import time\ntime.sleep(1.5)"}, accept="text/event-stream")
    assert b": keepalive\n\n" in sse.read()


def test_display_updates_and_clear_output_are_events_and_outputs(gw, kernel):
    code = ("from IPython.display import display, clear_output\n"
            "h = display({'text/plain': 'first'}, raw=True, display_id='d1')\n"
            "h.update({'text/plain': 'second'}, raw=True)\n"
            "print('gone')\n"
            "clear_output()\n"
            "print('after')")
    res = open_stream(gw, f"/api/kernels/{kernel}/execute", {"code": code})
    events = list(ndjson_events(res))
    types = [e["type"] for e in events]
    assert types[:2] == ["display_data", "update_display_data"]
    assert events[1]["display_id"] == "d1" and events[1]["data"] == {"text/plain": "second"}
    assert "clear_output" in types
    body = gw.request("GET", f"/api/kernels/{kernel}/executions/"
                      f"{res.getheader('X-Cellbox-Execution-Id')}")[1]
    assert body["outputs"] == [{"output_type": "stream", "name": "stdout", "text": "after\n"}]


def test_resuming_after_a_dropped_connection_replays_and_follows(gw, kernel):
    code = "import time\nprint('one', flush=True)\ntime.sleep(2)\nprint('two')"
    res = open_stream(gw, f"/api/kernels/{kernel}/execute", {"code": code})
    execution = res.getheader("X-Cellbox-Execution-Id")
    location = res.getheader("Location")
    assert location.endswith(f"/api/kernels/{kernel}/executions/{execution}")
    assert next(ndjson_events(res))["text"] == "one\n"
    drop(res)  # mid-cell
    again = open_stream(gw, location, method="GET")
    events = list(ndjson_events(again))
    assert [e.get("text") for e in events if e["type"] == "stream"] == ["one\n", "two\n"]
    assert events[-1]["status"] == "ok", "leaving does not interrupt the cell"
    # From a given event on, in SSE: Last-Event-ID is the last one the client has.
    sse = open_stream(gw, location, method="GET", accept="text/event-stream",
                      headers={"Last-Event-ID": "0"})
    assert [name for name, _, _ in sse_events(sse)] == ["stream", "done"]
    # Or ?from=N, the first event wanted.
    again = open_stream(gw, location + "?from=1", method="GET")
    assert [e["type"] for e in ndjson_events(again)] == ["stream", "done"]
    assert gw.request("GET", location + "?from=abc")[0] == 400
    # And the whole answer once it is over.
    status, body, _ = gw.request("GET", location)
    assert status == 200 and body["stdout"] == "one\ntwo\n" and len(body["outputs"]) == 1


def test_interrupt_on_disconnect(gw, kernel):
    res = open_stream(gw, f"/api/kernels/{kernel}/execute",
                      {"code": "print('x', flush=True)\nimport time\ntime.sleep(60)",
                       "interrupt_on_disconnect": True})
    execution = res.getheader("X-Cellbox-Execution-Id")
    next(ndjson_events(res))
    drop(res)
    # The whole answer once the interrupted cell has ended.
    body = gw.request("GET", f"/api/kernels/{kernel}/executions/{execution}")[1]
    assert body["status"] == "aborted"


def test_delete_interrupts_a_json_request(gw, kernel):
    res = open_stream(gw, f"/api/kernels/{kernel}/execute",
                      {"code": "import time\ntime.sleep(60)"}, accept="application/json")
    execution = res.getheader("X-Cellbox-Execution-Id")
    assert gw.request("DELETE", f"/api/kernels/{kernel}/executions/{execution}")[0] == 204
    body = json.loads(res.read())
    assert body["status"] == "aborted"
    assert body["error"]["ename"] == "KeyboardInterrupt"
    assert gw.request("DELETE", f"/api/kernels/{kernel}/executions/{'0' * 32}")[0] == 404


def test_text_budget_cuts_the_middle(gw, kernel):
    code = "print('HEAD' + 'x' * 20000 + 'TAIL')"
    body = execute(gw, kernel, {"code": code, "max_output_bytes": 1000})[1]
    assert body["truncated"] is True
    assert body["stdout"].startswith("HEAD") and body["stdout"].endswith("TAIL\n")
    assert "bytes of output cut here" in body["stdout"]
    assert len(body["stdout"]) < 1200
    cut = body["usage"]["cut_bytes"]
    assert f"[... {cut} bytes of output cut here ...]" in body["stdout"]
    assert len(body["stdout"]) - len(f"\n[... {cut} bytes of output cut here ...]\n") + cut == 20009
    # The same output without a budget is whole.
    whole = execute(gw, kernel, {"code": code})[1]
    assert whole["truncated"] is False and len(whole["stdout"]) == 20009


def test_image_budget_drops_images_that_do_not_fit(gw, kernel):
    code = ("from IPython.display import display\n"
            "display({'image/png': 'A' * 5000, 'text/plain': '<figure>'}, raw=True)\n"
            "display({'image/png': 'B' * 500, 'text/plain': '<small>'}, raw=True)")
    body = execute(gw, kernel, {"code": code, "max_image_bytes": 1000})[1]
    first, second = body["outputs"]
    assert "image/png" not in first["data"]
    assert "over max_image_bytes" in first["data"]["text/plain"]
    assert second["data"]["image/png"] == "B" * 500
    assert body["usage"]["cut_image_bytes"] == 5000
    assert body["truncated"] is True


@pytest.mark.parametrize("body, field", [
    ({}, "code"),
    ({"code": 1}, "code"),
    ({"code": "1", "timeout": "5"}, "timeout"),
    ({"code": "1", "timeout": -1}, "timeout"),
    ({"code": "1", "stdin": "a"}, "stdin"),
    ({"code": "1", "stdin": [1]}, "stdin"),
    ({"code": "1", "store_history": "no"}, "store_history"),
    ({"code": "1", "max_output_bytes": -5}, "max_output_bytes"),
    ({"code": "1", "max_image_bytes": 1.5}, "max_image_bytes"),
    ({"code": "1", "cod": "2"}, "cod"),
    ({"code": "1", "files": {}}, "files"),
    ([1, 2], "object"),
])
def test_bad_bodies_are_400_naming_the_field(gw, kernel, body, field):
    status, answer, _ = execute(gw, kernel, body)
    assert status == 400
    assert field in answer["message"]


def test_bad_accept_and_non_json_bodies(gw, kernel):
    status, answer, _ = gw.request("POST", f"/api/kernels/{kernel}/execute", b"{not json",
                                   headers={"Content-Type": "application/json"})
    assert status == 400 and "JSON" in answer["message"]
    status, _, _ = gw.request("POST", f"/api/kernels/{kernel}/execute", {"code": "1"},
                              headers={"Accept": "image/png"})
    assert status == 406


def test_another_users_kernel_and_executions_are_not_found(gw):
    alice, bob = user_token("exec-alice"), user_token("exec-bob")
    kernel = gw.request("POST", "/api/kernels", {}, token=alice)[1]["id"]
    body = execute(gw, kernel, {"code": "secret = 1\n'alice'"}, token=alice)[1]
    assert body["status"] == "ok"
    status, answer, _ = execute(gw, kernel, {"code": "secret"}, token=bob)
    assert status == 404 and "Kernel does not exist" in answer["message"]
    path = f"/api/kernels/{kernel}/executions/{body['execution_id']}"
    assert gw.request("GET", path, token=bob)[0] == 404
    assert gw.request("DELETE", path, token=bob)[0] == 404
    assert gw.request("GET", path, token=alice)[1]["result"] == {"text/plain": "'alice'"}
    assert execute(gw, kernel, {"code": "1"}, token=None)[0] in (401, 403)
    gw.request("DELETE", f"/api/kernels/{kernel}", token=alice)


def test_an_unknown_execution_is_404(gw, kernel):
    status, answer, _ = gw.request("GET", f"/api/kernels/{kernel}/executions/{'a' * 32}")
    assert status == 404 and "Execution does not exist" in answer["message"]


def test_executions_of_a_deleted_kernel_end_as_died(gw):
    kernel = gw.request("POST", "/api/kernels", {})[1]["id"]
    res = open_stream(gw, f"/api/kernels/{kernel}/execute",
                      {"code": "print('x', flush=True)\nimport time\ntime.sleep(60)"})
    events = ndjson_events(res)
    next(events)
    threading.Thread(target=gw.request, args=("DELETE", f"/api/kernels/{kernel}")).start()
    done = list(events)[-1]
    assert done["type"] == "done" and done["status"] == "died"


def kernel_ids(gw, token=TOKEN):
    return {k["id"] for k in gw.request("GET", "/api/kernels", token=token)[1]}


def no_kernels_left(gw, token):
    """Whether the user's kernels are all gone, waiting for shutdowns under way (the answer goes
    out first, the kernel is deleted right after)."""
    for _ in range(200):
        if not kernel_ids(gw, token):
            return True
        time.sleep(0.05)
    return False


def test_one_shot_runs_in_a_kernel_of_its_own_and_deletes_it(gw):
    token = user_token("exec-oneshot")
    status, body, _ = gw.request("POST", "/api/execute", {"code": "leak = 1\nleak"}, token=token)
    assert status == 200 and body["status"] == "ok" and body["result"] == {"text/plain": "1"}
    body = gw.request("POST", "/api/execute", {"code": "leak"}, token=token)[1]
    assert body["status"] == "error" and body["error"]["ename"] == "NameError"
    assert no_kernels_left(gw, token)


def test_one_shot_writes_files_into_work(gw):
    token = user_token("exec-files")
    body = gw.request("POST", "/api/execute", {
        "code": "import os\nprint(open('data/in.txt').read())\nos.getcwd()",
        "files": {"data/in.txt": "from the request"}}, token=token)[1]
    assert body["status"] == "ok", body
    assert body["stdout"] == "from the request\n"
    assert body["result"] == {"text/plain": "'/work'"}


def test_one_shot_streams_and_deletes_the_kernel_when_the_client_leaves(gw):
    token = user_token("exec-leaver")
    res = open_stream(gw, "/api/execute",
                      {"code": "print('x', flush=True)\nimport time\ntime.sleep(60)"}, token=token)
    assert next(ndjson_events(res))["text"] == "x\n"
    assert len(kernel_ids(gw, token)) == 1
    drop(res)
    assert no_kernels_left(gw, token)


@pytest.mark.parametrize("body, field", [
    ({"code": "1", "files": {"../out": "x"}}, "files"),
    ({"code": "1", "files": {"/etc/passwd": "x"}}, "files"),
    ({"code": "1", "files": {"a": 1}}, "files"),
    ({"code": "1", "kernel": 3}, "kernel"),
    ({"code": "1", "interrupt_on_disconnect": True}, "interrupt_on_disconnect"),
])
def test_one_shot_bad_bodies(gw, body, field):
    status, answer, _ = gw.request("POST", "/api/execute", body)
    assert status == 400 and field in answer["message"]


def test_one_shot_unknown_kernelspec_is_404(gw):
    status, answer, _ = gw.request("POST", "/api/execute", {"code": "1", "kernel": "nope"})
    assert status == 404 and "nope" in answer["message"]


def test_timeout_never_exceeds_the_server_cap():
    capped = Gateway("--cell-timeout-cap", "1")
    try:
        kernel = capped.request("POST", "/api/kernels", {})[1]["id"]
        body = execute(capped, kernel, {"code": "import time\ntime.sleep(60)", "timeout": 30})[1]
        assert body["status"] == "timeout"
        assert "limit of 1 s" in body["error"]["evalue"]
    finally:
        capped.stop()
