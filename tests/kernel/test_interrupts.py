"""Interrupting cells with SIGINT (interrupt_mode: signal) and with interrupt_request."""

import time

import pytest

from conftest import stdout_of

BLOCKING_CELLS = {
    "sleep": "import time\ntime.sleep(100)",
    "busy loop": "while True:\n    pass",
    "input": "input('waiting> ')",
}


def wait_until_running(kernel, msg_id, marker="running"):
    """Waits for the cell's marker line on stdout so that the interrupt hits the cell body."""
    deadline = time.monotonic() + 20
    seen = ""
    while marker not in seen:
        assert time.monotonic() < deadline, "the cell never started"
        msg = kernel.client.get_iopub_msg(timeout=20)
        if msg["parent_header"].get("msg_id") == msg_id and msg["msg_type"] == "stream":
            seen += msg["content"]["text"]


@pytest.mark.parametrize("kind", list(BLOCKING_CELLS))
def test_sigint_interrupts_the_cell_and_keeps_state(kernel, kind):
    kernel.execute(f"survivor = '{kind}'")
    msg_id = kernel.send_execute("print('running', flush=True)\n" + BLOCKING_CELLS[kind],
                                 allow_stdin=True)
    wait_until_running(kernel, msg_id)
    time.sleep(0.2)
    sent = time.monotonic()
    kernel.manager.interrupt_kernel()
    reply, outputs = kernel.collect(msg_id, timeout=10)
    assert reply["content"]["status"] == "error"
    assert reply["content"]["ename"] == "KeyboardInterrupt"
    assert time.monotonic() - sent < 5
    reply, outputs = kernel.execute("print(survivor)")
    assert reply["content"]["status"] == "ok"
    assert stdout_of(outputs) == f"{kind}\n"


def test_repeated_interrupts(kernel):
    for _ in range(3):
        msg_id = kernel.send_execute("print('running', flush=True)\nwhile True: pass")
        wait_until_running(kernel, msg_id)
        kernel.manager.interrupt_kernel()
        reply, _ = kernel.collect(msg_id, timeout=10)
        assert reply["content"]["ename"] == "KeyboardInterrupt"


def test_sigint_while_idle_is_harmless(kernel):
    kernel.execute("kept = 'yes'")
    for _ in range(3):
        kernel.manager.interrupt_kernel()
        time.sleep(0.1)
    assert kernel.manager.is_alive()
    reply, outputs = kernel.execute("import time\ntime.sleep(0.3)\nprint(kept)")
    assert reply["content"]["status"] == "ok", "an idle interrupt leaked into the next cell"
    assert stdout_of(outputs) == "yes\n"


def test_interrupt_request_message_also_interrupts(kernel):
    msg_id = kernel.send_execute("print('running', flush=True)\nimport time\ntime.sleep(100)")
    wait_until_running(kernel, msg_id)
    msg = kernel.client.session.msg("interrupt_request", {})
    kernel.client.control_channel.send(msg)
    reply, _ = kernel.collect(msg_id, timeout=10)
    assert reply["content"]["ename"] == "KeyboardInterrupt"
    control_reply = kernel.client.get_control_msg(timeout=10)
    assert control_reply["msg_type"] == "interrupt_reply"
    assert control_reply["content"]["status"] == "ok"
