"""load.py's sessions as its asyncio client runs them: one kernel's WebSocket, and one cell
run on it with every message checked to belong to that session (nothing lost or crossed)."""

import asyncio
import json
import secrets
import time
import uuid

from bench_util import decode_v1, encode_v1, execute_message

CELL_TIMEOUT = 30
OWNER = {}  # msg_id -> index of the session that sent it (to tell crossed from foreign)
PROTOCOL = "v1"  # --protocol (load.py sets it)


class Session:
    def __init__(self, index):
        self.index = index
        self.token = secrets.token_hex(8)
        self.client_session = uuid.uuid4().hex
        self.kernel_id = None
        self.ws = None
        self.sent = set()        # msg_ids this session sent
        self.crossed = 0         # messages answering another session's request
        self.foreign = 0         # messages answering no request of this client (the
                                 # gateway's own kernel_info at start, for instance)
        self.stale = 0           # messages answering an earlier request of this session

    def expected(self):
        return f"{self.token * 3} {self.index * self.index}\n"


CHECK_CELL = "print(SESSION_TOKEN * 3, SESSION_N * SESSION_N)"  # output: Session.expected()


async def run_check_cell(s):
    """The run phases' cell; a broken connection is one more problem, not an exception."""
    try:
        return await run_cell(s, CHECK_CELL)
    except Exception as e:
        return "", [f"connection: {e!r}"]


async def run_cell(s, code):
    """Runs one cell; returns (stdout, problems). Every message on the WebSocket is checked
    to belong to this session."""
    msg = execute_message(code, s.client_session, username="load")
    msg_id = msg["header"]["msg_id"]
    s.sent.add(msg_id)
    OWNER[msg_id] = s.index
    if PROTOCOL == "v1":
        del msg["channel"]
        await s.ws.send(encode_v1("shell", msg))
    else:
        await s.ws.send(json.dumps(msg))
    stdout, problems = [], []
    got_reply = got_idle = False
    deadline = time.monotonic() + CELL_TIMEOUT
    while not (got_reply and got_idle):
        left = deadline - time.monotonic()
        if left <= 0:
            problems.append(f"timeout (reply {got_reply}, idle {got_idle})")
            break
        try:
            frame = await asyncio.wait_for(s.ws.recv(), left)
            if PROTOCOL == "v1":
                m = decode_v1(frame)
                m["msg_type"] = m["header"]["msg_type"]
            else:
                m = json.loads(frame)
        except asyncio.TimeoutError:
            problems.append(f"timeout (reply {got_reply}, idle {got_idle})")
            break
        parent = m.get("parent_header", {}).get("msg_id")
        if parent != msg_id:
            if parent in s.sent:
                s.stale += 1
            elif parent in OWNER:
                s.crossed += 1
                problems.append(f"crossed: {m['msg_type']} of session {OWNER[parent]}")
            else:
                s.foreign += 1
            continue
        kind = m["msg_type"]
        if kind == "stream":
            if m["content"]["name"] == "stdout":
                stdout.append(m["content"]["text"])
            else:
                problems.append(f"stderr: {m['content']['text'][:200]!r}")
        elif kind == "error":
            problems.append(f"error: {m['content'].get('ename')}: "
                            f"{m['content'].get('evalue')}")
        elif m["channel"] == "shell":
            got_reply = True
            if m["content"].get("status") != "ok":
                problems.append(f"reply status {m['content'].get('status')}")
        elif kind == "status" and m["content"]["execution_state"] == "idle":
            got_idle = True
    return "".join(stdout), problems
