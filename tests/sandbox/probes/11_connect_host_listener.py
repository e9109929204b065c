"""Connect to a TCP listener the host runs on 127.0.0.1 (port in argv[1]). expect: ok"""
import socket
def connect():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(2)
    s.connect(("127.0.0.1", int(sys.argv[1])))
expect_oserror("connect to the host's 127.0.0.1 listener", connect)
