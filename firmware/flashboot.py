# The frozen build's flash layout: a raw log region for the sessions
# (rawlog.py) at the start of the filesystem region, littlefs on the rest
# (docs/SESSION-LOG.md 4.1.1, hardware/README.md "Build and flash").
#
# Stock MicroPython's rp2 _boot.py mounts littlefs over the whole filesystem
# region and formats it when the mount fails; littlefs v2 refuses a
# superblock whose block count differs from the device's, so a smaller
# littlefs under the stock _boot.py would be wiped at every boot. The frozen
# build therefore brings its own _boot.py (firmware/boot/rp2/_boot.py),
# which calls mount_rp2() here. The sim's flash (sim/flash.py) boots
# through mount() too, with its image as the whole device.
#
#   mount(whole, part, "/", raw_blocks)   what _boot.py does (below)
#   raw_device()                          the raw log region of this board, or None (app.run())
#   format_split()                        the owner's command: everything on the flash is lost
#
# The layout is found on the flash, never guessed: block 0 holds the raw
# log's superblock (b"HDRAWLOG", its block count, a CRC-32), littlefs
# starts after the region. mount():
#   - a raw superblock: littlefs on the rest (formatted if that part holds
#     no littlefs: the first boot after a cut in the middle of a format);
#   - none, and littlefs mounts over the whole region (a board that ran
#     stock MicroPython, its sessions in files): kept as it is, the sessions
#     stay in littlefs; the owner converts after a download (format_split());
#   - none, and the region holds no filesystem at all (a new board, an
#     erased flash): formatted with the split layout;
#   - anything else (a littlefs that does not mount, a damaged raw
#     superblock): nothing is formatted, nothing mounted; a message says
#     what to do. A board's data is never formatted without its owner.
# On ESP32 the region is a data partition labelled "hdlog" in the build's
# partition table (firmware/boot/esp32/partitions-4MiB.csv); the stock
# _boot.py mounts the "vfs" partition as usual.
from heelcore.crc import crc32_check

BLOCK = 4096
FS_KB = 128  # the frozen build's littlefs: config, ids, main.py (the sessions get the rest: a
# 30-minute session at 100 Hz is ~1.1 MB, which fits the Pico's 1280 KB region)
LABEL = "hdlog"  # the ESP32 partition of the raw log


def raw_blocks(dev):
    """Blocks of the raw log region at dev's start (its superblock's count),
    0 if there is none, -1 if block 0 has a damaged raw superblock."""
    b = bytearray(24)
    dev.readblocks(0, b, 0)
    if b[0:8] != b"HDRAWLOG":
        return 0
    n = b[16] | b[17] << 8 | b[18] << 16 | b[19] << 24
    if not crc32_check(b, 0, 20, 20) or not 0 < n < dev.ioctl(4, 0):
        return -1
    return n


def _lfs_magic(dev, blocks=(0, 1)):
    b = bytearray(16)
    for n in blocks:
        dev.readblocks(n, b, 0)
        if b[8:16] == b"littlefs":
            return True
    return False


def _blank(dev, n):
    # block n's first 32 bytes erased (0xFF)
    b = bytearray(32)
    dev.readblocks(n, b, 0)
    for x in b:
        if x != 0xFF:
            return False
    return True


def split_blocks(total):
    """The raw region's blocks for a filesystem region of total blocks (the
    littlefs keeps FS_KB); 0 when too small for both."""
    n = total - FS_KB * 1024 // BLOCK
    return n if n >= 8 else 0


def mount(whole, part, point="/", new_raw=-1, vfs=None):
    """Mount littlefs at point per the layout on the flash (above); whole:
    the filesystem region's block device; part(start, count): a block device
    over blocks [start, start + count) of it; new_raw: raw blocks for a
    blank flash (-1: split_blocks()). Returns (raw region or None, what was
    done: "split", "whole", "new", or a message "heeldrop: ..." when
    nothing was mounted)."""
    if vfs is None:
        import vfs
    total = whole.ioctl(4, 0)
    n = raw_blocks(whole)
    if n < 0:
        return None, ("heeldrop: block 0 holds a damaged session log superblock: nothing mounted, nothing formatted"
                      " (flashboot.format_split() formats the flash: all its files and sessions are lost)")
    if n:
        fs = part(n, total - n)
        try:
            f = vfs.VfsLfs2(fs, progsize=256)
        except OSError:
            if _lfs_magic(fs):
                return None, ("heeldrop: the littlefs after the session log does not mount: nothing formatted"
                              " (flashboot.format_split() formats the flash)")
            vfs.VfsLfs2.mkfs(fs, progsize=256)  # a cut while formatting: that part never held files
            f = vfs.VfsLfs2(fs, progsize=256)
        vfs.mount(f, point)
        return part(0, n), "split"
    try:
        f = vfs.VfsLfs2(whole, progsize=256)
    except OSError:
        f = None
    if f is not None:  # stock MicroPython's layout: its files (and sessions) are kept
        vfs.mount(f, point)
        return None, "whole"
    if _lfs_magic(whole):
        return None, ("heeldrop: the littlefs on this flash does not mount: nothing formatted"
                      " (flashboot.format_split() formats the flash: all its files are lost)")
    if new_raw < 0:
        new_raw = split_blocks(total)
    _format(whole, part, new_raw, vfs)
    return mount(whole, part, point, new_raw, vfs)[0], "new"


def _format(whole, part, n, vfs):
    # littlefs first, the raw superblock last (it says the layout: a cut
    # before it leaves a flash mount() formats again)
    whole.ioctl(6, 0)  # block 0: no superblock of either kind survives
    whole.ioctl(6, 1)
    if not n:
        vfs.VfsLfs2.mkfs(whole, progsize=256)
        return
    vfs.VfsLfs2.mkfs(part(n, whole.ioctl(4, 0) - n), progsize=256)
    from rawlog import RawLog

    RawLog.format(part(0, n))


# -- on a board


def _rp2():
    rp2 = __import__("rp2")  # (the port's module: not in every port's stubs)

    def part(start, count):
        return rp2.Flash(start=start * BLOCK, len=count * BLOCK)

    return rp2.Flash(), part


def mount_rp2():
    """The frozen build's _boot.py on rp2: mount / per the layout, print
    what the owner must know."""
    whole, part = _rp2()
    _, how = mount(whole, part, "/")
    if how == "whole":
        print("heeldrop: sessions stay in littlefs (this flash was formatted by stock MicroPython); after"
              " `heeldrop download --all`: mpremote exec \"import flashboot; flashboot.format_split()\"")
    elif how.startswith("heeldrop"):
        print(how)


def raw_device():
    """This board's raw log region (a block device), or None: rp2, from
    block 0 of the filesystem region; ESP32, the "hdlog" partition."""
    import sys

    if sys.platform == "rp2":
        whole, part = _rp2()
        n = raw_blocks(whole)
        return part(0, n) if n > 0 else None
    if sys.platform == "esp32":
        Partition = __import__("esp32").Partition

        p = Partition.find(Partition.TYPE_DATA, label=LABEL)
        return p[0] if p else None
    return None


def open_raw(dev):
    """A rawlog.RawLog over dev, formatted first when dev is blank (an ESP32
    partition fresh from the build); None when dev holds something else."""
    from rawlog import RawLog

    r = RawLog(dev)
    if not r.formatted and _blank(dev, 0):
        RawLog.format(dev)
        r = RawLog(dev)
    return r if r.formatted else None


def format_split():
    """The owner's command (after downloading the sessions): format the
    filesystem region with the split layout; every file and session on it
    is lost. Copy main.py back afterwards (hardware/README.md)."""
    import sys

    import vfs

    if sys.platform == "esp32":
        p = raw_device()
        if p is None:
            raise OSError("no %r partition: flash the frozen build with its partition table" % LABEL)
        from rawlog import RawLog

        RawLog.format(p)
        return
    whole, part = _rp2()
    try:
        vfs.umount("/")
    except OSError:
        pass
    _format(whole, part, split_blocks(whole.ioctl(4, 0)), vfs)
    mount(whole, part, "/", -1, vfs)
