# Fake I2C bus for the unix port and CPython: the machine.I2C memory API
# (readfrom_mem_into, readfrom_mem, writeto_mem, scan) over register-level
# chip emulations (sim/chips.py), with the failures a real bus shows:
#
#   bus = FakeI2C()
#   chip = chips.MPU6050Chip()          # at 0x68
#   bus.attach(chip)
#   bus.unplug(0x68)                    # reads/writes raise OSError(19)
#   bus.replug(0x68, power_cycle=True)  # back, with power-on defaults
#   bus.fail_next(2, errno=5)           # the next 2 transactions: OSError(5)
#   bus.stall_us = 300                  # each transaction takes 300 us of
#                                       # chip time (clock stretching)
#
# A device that does not acknowledge its address raises OSError(ENODEV=19),
# as MicroPython's machine.I2C does on ESP32/RP2 (some ports raise EIO=5 or
# ETIMEDOUT=110; the drivers treat every OSError alike). The read path
# allocates nothing so drivers can be tested under micropython.heap_lock().

_EIO = 5
_ENODEV = 19


class FakeI2C:
    def __init__(self, freq=400000):
        self.freq = freq
        self._devs = {}  # addr -> chip
        self._gone = {}  # addr -> chip while unplugged
        self.stall_us = 0
        self._fail_n = 0
        self._fail_errno = _EIO
        self._fail_after = -1
        self.transactions = 0
        self.log = None  # set to a list to record writes as (addr, reg, value)

    # -- wiring ------------------------------------------------------------
    def attach(self, chip, addr=None):
        a = chip.addr if addr is None else addr
        chip.addr = a
        self._devs[a] = chip
        return chip

    def unplug(self, addr):
        """The device stops answering (cable pulled, sensor browned out)."""
        self._gone[addr] = self._devs.pop(addr)

    def replug(self, addr, power_cycle=True):
        """The device answers again; power_cycle=True restores its
        power-on register values (what a real unplug does)."""
        chip = self._gone.pop(addr)
        if power_cycle:
            chip.reset()
        self._devs[addr] = chip

    def fail_next(self, n=1, errno=_EIO):
        """The next n transactions raise OSError(errno)."""
        self._fail_n = n
        self._fail_errno = errno

    def fail_after(self, k, n=1, errno=_EIO):
        """After k more good transactions, n transactions fail."""
        self._fail_after = k
        self._fail_n = n
        self._fail_errno = errno

    def scan(self):
        return sorted(self._devs)

    # -- transactions ------------------------------------------------------
    def _dev(self, addr):
        self.transactions += 1
        if self._fail_n:
            if self._fail_after > 0:
                self._fail_after -= 1
            else:
                self._fail_after = -1
                self._fail_n -= 1
                raise OSError(self._fail_errno)
        dev = self._devs.get(addr)
        if dev is None:
            raise OSError(_ENODEV)
        if self.stall_us:
            for d in self._devs.values():
                d.advance_to(d.now_us + self.stall_us)
        return dev

    def readfrom_mem_into(self, addr, memaddr, buf, addrsize=8):
        self._dev(addr).read_into(memaddr, buf)

    def readfrom_mem(self, addr, memaddr, nbytes, addrsize=8):
        buf = bytearray(nbytes)
        self._dev(addr).read_into(memaddr, buf)
        return bytes(buf)

    def writeto_mem(self, addr, memaddr, buf, addrsize=8):
        dev = self._dev(addr)
        if self.log is not None:
            for i in range(len(buf)):
                self.log.append((addr, memaddr + i, buf[i]))
        dev.write(memaddr, buf)
