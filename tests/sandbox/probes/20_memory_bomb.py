"""Allocate and touch far more than the memory limit. expect: oom limits: --memory 128M"""
blocks = []
while True:
    blocks.append(bytearray(64 * 2**20))  # bytearray zero-fills: the pages are touched
