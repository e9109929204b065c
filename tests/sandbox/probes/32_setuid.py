"""Become root: setuid(0), and through a setuid-root binary. expect: ok"""
import subprocess, time
expect_oserror("setuid(0)", lambda: os.setuid(0), errno.EPERM)
su = subprocess.Popen(["/usr/bin/su", "root"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                      stderr=subprocess.PIPE)
time.sleep(0.5)
try:
    uids = [line for line in open(f"/proc/{su.pid}/status") if line.startswith("Uid:")][0]
    report(uids.split()[2] != "0", "su's effective uid", uids.strip())
except OSError:
    report(su.poll() not in (None, 0), "su", f"exited {su.poll()} without privilege")
su.kill()
report("NoNewPrivs:\t1" in open("/proc/self/status").read(), "no_new_privs", "set")
