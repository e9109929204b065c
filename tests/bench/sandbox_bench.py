#!/usr/bin/python3
"""Launch overhead of cellbox-sandbox against a bare launch and Debian's bubblewrap.

Launch-to-exit of /bin/true and of `python3 -c pass`, median of N runs each, in one run.
bubblewrap gets a comparable setup: all namespaces, read-only /usr (and the merged-/usr
links), new /proc, minimal /dev, tmpfs /tmp, a new session, no capabilities. It has no
cgroups and no seccomp filter here, so cellbox does more work per launch.
Not a test: nothing passes or fails.

    /usr/bin/python3 tests/bench/sandbox_bench.py --build-dir build --runs 50
"""

import argparse
import os
import statistics
import subprocess
import time


def median_launch(command, runs):
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def bubblewrap(program):
    links = []
    for name in ["bin", "sbin", "lib", "lib64"]:
        target = os.readlink(f"/{name}") if os.path.islink(f"/{name}") else None
        links += ["--symlink", target, f"/{name}"] if target else ["--ro-bind", f"/{name}", f"/{name}"]
    return ["bwrap", "--unshare-all", "--die-with-parent", "--new-session", "--cap-drop", "ALL",
            "--ro-bind", "/usr", "/usr", *links, "--proc", "/proc", "--dev", "/dev",
            "--tmpfs", "/tmp", "--chdir", "/tmp", "--", *program]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build-dir", default="build")
    parser.add_argument("--runs", type=int, default=50)
    args = parser.parse_args()
    sandbox = os.path.join(args.build_dir, "bin", "cellbox-sandbox")
    programs = {"/bin/true": ["/bin/true"], "python3 -c pass": ["/usr/bin/python3", "-c", "pass"]}
    print("| program | bare | cellbox-sandbox | bubblewrap | cellbox adds | bwrap adds | bwrap / cellbox overhead |")
    print("|---|---|---|---|---|---|---|")
    for label, program in programs.items():
        bare = median_launch(program, args.runs)
        ours = median_launch([sandbox, "--", *program], args.runs)
        theirs = median_launch(bubblewrap(program), args.runs)
        print(f"| {label} | {bare * 1000:.1f} ms | {ours * 1000:.1f} ms | {theirs * 1000:.1f} ms | "
              f"{(ours - bare) * 1000:.1f} ms | {(theirs - bare) * 1000:.1f} ms | "
              f"{(theirs - bare) / (ours - bare):.2f}x |", flush=True)


if __name__ == "__main__":
    main()
