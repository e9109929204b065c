"""Find a network interface other than loopback. expect: ok"""
interfaces = os.listdir("/proc/self/net/dev_snmp6") if os.path.exists("/proc/self/net/dev_snmp6") else []
lines = open("/proc/self/net/dev").read().splitlines()[2:]
names = [line.split(":")[0].strip() for line in lines]
report(names == ["lo"], "network interfaces", f"{names}")
