"""Every request a client sends is answered, also while its kernel is being replaced: after a
hard timeout, a death, an OOM kill or a user's restart, a cell sent at once (before the new
process is there) waits for the new kernel and runs there, for each way kernels are launched
(zygote pool, plain launch, prespawned ipykernel)."""

import asyncio
import json
import threading
import uuid

import pytest
import websockets

from conftest import TOKEN, Gateway, reply_and_outputs
from test_kernel_death import CHILD_EATS_MEMORY
from test_launch_pool import wait_for_ready

ANSWER_WITHIN = 20  # seconds: a new kernel starts in well under one; a lost request never answers

BLOCK_SIGNALS_AND_SLEEP = ("import signal, time\n"
                           "signal.pthread_sigmask(signal.SIG_BLOCK, range(1, 65))\n"
                           "time.sleep(1000)")
MODES = {
    # kernelspec, extra arguments of `cellbox serve`
    "zygote": ("cellbox-python", ["--pool-size", "1"]),
    "plain": ("cellbox-python", ["--pool-size", "0"]),
    "launch-pool": ("python3", ["--pool-size", "0", "--launch-pool-size", "1"]),
}


@pytest.fixture(scope="module", params=list(MODES))
def mode(request, tmp_path_factory):
    kernelspec, extra = MODES[request.param]
    g = Gateway(*extra, "--memory", "256M", work_dir=str(tmp_path_factory.mktemp("work")))
    if request.param == "launch-pool":
        wait_for_ready(g)
    yield request.param, kernelspec, g
    g.stop()


def request_message(msg_type, content, session, metadata=None):
    msg_id = uuid.uuid4().hex
    return msg_id, json.dumps({
        "header": {"msg_id": msg_id, "msg_type": msg_type, "session": session, "username": "t",
                   "date": "2026-01-01T00:00:00.000000Z", "version": "5.3"},
        "parent_header": {}, "metadata": metadata or {}, "channel": "shell", "content": content})


def execute_message(code, session, metadata=None):
    return request_message("execute_request", {"code": code, "silent": False,
                                               "allow_stdin": False, "stop_on_error": False},
                           session, metadata)


async def answer_of(ws, msg_id, seconds=ANSWER_WITHIN):
    async def receive():
        return json.loads(await ws.recv())
    try:
        return await reply_and_outputs(receive, msg_id, timeout=seconds)
    except asyncio.TimeoutError:
        raise AssertionError(f"request {msg_id} got no answer within {seconds} s") from None


async def next_cell_is_answered(ws, session, racing_restart=False):
    """Sends a cell and a completion request at once and checks both are answered: the cell
    by the new kernel (a fresh namespace), the completion with a reply. `racing_restart`: sent
    while a restart may not have reached the gateway yet, so the old process may take them
    and be stopped before answering: then the gateway's KernelRestarted answer counts."""
    cell_id, cell = execute_message("b = 1\nprint('b' , b, 'a' in globals())", session)
    complete_id, complete = request_message("complete_request", {"code": "pri", "cursor_pos": 3},
                                            session)
    await ws.send(cell)
    await ws.send(complete)
    replies, outputs = {}, {}
    deadline = asyncio.get_event_loop().time() + ANSWER_WITHIN
    names = {cell_id: "the cell", complete_id: "the completion request"}
    while len(replies) < 2:
        left = deadline - asyncio.get_event_loop().time()
        try:
            m = json.loads(await asyncio.wait_for(ws.recv(), max(left, 0)))
        except asyncio.TimeoutError:
            missing = [names[i] for i in names if i not in replies]
            raise AssertionError(f"no reply within {ANSWER_WITHIN} s to {missing}") from None
        parent = m["parent_header"].get("msg_id")
        if m["channel"] == "shell" and parent in (cell_id, complete_id):
            replies[parent] = m
        elif m["msg_type"] == "stream" and parent == cell_id:
            outputs.setdefault(parent, []).append(m["content"]["text"])
    assert replies[complete_id]["msg_type"] == "complete_reply"
    if racing_restart and replies[cell_id]["content"].get("ename") == "KernelRestarted":
        return
    assert replies[cell_id]["content"]["status"] == "ok", replies[cell_id]
    if racing_restart:
        return  # the old or the new process ran it
    if replies[complete_id]["content"]["status"] == "ok":
        assert "print" in replies[complete_id]["content"]["matches"]
    # Its output may follow the reply: wait for the idle status of the cell.
    while "".join(outputs.get(cell_id, [])) != "b 1 False\n":
        m = json.loads(await asyncio.wait_for(ws.recv(), ANSWER_WITHIN))
        if m["msg_type"] == "stream" and m["parent_header"].get("msg_id") == cell_id:
            outputs.setdefault(cell_id, []).append(m["content"]["text"])


def scenario(mode, steps):
    """Starts a kernel of the mode's kernelspec, runs `steps(ws, session, kernel_id)` on one
    WebSocket to it, and deletes it."""
    _, kernelspec, gateway = mode
    status, model, _ = gateway.request("POST", "/api/kernels", {"name": kernelspec})
    assert status == 201, model
    kernel_id, session = model["id"], uuid.uuid4().hex

    async def run():
        url = (f"ws://127.0.0.1:{gateway.port}/api/kernels/{kernel_id}/channels"
               f"?session_id={session}&token={TOKEN}")
        async with websockets.connect(url, max_size=None) as ws:
            await steps(ws, session, kernel_id)

    asyncio.run(run())
    gateway.request("DELETE", f"/api/kernels/{kernel_id}")


# How a kernel is lost (its cell, the cell's metadata, the explanation the client gets). Each
# cell sets `a` first: the next cell proves it runs in a fresh kernel.
LOSSES = {
    "hard_timeout": ("a = 1\n" + BLOCK_SIGNALS_AND_SLEEP, {"cellbox": {"timeout": 2}},
                     "CellTimeoutError"),
    "death": ("a = 1\nimport os\nos._exit(3)", None, "KernelDied"),
    "oom_kill": ("a = 1\n" + CHILD_EATS_MEMORY, None, "MemoryLimitExceeded"),
}


@pytest.mark.parametrize("loss", list(LOSSES))
def test_the_next_cell_is_answered_after(mode, loss):
    code, metadata, ename = LOSSES[loss]

    async def steps(ws, session, kernel_id):
        msg_id, message = execute_message(code, session, metadata)
        await ws.send(message)
        reply, _ = await answer_of(ws, msg_id, seconds=60)
        assert reply["content"].get("ename") == ename, reply
        await next_cell_is_answered(ws, session)

    scenario(mode, steps)


def test_during_and_after_a_users_restart(mode):
    gateway = mode[2]

    async def steps(ws, session, kernel_id):
        msg_id, first = execute_message("a = 1", session)
        await ws.send(first)
        await answer_of(ws, msg_id)
        restarted = threading.Event()
        results = []

        def restart():
            results.append(gateway.request("POST", f"/api/kernels/{kernel_id}/restart")[0])
            restarted.set()

        threading.Thread(target=restart, daemon=True).start()
        await asyncio.sleep(0.05)  # the old process is being stopped
        await next_cell_is_answered(ws, session, racing_restart=True)
        await asyncio.get_event_loop().run_in_executor(None, restarted.wait, ANSWER_WITHIN)
        assert results == [200], results
        await next_cell_is_answered(ws, session)  # right after the restart's answer

    scenario(mode, steps)
