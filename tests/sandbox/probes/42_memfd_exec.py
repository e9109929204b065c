"""Run a program from memory (memfd + fexecve) to get around read-only and noexec mounts. expect: ok"""
import subprocess
fd = os.memfd_create("payload", 0)
os.write(fd, open("/usr/bin/cat", "rb").read())
path = f"/proc/self/fd/{fd}"
result = subprocess.run([path, "/etc/shadow"], capture_output=True, pass_fds=(fd,))
report(result.returncode != 0, "cat /etc/shadow from a memfd", result.stderr.decode().strip())
result = subprocess.run([path, "/proc/self/status"], capture_output=True, pass_fds=(fd,))
report(b"CapEff:\t0000000000000000" in result.stdout, "the memfd program's capabilities", "none")
