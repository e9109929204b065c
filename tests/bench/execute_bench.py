#!/usr/bin/python3
"""The execute API against the WebSocket, same gateway, same kernel, one run.

Measures, samples interleaved so that load from other processes hits them alike:
- the WebSocket round trip of `1+1` (one open connection, execute_request to the idle status);
- POST /api/kernels/{id}/execute of `1+1`, JSON answer (a new connection per call, as curl
  makes: a streamed answer closes its connection);
- the same with Accept: application/x-ndjson, to the "done" event;
- one-shot POST /api/execute of `1+1` end to end (a pooled kernel, the cell, the answer),
  beside POST /api/kernels alone (the pool hit) for reference.
Prints a Markdown table (median and p90, ms) and the ratio of the execute round trip to the
WebSocket one. Not a test.

    /usr/bin/python3 tests/bench/execute_bench.py --build-dir build
"""

import argparse
import asyncio
import http.client
import json
import pathlib
import time
import uuid

import websockets

from bench_util import _gateway_test_helpers, print_table, execute_message, percentile

support = _gateway_test_helpers()


def post(port, path, body, accept="application/json"):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.request("POST", path, body=json.dumps(body).encode(),
                 headers={"Authorization": f"token {support.TOKEN}", "Accept": accept,
                          "Content-Type": "application/json"})
    res = conn.getresponse()
    data = res.read()
    conn.close()
    return res.status, data


def timed(fn):
    started = time.perf_counter()
    fn()
    return (time.perf_counter() - started) * 1000


async def ws_round_trip(ws, session):
    msg = execute_message("1+1", session)
    started = time.perf_counter()
    await ws.send(json.dumps(msg))
    while True:
        m = json.loads(await ws.recv())
        if (m["parent_header"].get("msg_id") == msg["header"]["msg_id"]
                and m["msg_type"] == "status" and m["content"]["execution_state"] == "idle"):
            return (time.perf_counter() - started) * 1000


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build-dir", default="build")
    parser.add_argument("--round-trips", type=int, default=200)
    parser.add_argument("--one-shots", type=int, default=30)
    args = parser.parse_args()
    support.CELLBOX = pathlib.Path(args.build_dir).resolve() / "bin" / "cellbox"
    gw = support.Gateway("--max-kernels-per-user", "0")
    try:
        kernel = gw.request("POST", "/api/kernels", {})[1]["id"]
        path = f"/api/kernels/{kernel}/execute"
        samples = {"ws": [], "json": [], "ndjson": [], "one_shot": [], "start": []}

        def check(status, data):
            assert status == 200, data
            last = json.loads(data.strip().splitlines()[-1])
            assert last["status"] == "ok", last

        async def run():
            session = uuid.uuid4().hex
            url = (f"ws://127.0.0.1:{gw.port}/api/kernels/{kernel}/channels"
                   f"?session_id={session}&token={support.TOKEN}")
            async with websockets.connect(url, max_size=None) as ws:
                for _ in range(20):  # warm-up
                    await ws_round_trip(ws, session)
                    check(*post(gw.port, path, {"code": "1+1"}))
                for _ in range(args.round_trips):
                    samples["ws"].append(await ws_round_trip(ws, session))
                    samples["json"].append(timed(lambda: check(*post(gw.port, path,
                                                                     {"code": "1+1"}))))
                    samples["ndjson"].append(timed(lambda: check(*post(
                        gw.port, path, {"code": "1+1"}, "application/x-ndjson"))))

        asyncio.run(run())
        for _ in range(args.one_shots):
            samples["one_shot"].append(
                timed(lambda: check(*post(gw.port, "/api/execute", {"code": "1+1"}))))
            started = time.perf_counter()
            status, model, _ = gw.request("POST", "/api/kernels", {})
            samples["start"].append((time.perf_counter() - started) * 1000)
            assert status == 201, model
            gw.request("DELETE", f"/api/kernels/{model['id']}")
            time.sleep(0.3)  # the pool refills between samples, as for the one-shot
    finally:
        gw.stop()

    labels = {
        "ws": f"WebSocket round trip of `1+1` ({args.round_trips})",
        "json": f"POST .../execute `1+1`, JSON ({args.round_trips})",
        "ndjson": f"POST .../execute `1+1`, NDJSON to done ({args.round_trips})",
        "one_shot": f"one-shot POST /api/execute `1+1` ({args.one_shots})",
        "start": f"POST /api/kernels, pool hit ({args.one_shots})",
    }
    print_table(labels, samples)
    ratio = percentile(samples["json"], 0.5) / percentile(samples["ws"], 0.5)
    print(f"\nPOST execute / WebSocket round trip (medians): {ratio:.2f}x")


if __name__ == "__main__":
    main()
