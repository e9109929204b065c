"""Fork until the machine falls over. expect: ok pids_limit_hit"""
import time
children = 0
try:
    while True:
        if os.fork() == 0:
            time.sleep(30)
            os._exit(0)
        children += 1
except OSError as e:
    report(e.errno == errno.EAGAIN, "fork bomb", f"stopped after {children} forks: {e}")
