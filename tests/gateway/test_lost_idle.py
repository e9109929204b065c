"""A kernel's iopub drops messages at ZeroMQ's high-water mark when the gateway reads slower
than a cell writes; the cell's final idle status can be among them. The gateway is stopped
(SIGSTOP) while a cell makes 6000 displays, so that the kernel's queues fill and the tail of
its iopub is dropped for certain: the execution still ends (2 s after its reply, with a
warning) and the kernel is idle again, so that culling and hibernation are not held off."""
import os
import signal
import threading
import time

from conftest import Gateway


def test_an_execution_whose_idle_status_was_dropped_still_ends_and_the_kernel_is_idle():
    g = Gateway()
    try:
        status, body, _ = g.request("POST", "/api/kernels", {})
        assert status == 201, body
        kernel_id = body["id"]
        status, body, _ = g.request("POST", f"/api/kernels/{kernel_id}/execute",
                                    {"code": "1"})
        assert status == 200 and body["status"] == "ok", body

        answer = {}

        def execute():
            answer["reply"] = g.request(
                "POST", f"/api/kernels/{kernel_id}/execute",
                {"code": "import time\ntime.sleep(1)\nfrom IPython.display import display\n"
                         "for i in range(6000):\n    display(i)\nprint('end')"})

        thread = threading.Thread(target=execute)
        thread.start()
        time.sleep(0.5)  # the request is with the kernel, which sleeps
        os.kill(g.process.pid, signal.SIGSTOP)
        try:
            time.sleep(6)  # the displays: far more than the queues between the two hold
        finally:
            os.kill(g.process.pid, signal.SIGCONT)
        thread.join(60)
        assert not thread.is_alive(), "the execution never ended"
        status, body, _ = answer["reply"]
        assert status == 200 and body["status"] == "ok", body
        logs = g.logs()
        # Proof that the scenario happened: without a lost idle status the execution ends on
        # that status, and nothing is logged.
        assert "execution ended without its idle status" in logs, logs[-3000:]

        deadline = time.monotonic() + 10
        state = None
        while time.monotonic() < deadline:
            state = g.request("GET", f"/api/kernels/{kernel_id}")[1]["execution_state"]
            if state == "idle":
                break
            time.sleep(0.2)
        assert state == "idle"
        assert "idle status lost" in g.logs()
        # And the kernel still serves.
        status, body, _ = g.request("POST", f"/api/kernels/{kernel_id}/execute",
                                    {"code": "print(6 * 7)"})
        assert status == 200 and body["stdout"] == "42\n", body
    finally:
        g.stop()
