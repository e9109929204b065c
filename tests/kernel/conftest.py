"""Fixtures that start real cellbox-kernel processes through jupyter_client.

The kernelspec is found through JUPYTER_PATH (set by CTest to build/share/jupyter).
"""

import os
import queue
import time

import pytest
from jupyter_client.manager import KernelManager

KERNEL_NAME = "cellbox-python"


class Kernel:
    """A running kernel and a blocking client, with helpers that collect a cell's messages."""

    def __init__(self, extra_arguments=(), env=None, **manager_options):
        self.manager = KernelManager(kernel_name=KERNEL_NAME, **manager_options)
        options = {"env": env} if env is not None else {}
        self.manager.start_kernel(extra_arguments=list(extra_arguments), **options)
        # The manager's own client: waiting for readiness then asks the manager whether the
        # process lives. A separate client judges by heartbeats instead, and declares a kernel
        # "died" when its start takes over a second (a loaded machine: 1.2-1.4 s).
        self.client = self.manager.client()
        self.client.start_channels()
        self.client.wait_for_ready(timeout=30)

    def send_execute(self, code, metadata=None, **content_fields):
        content = {
            "code": code,
            "silent": False,
            "store_history": True,
            "user_expressions": {},
            "allow_stdin": content_fields.pop("allow_stdin", False),
            "stop_on_error": content_fields.pop("stop_on_error", True),
        }
        content.update(content_fields)
        msg = self.client.session.msg("execute_request", content, metadata=metadata or {})
        self.client.shell_channel.send(msg)
        return msg["header"]["msg_id"]

    def collect(self, msg_id, timeout=30, stdin_handler=None):
        """Iopub messages of a request until idle, and its reply, with arrival times."""
        outputs = []
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"no idle status for {msg_id} within {timeout} s")
            if stdin_handler is not None:
                try:
                    request = self.client.get_stdin_msg(timeout=0.01)
                    self.client.input(stdin_handler(request))
                except queue.Empty:
                    pass
            try:
                msg = self.client.get_iopub_msg(timeout=min(remaining, 0.05))
            except queue.Empty:
                continue
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            msg["received"] = time.monotonic()
            if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                break
            outputs.append(msg)
        reply = self.reply(msg_id, timeout=max(deadline - time.monotonic(), 1))
        return reply, outputs

    def reply(self, msg_id, timeout=30):
        deadline = time.monotonic() + timeout
        while True:
            msg = self.client.get_shell_msg(timeout=max(deadline - time.monotonic(), 0.01))
            if msg["parent_header"].get("msg_id") == msg_id:
                return msg

    def execute(self, code, timeout=30, **kwargs):
        stdin_handler = kwargs.pop("stdin_handler", None)
        msg_id = self.send_execute(code, **kwargs)
        return self.collect(msg_id, timeout=timeout, stdin_handler=stdin_handler)

    def shutdown(self):
        self.client.stop_channels()
        if self.manager.is_alive():
            self.manager.shutdown_kernel(now=True)


def stdout_of(outputs, name="stdout"):
    return "".join(m["content"]["text"] for m in outputs
                   if m["msg_type"] == "stream" and m["content"]["name"] == name)


def of_type(outputs, msg_type):
    return [m for m in outputs if m["msg_type"] == msg_type]


@pytest.fixture(scope="module")
def kernel():
    k = Kernel()
    yield k
    k.shutdown()


@pytest.fixture
def fresh_kernel():
    k = Kernel()
    yield k
    k.shutdown()


@pytest.fixture
def make_kernel():
    started = []

    def start(*extra_arguments, **options):
        k = Kernel(extra_arguments, **options)
        started.append(k)
        return k

    yield start
    for k in started:
        k.shutdown()
