"""Resolve a host name (data exfiltration over DNS). expect: ok"""
import socket
def resolve():
    socket.getaddrinfo("example.com", 80)
try:
    resolve()
    report(False, "resolve example.com", "succeeded")
except (OSError, socket.gaierror) as e:
    report(True, "resolve example.com", type(e).__name__)
