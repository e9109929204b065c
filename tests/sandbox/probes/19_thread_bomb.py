"""Start a thousand threads. expect: ok pids_limit_hit"""
import threading, time
started = 0
try:
    for _ in range(1000):
        threading.Thread(target=time.sleep, args=(30,), daemon=True).start()
        started += 1
    report(False, "1000 threads", "all started")
except RuntimeError as e:
    report(True, "1000 threads", f"stopped after {started}: {e}")
os._exit(0)
