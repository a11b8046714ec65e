# The sim board's flash: littlefs (vfs.VfsLfs2, as MicroPython's rp2 port
# mounts it) over a block device with the board's geometry, kept in an image
# file, counting what the flash chip would do and what it would cost.
#
#   fl = SimFlash("DIR/flash.img", clock=clock)   # made and formatted if new
#   fl.mount("/flash")                              # then /flash/sessions, ...
#   fl.program_bytes, fl.erase_bytes, fl.erases, fl.stall_us
#
# What is counted: program_bytes, the bytes the program ops send (whole
# 256-byte pages, as an RP2040 sends them); program_span_bytes, per op the
# bytes from its first to its last byte other than 0xFF (the bytes it
# programs: a 0xFF byte programs no cell; what an ESP32, which programs any
# byte range, would send); reprogram_bytes, bytes other than 0xFF sent onto
# a byte already programmed (its cells programmed twice: 0 in the raw log);
# erase_bytes, 4096 an erase.
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
# Host side (heeldrop.simflash), for tests and tools, with the same littlefs
# code the board runs (`micropython -m sim.flash CMD IMAGE ...`):
#   dump IMAGE            every file as a line "path<TAB>hex" (read-only)
#   ls IMAGE              "path<TAB>size" lines (read-only)
#   cat IMAGE PATH        one file's bytes as hex (read-only)
#   get IMAGE DEST [DIR]  copy the files (under DIR) into the host folder DEST
#   put IMAGE PATH SRC    write the host file SRC as PATH (folders made)
#   rm IMAGE PATH         remove PATH
#   df IMAGE              "blocks<TAB>free blocks<TAB>block size" (littlefs's)
# An image with a raw log region (mount(raw_blocks=N): rawlog.py's
# sessions in its first N blocks, littlefs on the rest) shows the raw log's
# sessions as /sessions/sNNNN.hdl files in dump, ls, cat, get and rm.
import sys

try:
    import micropython
except ImportError:  # CPython (tests of the raw log): the same code, interpreted
    from heelcore.mpcompat import micropython, ptr8

BLOCK = 4096
PAGE = 256
PICO_BLOCKS = 352  # rp2 Pico: 1408 KB filesystem
RAW_MAGIC = b"HDRAWLOG"  # block 0 of an image with a raw log region (rawlog.py's superblock)


@micropython.viper
def _nor_program(old, new, start: int) -> int:
    # what a NOR page program leaves: old[i] &= new[start + i] over the 256
    # bytes of the page read back in old (a 1 bit programs nothing, so 0xFF
    # bytes leave a byte as it is). Returns -1 if a byte other than 0xFF
    # asks for a bit from 0 to 1 (that needs an erase: the data would come
    # out wrong), else how many bytes other than 0xFF it sends onto a byte
    # programmed already (its cells programmed a second time). Allocates
    # nothing.
    po = ptr8(old)
    pn = ptr8(new)
    ok = 1
    again = 0
    i = 0
    while i < 256:
        v = pn[start + i]
        if v != 0xFF:
            if v & ~po[i] & 0xFF:
                ok = 0
            if po[i] != 0xFF:
                again += 1
        po[i] = po[i] & v
        i += 1
    if not ok:
        return -1
    return again


@micropython.viper
def _span(buf, n: int) -> int:
    # bytes from the first to the last byte of buf[0:n] that is not 0xFF
    # (0 if all are): the range a program op changes. Allocates nothing.
    p = ptr8(buf)
    a = 0
    while a < n and p[a] == 0xFF:
        a += 1
    if a == n:
        return 0
    b = n - 1
    while p[b] == 0xFF:
        b -= 1
    return b - a + 1


class SimFlash:
    def __init__(self, path, blocks=PICO_BLOCKS, clock=None, erase_us=45000, page_us=400, readonly=False):
        self.path = path
        self.blocks = blocks
        self.clock = clock
        self.erase_us = erase_us
        self.page_us = page_us
        self.program_bytes = 0  # bytes the program ops sent (whole pages: what an RP2040 sends)
        self.program_span_bytes = 0  # per op, from its first to its last byte other than 0xFF (the bytes it programs)
        self.reprogram_bytes = 0  # bytes other than 0xFF sent onto a byte programmed already
        self.erase_bytes = 0
        self.erases = 0
        self.pages = 0
        self.stall_us = 0
        self.max_stall_us = 0
        self.pass_stall_us = 0  # stalls since new_pass() (the sim calls it once a loop pass)
        self.pass_ops = []
        self.debug = False
        self.max_pass_stall_us = 0  # the longest stall of one loop pass while sampling
        self.sampling = True
        self.watch = None  # called before and after each operation's stall (the sim's at-risk measure)
        self.readonly = readonly
        # the runner's Guard (heeldrop sim --board-ram): the block device
        # runs with the heap locked, as it allocates nothing (the sim shares
        # the board's heap; a board's flash driver is C)
        self.guard = None
        self._ff = b"\xff" * BLOCK  # an erased block, made once
        self._old = bytearray(PAGE)  # a page read back for the NOR check
        self.nor_errors = 0
        fresh = False
        try:
            self.f = open(path, "rb" if readonly else "r+b")
        except OSError:
            if readonly:
                raise
            self.f = open(path, "w+b")
            for _ in range(blocks):
                self.f.write(self._ff)
            fresh = True
        self.f.seek(0, 2)
        n = self.f.tell() // BLOCK
        if n != blocks and not fresh:
            self.blocks = n  # an image made with another size: it keeps its size
        self.fresh = fresh
        self.raw = None  # the raw log region (mount() sets it)

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
        n = len(buf)
        # the RP2040's flash_range_program takes whole 256-byte pages at page
        # offsets; NOR programs bits from 1 to 0 only (a partly programmed
        # page can be programmed again with more, 0xFF where it stays as it
        # is): a data byte that needs a bit from 0 to 1 is refused (EIO,
        # nothing programmed), as it would need an erase
        if off % PAGE or n % PAGE:
            raise OSError(22)  # EINVAL
        old = self._old
        i = 0
        while i < n:
            self.f.seek(block * BLOCK + off + i)
            self.f.readinto(old)
            if _nor_program(old, buf, i) < 0:
                self.nor_errors += 1
                raise OSError(5)  # EIO: a bit would go from 0 to 1 without an erase
            i += PAGE
        i = 0
        again = 0
        while i < n:  # checked: now the program, page by page
            self.f.seek(block * BLOCK + off + i)
            self.f.readinto(old)
            again += _nor_program(old, buf, i)
            self.f.seek(block * BLOCK + off + i)
            self.f.write(old)
            i += PAGE
        self.program_bytes += n
        self.program_span_bytes += _span(buf, n)
        self.reprogram_bytes += again
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
        if not self.sampling:
            return
        if self.pass_stall_us > 450000 and self.debug:
            sys.stderr.write("flash: pass stall %d ms, erases %s\n" % (self.pass_stall_us // 1000, self.pass_ops))
        if self.pass_ops:
            self.pass_ops = []  # (only with debug: a pass allocates nothing, the sim shares the board's heap)
        if self.pass_stall_us > self.max_pass_stall_us:
            self.max_pass_stall_us = self.pass_stall_us
        self.pass_stall_us = 0

    def _stall(self, us):
        w = self.watch
        if w is not None:
            w()
        self._stall_only(us)
        if w is not None:
            w()

    def _stall_only(self, us):
        self.stall_us += us
        self.pass_stall_us += us
        if us > self.max_stall_us:
            self.max_stall_us = us
        c = self.clock
        if c is not None and us:
            c.advance(us)

    # -- littlefs

    def mount(self, point="/flash", raw_blocks=-1):
        """Mount littlefs at point through the frozen build's boot code
        (flashboot.mount(): the layout is read from the flash; a new image
        is formatted first, as a board's first boot does, before any of the
        firmware runs: that costs the clock nothing). raw_blocks: the raw
        log region a new image gets at its start (-1: the frozen build's
        split, flashboot.split_blocks(); 0: littlefs over all of it, stock
        MicroPython's layout); an image keeps its layout; an explicit
        raw_blocks that an image cannot have is refused (ValueError), and
        so is an image flashboot will not mount (it formats no data).
        self.raw is the region (a Region) or None."""
        import vfs

        clock = self.clock
        self.clock = None
        try:
            if raw_blocks >= 0:
                self.layout(raw_blocks)  # the explicit layout's checks
            try:
                import flashboot
            except ImportError:  # --from-flash: stock MicroPython, the firmware on the flash
                return self._stock_mount(vfs, point)
            raw, how = flashboot.mount(self, self.part, point, raw_blocks, vfs)
            if how.startswith("heeldrop"):  # nothing mounted, nothing formatted
                raise ValueError("%s: %s" % (self.path, how))
            self.raw = raw
            self.fresh = False
            self.point = point
            return point
        finally:
            self.clock = clock

    def _stock_mount(self, vfs, point):
        # stock MicroPython's rp2 _boot.py: littlefs over all of the flash,
        # formatted when it does not mount; an image with the frozen build's
        # layout is refused instead of wiped
        if self.layout(0):
            raise ValueError("%s has the frozen build's layout (a raw log region): stock MicroPython's _boot.py "
                             "would format it (download its sessions first)" % self.path)
        try:
            fs = vfs.VfsLfs2(self, progsize=PAGE)
        except OSError:
            vfs.VfsLfs2.mkfs(self, progsize=PAGE)
            fs = vfs.VfsLfs2(self, progsize=PAGE)
        vfs.mount(fs, point)
        self.raw = None
        self.fresh = False
        self.point = point
        return point

    def part(self, start, count):
        """Blocks [start, start + count) as a block device (rp2.Flash(start=, len=))."""
        return Region(self, start, count)

    def layout(self, raw_blocks=0):
        """Blocks of the raw log region at the image's start (0: none), from
        its superblock; for a new image, raw_blocks. ValueError when
        raw_blocks asks for a region the image does not have."""
        head = bytearray(24)
        self.f.seek(0)
        self.f.readinto(head)
        if head[0:8] == RAW_MAGIC:
            n = head[16] | head[17] << 8 | head[18] << 16 | head[19] << 24
            if 0 < n < self.blocks:
                if raw_blocks and raw_blocks != n:
                    raise ValueError("%s has a raw log region of %d KB, not %d KB: the layout stays as it is "
                                     "(a new --flash folder gets another)" % (self.path, n * 4, raw_blocks * 4))
                return n
        if raw_blocks and not self.fresh:
            raise ValueError("%s holds a littlefs over all %d KB: a raw log region would wipe its files "
                             "(copy the sessions out with `heeldrop download`, then use a new --flash folder)"
                             % (self.path, self.blocks * 4))
        if raw_blocks and not 2 <= raw_blocks <= self.blocks - 8:
            raise ValueError("a raw log region of %d KB does not fit a %d KB flash with room for littlefs"
                             % (raw_blocks * 4, self.blocks * 4))
        return raw_blocks

    def counts(self):
        return {"program_bytes": self.program_bytes, "program_span_bytes": self.program_span_bytes,
                "reprogram_bytes": self.reprogram_bytes, "erase_bytes": self.erase_bytes, "erases": self.erases,
                "pages": self.pages, "stall_us": self.stall_us, "max_stall_us": self.max_stall_us,
                "max_pass_stall_us": self.max_pass_stall_us}


class Region:
    """Blocks [start, start + count) of a SimFlash as a block device of its
    own: what rp2.Flash(start=, len=) or an esp32.Partition gives a board.
    Allocates nothing."""

    def __init__(self, flash, start, count):
        self.flash = flash
        self.start = start
        self.count = count

    def readblocks(self, block, buf, off=0):
        if block < 0 or block >= self.count:
            raise OSError(22)
        self.flash.readblocks(self.start + block, buf, off)

    def writeblocks(self, block, buf, off=None):
        if block < 0 or block + (len(buf) - 1 + (off or 0)) // BLOCK >= self.count:
            raise OSError(22)
        self.flash.writeblocks(self.start + block, buf, off)

    def ioctl(self, op, arg):
        if op == 4:
            return self.count
        if op == 5:
            return BLOCK
        if op == 6:
            if arg < 0 or arg >= self.count:
                raise OSError(22)
            return self.flash.ioctl(6, self.start + arg)
        return 0


def _walk(path, out):
    import os

    for name in sorted(os.listdir(path)):
        p = path + "/" + name
        if os.stat(p)[0] & 0x4000:
            _walk(p, out)
        else:
            out.append(p)


_MNT = "/hostflash"


def _open(image, readonly=True):
    import vfs

    fl = SimFlash(image, readonly=readonly)
    if readonly:
        n = fl.layout()
        fl.raw = Region(fl, 0, n) if n else None
        vfs.mount(vfs.VfsLfs2(Region(fl, n, fl.blocks - n) if n else fl, progsize=PAGE), _MNT)
    else:
        fl.mount(_MNT)  # formatted first if new, as a board's first boot (the frozen build's layout)
    fl.rawlog = None
    if fl.raw is not None:
        from rawlog import RawLog

        rl = RawLog(fl.raw)
        if rl.formatted:
            fl.rawlog = rl
    return fl


def _close(fl):
    import vfs

    vfs.umount(_MNT)
    fl.f.close()


def _files(sub=""):
    files = []
    try:
        _walk(_MNT + sub, files)
    except OSError:  # no such folder: no files
        pass
    return files


RAW_DIR = "/sessions"  # the raw log's sessions show as RAW_DIR/sNNNN.hdl, as the session store lists them


def _raw_files(fl, sub=""):
    # {path: session id} of the raw log's sessions (paths from the image's root) under sub
    out = {}
    if fl.rawlog is not None and (not sub or RAW_DIR == sub or RAW_DIR.startswith(sub + "/")):
        for sid in fl.rawlog.ids():
            out[RAW_DIR + "/s%04d.hdl" % sid] = sid
    return out


def _raw_bytes(fl, sid):
    buf = bytearray(fl.rawlog.size(sid))
    fl.rawlog.read_into(sid, 0, buf)
    return buf


def _read(fl, path):
    # a file's bytes: littlefs, or a raw log session by its name
    raw = _raw_files(fl)
    if path in raw:
        return _raw_bytes(fl, raw[path])
    with open(_MNT + path, "rb") as f:
        return f.read()


def dump(image, write=None):
    """Print every file of the image as "path<TAB>hex" lines (paths without
    the mount point; the raw log's sessions as /sessions/sNNNN.hdl)."""
    from binascii import hexlify

    fl = _open(image)
    try:
        w = write or sys.stdout.write
        for p in _files():
            w(p[len(_MNT):] + "\t" + hexlify(_read(fl, p[len(_MNT):])).decode() + "\n")
        for p in sorted(_raw_files(fl)):
            w(p + "\t" + hexlify(_read(fl, p)).decode() + "\n")
    finally:
        _close(fl)


def main(argv):
    import os

    cmd = argv[1] if len(argv) > 2 else ""
    image = argv[2] if len(argv) > 2 else ""
    w = sys.stdout.write
    if cmd == "dump" and len(argv) == 3:
        dump(image)
        return 0
    if cmd in ("ls", "df", "get", "cat") and 3 <= len(argv) <= 5:
        fl = _open(image)
        try:
            if cmd == "cat":
                from binascii import hexlify

                w(hexlify(_read(fl, argv[3])).decode() + "\n")
            elif cmd == "ls":
                for p in _files():
                    w("%s\t%d\n" % (p[len(_MNT):], os.stat(p)[6]))
                raw = _raw_files(fl)
                for p in sorted(raw):
                    w("%s\t%d\n" % (p, fl.rawlog.size(raw[p])))
            elif cmd == "df":
                st = os.statvfs(_MNT)
                w("%d\t%d\t%d\n" % (st[2], st[3], st[0]))
            else:
                dest = argv[3]
                sub = argv[4] if len(argv) == 5 else ""
                buf = bytearray(BLOCK)
                for p in _files(sub):
                    out = dest + p[len(_MNT) + len(sub):]
                    d = out.rpartition("/")[0]
                    _makedirs(os, d)
                    with open(p, "rb") as src, open(out, "wb") as dst:
                        while True:
                            n = src.readinto(buf)
                            if not n:
                                break
                            dst.write(memoryview(buf)[:n])
                    w(out + "\n")
                raw = _raw_files(fl, sub)
                for p in sorted(raw):
                    out = dest + p[len(sub):]
                    _makedirs(os, out.rpartition("/")[0])
                    with open(out, "wb") as dst:
                        dst.write(_raw_bytes(fl, raw[p]))
                    w(out + "\n")
        finally:
            _close(fl)
        return 0
    if (cmd == "put" and len(argv) == 5) or (cmd == "rm" and len(argv) == 4):
        fl = _open(image, readonly=False)
        try:
            path = _MNT + argv[3]
            raw = _raw_files(fl)
            if cmd == "rm" and argv[3] in raw:
                fl.rawlog.delete(raw[argv[3]])
            elif cmd == "rm":
                os.remove(path)
            else:
                _makedirs(os, path.rpartition("/")[0])
                with open(argv[4], "rb") as src:
                    data = src.read()
                with open(path, "wb") as dst:
                    dst.write(data)
        finally:
            _close(fl)
        return 0
    sys.stderr.write("usage: micropython -m sim.flash dump|ls|df IMAGE | cat IMAGE PATH | get IMAGE DEST [DIR] | "
                     "put IMAGE PATH SRC | rm IMAGE PATH\n")
    return 2


def _makedirs(os, d):
    parts = d.split("/")
    for i in range(2, len(parts) + 1):
        p = "/".join(parts[:i])
        if p:
            try:
                os.mkdir(p)
            except OSError:
                pass


if __name__ == "__main__":
    rc = main(sys.argv)
    if rc:
        sys.exit(rc)
