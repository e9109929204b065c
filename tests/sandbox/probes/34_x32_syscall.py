"""Make an x32-ABI system call (getpid | 0x40000000) from machine code. expect: seccomp
host: foreign-abi (where the host faults the call itself, the verdict is its signal)"""
import mmap
code = bytes([0xB8, 0x27, 0x00, 0x00, 0x40, 0x0F, 0x05, 0xC3])  # mov eax, 0x40000027; syscall; ret
page = mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
page.write(code)
function = ctypes.CFUNCTYPE(ctypes.c_long)(ctypes.addressof(ctypes.c_char.from_buffer(page)))
print("ESCAPED x32 getpid returned", function(), flush=True)
