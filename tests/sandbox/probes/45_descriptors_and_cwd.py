"""Look for descriptors leaked from the launcher, and a working directory outside the root. expect: ok"""
fds = sorted(int(fd) for fd in os.listdir("/proc/self/fd"))
report(fds[:3] == [0, 1, 2] and len(fds) <= 4, "inherited descriptors", f"{fds}")
report(os.getcwd() == "/work", "working directory", os.getcwd())
report(open("/proc/self/mountinfo").read().count(" / / ") == 1, "one root", "pivoted")
