#!/usr/bin/python3
"""Hibernate and resume latency and image size for sessions holding ~1, 100 and 1000 MiB of
numpy state (issue 16), against E2B's published pause (~4 s/GiB) and resume (~1 s).

- hibernate: POST /api/kernels/{id}/hibernate to its answer (the kernel pickles its namespace
  into its exchange directory, the gateway moves the image into the state directory, fsync,
  and stops the process);
- resume: the first cell after it (`1`) to its answer: a pooled session taken, the image
  copied in and restored, the cell run; and the gateway's own restore time
  (cellbox_restore_seconds, request to restored);
- image: bytes on disk (random float64: zlib does not pay, so stored raw).

    /usr/bin/python3 tests/bench/hibernate_bench.py --build-dir build --sizes 1,100,1000
"""

import argparse
import json
import os
import re
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "gateway"))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--build-dir", default="build")
    parser.add_argument("--sizes", default="1,100,1000", help="MiB of numpy state, comma-separated")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    os.environ["CELLBOX_BUILD_DIR"] = args.build_dir
    from conftest import Gateway  # noqa: E402 - after CELLBOX_BUILD_DIR

    gw = Gateway("--memory", "4G", "--hibernate-max", "0", "--cell-timeout", "300")
    try:
        print("| numpy state | hibernate p50 | image | resume: first cell p50 | gateway restore p50 |")
        print("|---|---|---|---|---|")
        for mib in [int(s) for s in args.sizes.split(",")]:
            hib, first, restore, size = [], [], [], 0
            for _ in range(args.runs):
                status, body, _ = gw.request("POST", "/api/kernels", {})
                kid = body["id"]
                code = (f"import numpy as np\n"
                        f"a = np.random.default_rng(0).random({mib} * 131072)\n")
                assert gw.request("POST", f"/api/kernels/{kid}/execute", {"code": code})[0] == 200
                start = time.perf_counter()
                status, body, _ = gw.request("POST", f"/api/kernels/{kid}/hibernate")
                hib.append(time.perf_counter() - start)
                assert status == 200, body
                size = body["manifest"]["image_bytes"]
                time.sleep(0.5)  # its process gone, the pool refilled
                before = restore_sum(gw)
                start = time.perf_counter()
                status, body, _ = gw.request("POST", f"/api/kernels/{kid}/execute",
                                             {"code": "float(a[:3].sum())"})
                first.append(time.perf_counter() - start)
                assert status == 200 and body["status"] == "ok", body
                restore.append(restore_sum(gw) - before)
                gw.request("DELETE", f"/api/kernels/{kid}")
            p50 = lambda xs: sorted(xs)[len(xs) // 2] * 1000  # noqa: E731
            print(f"| {mib} MiB | {p50(hib):.0f} ms | {size / 2**20:.1f} MiB | "
                  f"{p50(first):.0f} ms | {p50(restore):.0f} ms |")
    finally:
        gw.stop()


def restore_sum(gw):
    text = gw.request_text("/metrics")
    match = re.search(r"^cellbox_restore_seconds_sum (\S+)$", text, re.M)
    return float(match.group(1)) if match else 0.0


if __name__ == "__main__":
    main()
