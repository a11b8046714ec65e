# The sim board's flash: littlefs (vfs.VfsLfs2, as MicroPython's rp2 port
# mounts it) over a block device with the board's geometry, kept in an image
# file, counting what the flash chip would do and what it would cost.
#
#   fl = SimFlash("DIR/flash.img", clock=clock)   # made and formatted if new
#   fl.mount("/flash")                              # then /flash/sessions, ...
#   fl.program_bytes, fl.erase_bytes, fl.erases, fl.stall_us
#
# Geometry: 4096-byte erase blocks, 256-byte program pages, the Pico's
# 1408 KB filesystem (352 blocks; --flash-kb sets another size); littlefs
# as rp2 configures it: VfsLfs2(bdev, progsize=256) (readsize 32, lookahead
# 32, block_cycles 100, cache = 4 x 256 bytes).
#
# Each program or erase is written through to the image file at once, so a
# sim killed with SIGKILL leaves what a power cut leaves on the chip (whole
# operations; littlefs is built for exactly that), and the next sim on the
# same folder mounts it, as a board reboots.
#
# Stalls: on an RP2040 or ESP32 the CPU stalls while the flash erases or
# programs (code runs from that flash; interrupts off on rp2). A W25Q16
# erases a 4 KB sector in 45 ms (400 ms at the datasheet maximum) and
# programs a 256-byte page in 0.4 ms (3 ms max). Each operation advances the
# sim's clock by that time (clock.advance(us)), so the loop stalls and the
# IMU FIFO fills exactly as on the board; erase_us = 400000 is the worst case.
#
# With HEELDROP_FLASH_DEBUG set, a loop pass that stalls over 450 ms prints
# the blocks it erased (runner.py calls new_pass() once a pass).
#
# Host side (heeldrop.simflash): `micropython -m sim.flash dump IMAGE` prints
# the files as lines "path<TAB>hex" (read-only), for tests and tools.
import sys

BLOCK = 4096
PAGE = 256
PICO_BLOCKS = 352  # rp2 Pico: 1408 KB filesystem


class SimFlash:
    def __init__(self, path, blocks=PICO_BLOCKS, clock=None, erase_us=45000, page_us=400, readonly=False):
        self.path = path
        self.blocks = blocks
        self.clock = clock
        self.erase_us = erase_us
        self.page_us = page_us
        self.program_bytes = 0
        self.erase_bytes = 0
        self.erases = 0
        self.pages = 0
        self.stall_us = 0
        self.max_stall_us = 0
        self.pass_stall_us = 0  # stalls since new_pass() (the sim calls it once a loop pass)
        self.pass_ops = []
        self.debug = False
        self.max_pass_stall_us = 0
        self.readonly = readonly
        # the runner's Guard (heeldrop sim --board-ram): the block device
        # runs with the heap locked, as it allocates nothing (the sim shares
        # the board's heap; a board's flash driver is C)
        self.guard = None
        self._ff = b"\xff" * BLOCK  # an erased block, made once
        fresh = False
        try:
            self.f = open(path, "rb" if readonly else "r+b")
        except OSError:
            if readonly:
                raise
            self.f = open(path, "w+b")
            ff = b"\xff" * BLOCK
            for _ in range(blocks):
                self.f.write(ff)
            fresh = True
        self.f.seek(0, 2)
        n = self.f.tell() // BLOCK
        if n != blocks and not fresh:
            self.blocks = n  # an image made with another size: it keeps its size
        self.fresh = fresh

    # -- the block device protocol (extended: offsets, explicit erase)

    def readblocks(self, block, buf, off=0):
        g = self.guard if not self.debug else None  # (debug lists the erases: allocates)
        if g is not None:
            g.lock()
        try:
            self.f.seek(block * BLOCK + off)
            self.f.readinto(buf)
        except MemoryError as e:
            if g is not None:
                g.allocs += 1
                g.where = e
            raise
        finally:
            if g is not None:
                g.unlock()

    def writeblocks(self, block, buf, off=None):
        g = self.guard if not self.debug else None  # (debug lists the erases: allocates)
        if g is not None:
            g.lock()
        try:
            self._write(block, buf, off)
        except MemoryError as e:
            if g is not None:
                g.allocs += 1
                g.where = e
            raise
        finally:
            if g is not None:
                g.unlock()

    def _write(self, block, buf, off):
        if self.readonly:
            raise OSError(30)  # EROFS
        if off is None:  # the simple protocol: erase, then program whole blocks
            for i in range(len(buf) // BLOCK):
                self._erase(block + i)
            off = 0
        self.f.seek(block * BLOCK + off)
        self.f.write(buf)
        n = len(buf)
        self.program_bytes += n
        pages = (off + n + PAGE - 1) // PAGE - off // PAGE
        self.pages += pages
        self._stall(pages * self.page_us)

    def ioctl(self, op, arg):
        if op == 4:  # block count
            return self.blocks
        if op == 5:  # block size
            return BLOCK
        if op == 6:  # erase block arg
            if self.readonly:
                raise OSError(30)
            g = self.guard if not self.debug else None
            if g is not None:
                g.lock()
            try:
                self._erase(arg)
            except MemoryError as e:
                if g is not None:
                    g.allocs += 1
                    g.where = e
                raise
            finally:
                if g is not None:
                    g.unlock()
            return 0
        return 0

    def _erase(self, block):
        self.f.seek(block * BLOCK)
        self.f.write(self._ff)
        self.erase_bytes += BLOCK
        self.erases += 1
        if self.debug:
            self.pass_ops.append(block)
        self._stall(self.erase_us)

    def new_pass(self):
        if self.pass_stall_us > 450000 and self.debug:
            sys.stderr.write("flash: pass stall %d ms, erases %s\n" % (self.pass_stall_us // 1000, self.pass_ops))
        if self.pass_ops:
            self.pass_ops = []  # (only with debug: a pass allocates nothing, the sim shares the board's heap)
        if self.pass_stall_us > self.max_pass_stall_us:
            self.max_pass_stall_us = self.pass_stall_us
        self.pass_stall_us = 0

    def _stall(self, us):
        self.stall_us += us
        self.pass_stall_us += us
        if us > self.max_stall_us:
            self.max_stall_us = us
        c = self.clock
        if c is not None and us:
            c.advance(us)

    # -- littlefs

    def mount(self, point="/flash"):
        import vfs

        if self.fresh:
            vfs.VfsLfs2.mkfs(self, progsize=PAGE)
            self.fresh = False
        try:
            fs = vfs.VfsLfs2(self, progsize=PAGE)
        except OSError:  # not a littlefs (a corrupt image): a new one, as rp2's _boot.py does
            vfs.VfsLfs2.mkfs(self, progsize=PAGE)
            fs = vfs.VfsLfs2(self, progsize=PAGE)
        vfs.mount(fs, point)
        self.point = point
        return point

    def counts(self):
        return {"program_bytes": self.program_bytes, "erase_bytes": self.erase_bytes, "erases": self.erases,
                "pages": self.pages, "stall_us": self.stall_us, "max_stall_us": self.max_stall_us,
                "max_pass_stall_us": max(self.max_pass_stall_us, self.pass_stall_us)}


def _walk(path, out):
    import os

    for name in sorted(os.listdir(path)):
        p = path + "/" + name
        if os.stat(p)[0] & 0x4000:
            _walk(p, out)
        else:
            out.append(p)


def dump(image, write=None):
    """Print every file of the image as "path<TAB>hex" lines (paths without the mount point)."""
    from binascii import hexlify

    fl = SimFlash(image, readonly=True)
    import vfs

    fs = vfs.VfsLfs2(fl, progsize=PAGE)
    vfs.mount(fs, "/dumpflash")
    try:
        files = []
        _walk("/dumpflash", files)
        w = write or sys.stdout.write
        for p in files:
            with open(p, "rb") as f:
                data = f.read()
            w(p[len("/dumpflash"):] + "\t" + hexlify(data).decode() + "\n")
    finally:
        vfs.umount("/dumpflash")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "dump":
        dump(sys.argv[2])
    else:
        sys.stderr.write("usage: micropython -m sim.flash dump IMAGE\n")
        sys.exit(2)
