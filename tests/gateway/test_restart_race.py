"""A restart stays a restart while the kernel is busy reporting statuses: the statuses the old
process sent just before it was stopped reach the gateway after the restart began, and once
they decided whether its exit meant "restart" or "delete" (issue 13: a status arriving after
restart() turned the restart into a deletion)."""

import asyncio
import threading

from test_restart_answers import ANSWER_WITHIN, execute_message, next_cell_is_answered, scenario

RESTARTS = 5  # each one races the flood of statuses; before the fix one of them lost the kernel
FLOOD = 400  # tiny cells sent at once: each one is a busy and an idle status


def test_a_restart_while_statuses_flow_keeps_the_kernel(gateway):
    async def steps(ws, session, kernel_id):
        for attempt in range(RESTARTS):
            for _ in range(FLOOD):
                await ws.send(execute_message("pass", session)[1])
            # Let the kernel work through them: its statuses stream to the gateway.
            drained = 0
            while drained < FLOOD // 4:
                await asyncio.wait_for(ws.recv(), ANSWER_WITHIN)
                drained += 1
            done = threading.Event()
            results = []

            def restart():
                results.append(gateway.request("POST", f"/api/kernels/{kernel_id}/restart"))
                done.set()

            threading.Thread(target=restart, daemon=True).start()
            while not done.is_set():  # keep reading: the gateway must not block on us
                try:
                    await asyncio.wait_for(ws.recv(), 0.05)
                except asyncio.TimeoutError:
                    pass
            code, body, _ = results[0]
            assert code == 200, (attempt, code, body)
            code, body, _ = gateway.request("GET", f"/api/kernels/{kernel_id}")
            assert code == 200, (attempt, code, body)
            await next_cell_is_answered(ws, session, racing_restart=True)

    scenario(("zygote", "cellbox-python", gateway), steps)
