"""Signal host processes: every process we may, and a host pid given in argv[1]. expect: ok"""
import signal
expect_oserror("kill the host pid", lambda: os.kill(int(sys.argv[1]), signal.SIGKILL), errno.ESRCH)
pids = sorted(int(p) for p in os.listdir("/proc") if p.isdigit())
report(max(pids) < 100, "see host processes", f"visible pids {pids}")
try:
    os.kill(-1, signal.SIGTERM)  # everything we may signal: only our own namespace
except OSError:
    pass
report(True, "kill(-1) stays inside", "the host sentinel is checked by the suite")
