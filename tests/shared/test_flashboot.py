# Shared tests (CPython and the MicroPython unix port): the frozen build's
# boot (firmware/flashboot.py, run by firmware/boot/rp2/_boot.py) on the
# sim's NOR flash: the layout is read from the flash, a blank flash gets
# the split layout, a flash that stock MicroPython formatted keeps its
# littlefs, and nothing that holds data is ever formatted. On the port the
# real littlefs (vfs.VfsLfs2) runs, which refuses a superblock whose block
# count differs from the device's (why stock _boot.py cannot host the
# split); CPython gets a stand-in with that rule.
import flashboot
from rawlog import RawLog
from sim.flash import BLOCK, SimFlash
from test_logstore import tmpdir

try:
    import vfs as _vfs

    REAL = hasattr(_vfs, "VfsLfs2")
except ImportError:
    REAL = False


class _Lfs:
    """CPython's stand-in for vfs.VfsLfs2: a superblock with "littlefs" at
    offset 8 and its block count at 16; a mount with another count fails."""

    def __init__(self, dev, progsize=256):
        b = bytearray(20)
        dev.readblocks(0, b, 0)
        if b[8:16] != b"littlefs" or int.from_bytes(b[16:20], "little") != dev.ioctl(4, 0):
            raise OSError(22)

    @staticmethod
    def mkfs(dev, progsize=256):
        dev.ioctl(6, 0)
        dev.ioctl(6, 1)
        p = bytearray(b"\xff" * 256)
        p[8:16] = b"littlefs"
        p[16:20] = dev.ioctl(4, 0).to_bytes(4, "little")
        dev.writeblocks(0, p, 0)


class _FakeVfs:
    VfsLfs2 = _Lfs

    def __init__(self):
        self.mounted = {}

    def mount(self, fs, point):
        self.mounted[point] = fs

    def umount(self, point):
        del self.mounted[point]


def _env():
    if REAL:
        return _vfs
    return _FakeVfs()


def _umount(v, point):
    try:
        v.umount(point)
    except (OSError, KeyError):
        pass


def _flash(tag, blocks=352):
    return SimFlash(tmpdir(tag) + "/flash.img", blocks)


def _ops(fl):
    return fl.erases + fl.pages


def test_a_blank_flash_gets_the_split_layout_and_keeps_it():
    v = _env()
    fl = _flash("blank")
    raw, how = flashboot.mount(fl, fl.part, "/fbt", -1, v)
    try:
        assert how == "new" and raw is not None
        n = flashboot.split_blocks(352)
        assert n == 352 - 128 * 1024 // BLOCK == 320 and raw.count == n
        assert flashboot.raw_blocks(fl) == n
        log = flashboot.open_raw(raw)
        assert log.formatted and log.ids() == [] and log.count == n
        f = log.create(1)
        f.write(b"HDLG\x01")
        f.close()
    finally:
        _umount(v, "/fbt")
    # the next boot finds the layout on the flash (new_raw is not used) and
    # formats nothing: the session is there, littlefs mounts on the rest
    before = _ops(fl)
    raw, how = flashboot.mount(fl, fl.part, "/fbt", 8, v)
    _umount(v, "/fbt")
    assert how == "split" and raw.count == 320 and _ops(fl) == before
    assert RawLog(raw).ids() == [1]


def test_littlefs_refuses_a_superblock_of_another_block_count():
    # why the frozen build brings its own _boot.py: stock MicroPython's
    # mounts littlefs over the whole region, fails on the split's smaller
    # littlefs (or on the raw region at block 0) and formats it all
    v = _env()
    fl = _flash("refuse")
    flashboot.mount(fl, fl.part, "/fbt", -1, v)
    _umount(v, "/fbt")
    try:
        v.VfsLfs2(fl.part(320, 32 - 1), progsize=256)  # one block fewer than formatted
        refused = False
    except OSError:
        refused = True
    assert refused
    try:
        v.VfsLfs2(fl, progsize=256)  # the whole region, as stock _boot.py mounts it
        refused = False
    except OSError:
        refused = True
    assert refused


def test_a_flash_formatted_by_stock_micropython_keeps_its_files():
    v = _env()
    fl = _flash("stock")
    v.VfsLfs2.mkfs(fl, progsize=256)  # littlefs over the whole region, as stock _boot.py made it
    before = _ops(fl)
    raw, how = flashboot.mount(fl, fl.part, "/fbt", -1, v)
    _umount(v, "/fbt")
    assert how == "whole" and raw is None
    assert _ops(fl) == before  # nothing formatted: its sessions stay in littlefs files
    assert flashboot.raw_blocks(fl) == 0


def test_nothing_that_holds_data_is_formatted():
    v = _env()
    # a littlefs that does not mount (its superblock damaged after the magic)
    fl = _flash("badlfs")
    v.VfsLfs2.mkfs(fl, progsize=256)
    for b in (0, 1):
        page = bytearray(256)
        fl.readblocks(b, page, 0)
        if page[8:16] == b"littlefs":
            page = bytearray(b"\xff" * 256)
            page[16:24] = b"\x00" * 8  # programmed over: bits to 0 (NOR), the mount fails
            fl.writeblocks(b, page, 0)
    before = _ops(fl)
    raw, how = flashboot.mount(fl, fl.part, "/fbt", -1, v)
    _umount(v, "/fbt")
    assert raw is None and "nothing formatted" in how and _ops(fl) == before
    # a raw log superblock whose CRC fails
    fl = _flash("badraw")
    flashboot.mount(fl, fl.part, "/fbt", -1, v)
    _umount(v, "/fbt")
    page = bytearray(b"\xff" * 256)
    page[8] = 0  # the version byte (1), inside the CRC'd bytes
    fl.writeblocks(0, page, 0)
    before = _ops(fl)
    raw, how = flashboot.mount(fl, fl.part, "/fbt", -1, v)
    _umount(v, "/fbt")
    assert raw is None and "nothing formatted" in how and _ops(fl) == before


def test_a_cut_while_formatting_formats_again_on_the_next_boot():
    # littlefs is made first, the raw superblock last: until it is there
    # the flash holds no layout and no files, and the next boot formats it
    v = _env()
    fl = _flash("cut")
    fl.ioctl(6, 0)
    fl.ioctl(6, 1)
    v.VfsLfs2.mkfs(fl.part(320, 32), progsize=256)  # the cut came before RawLog.format
    raw, how = flashboot.mount(fl, fl.part, "/fbt", -1, v)
    _umount(v, "/fbt")
    assert how == "new" and raw.count == 320 and RawLog(raw).formatted
    # a raw superblock and a blank littlefs part: that part alone is made
    fl = _flash("cut2")
    RawLog.format(fl.part(0, 320))
    raw, how = flashboot.mount(fl, fl.part, "/fbt", -1, v)
    _umount(v, "/fbt")
    assert how == "split" and RawLog(raw).formatted


def test_open_raw_formats_only_a_blank_region():
    fl = _flash("openraw", 16)
    part = fl.part(4, 12)
    log = flashboot.open_raw(part)  # a blank ESP32 "hdlog" partition fresh from the build
    assert log is not None and log.formatted
    other = fl.part(0, 4)
    page = bytearray(b"\x00" * 256)  # not ours, not blank
    other.writeblocks(0, page, 0)
    before = _ops(fl)
    assert flashboot.open_raw(other) is None and _ops(fl) == before


def test_app_run_opens_the_raw_log_the_board_has_and_unloads_the_boot_module():
    # app.run()'s store: flashboot.raw_device() names the region (rp2: from
    # block 0; ESP32: the partition), a blank one is formatted; none: the
    # sessions go to littlefs files. flashboot leaves the heap afterwards.
    import sys

    import app

    fl = _flash("apprun", 16)
    saved = flashboot.raw_device
    try:
        flashboot.raw_device = lambda: fl.part(0, 12)
        sys.modules["flashboot"] = flashboot
        log = app._raw_log()
        assert log is not None and log.formatted and log.count == 12
        assert "flashboot" not in sys.modules
        sys.modules["flashboot"] = flashboot
        flashboot.raw_device = lambda: None  # stock MicroPython's flash: no region
        assert app._raw_log() is None and "flashboot" not in sys.modules
    finally:
        flashboot.raw_device = saved
        sys.modules["flashboot"] = flashboot
