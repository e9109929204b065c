"""Sleep forever, holding the session. expect: timeout_wall limits: --wall-time 1"""
import time
time.sleep(10**6)
