"""Spin on the CPU forever. expect: timeout_cpu limits: --cpu-time 1"""
while True:
    pass
