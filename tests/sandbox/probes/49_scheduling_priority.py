"""Get ahead of the host's processes on the CPU: real-time or deadline scheduling, a negative
nice value, for itself or for the sandbox's init. It runs as SCHED_BATCH (the default policy)
and may only go back to normal. expect: ok"""
import struct
report(os.sched_getscheduler(0) == os.SCHED_BATCH, "started as SCHED_BATCH",
       f"policy {os.sched_getscheduler(0)}")
for name in ("SCHED_FIFO", "SCHED_RR"):
    policy = getattr(os, name)
    expect_oserror(name, lambda: os.sched_setscheduler(0, policy, os.sched_param(1)),
                   errno.EPERM)
expect_oserror("nice -1", lambda: os.nice(-1), errno.EPERM)
expect_oserror("setpriority -20", lambda: os.setpriority(os.PRIO_PROCESS, 0, -20),
               errno.EPERM, errno.EACCES)
expect_oserror("the init's nice", lambda: os.setpriority(os.PRIO_PROCESS, 1, 19),
               errno.EPERM, errno.EACCES)
# sched_setattr (314) with SCHED_DEADLINE (6): 10 ms of every 20 ms.
attr = struct.pack("=IIQiIQQQ", 48, 6, 0, 0, 0, 10_000_000, 20_000_000, 20_000_000)
buffer = ctypes.create_string_buffer(attr, len(attr))
expect_syscall_fails("SCHED_DEADLINE", 314, 0, ctypes.addressof(buffer), 0,
                     errnos=(errno.EPERM, errno.EBUSY))
os.sched_setscheduler(0, os.SCHED_OTHER, os.sched_param(0))
report(os.sched_getscheduler(0) == os.SCHED_OTHER, "normal scheduling regained, no more",
       "SCHED_OTHER")
