# Session logs in a raw flash region: append-only, page by page, no
# filesystem in the way (docs/SESSION-LOG.md, "On the flash").
#
# Why: littlefs never programs a block again once a sync has committed it,
# so every append after a sync copies the file's partly filled last block
# into a newly erased one (lfs_ctz_extend), plus a metadata commit: a log
# synced every ~2 s was programmed 3.5x and erased 5.3x over. Here a sync
# programs the one page that holds the newest bytes (NOR flash programs a
# partly programmed page again: bits go 1 -> 0 only), with 0xFF in place
# of the bytes an earlier program put there (0xFF programs no cell: no
# byte is programmed twice, and a cut during the second program cannot
# touch the records already there), and each 4 KB block is erased once,
# when the writer reaches it.
#
#     raw = RawLog(bdev)            # bdev: rp2.Flash(start=, len=), an esp32.Partition, sim Region
#     raw.formatted                 # False: not a raw log region (nothing here touches it)
#     RawLog.format(bdev)           # only with the owner's consent (deploy / a new sim image)
#     f = raw.create(7)             # a file-like writer: write(records), flush(), tell(), room(), close()
#     raw.ids(), raw.size(7), raw.read_into(7, offset, buf), raw.delete(7), raw.free_bytes()
#
# The block device: the extended protocol (vfs.AbstractBlockDev) that
# rp2.Flash and esp32.Partition give: readblocks(n, buf, off),
# writeblocks(n, buf, off) programs without erasing, ioctl(6, n) erases
# block n, ioctl(4) block count, ioctl(5) block size. Programs are whole
# 256-byte pages at page offsets (the RP2040's flash_range_program asks
# that; an ESP32 would take any bytes).
#
# Layout (integers little-endian):
#   block 0      superblock: b"HDRAWLOG", u8 version 1, u8 0xFF, u16 0xFFFF,
#                u32 block size, u32 block count, u32 CRC-32 of bytes 0..19.
#                Written by format() only; without it the region is not ours.
#   blocks 1..   data blocks. Bytes 0..11: b"HDB1", u32 session id, u16 index
#                (the block's place in the session, 0, 1, ...), u16 0xFFFF;
#                12..15: CRC-32 of bytes 0..11; byte 16: 0xFF live, 0x00
#                deleted; 17..31 0xFF. Bytes 32.. (the payload): the
#                session's bytes, exactly as a session file holds them (the
#                "HDLG" file header in block 0 of a session, then whole
#                records: a record never straddles two blocks), then erased
#                bytes (0xFF) to the end of the block.
# A session is its index-0 block and the blocks that follow it by index
# (until the first missing one); its bytes are the payloads in index order.
#
# Writing: the writer's next block is erased ahead (prepare(): the store
# calls it in a loop pass with no other erase once the block being written
# is a quarter full), else when the writer needs it (the stall, 45-400 ms);
# its header is programmed with the first page of data. The
# writer keeps the page it is filling in RAM (256 bytes): the bytes not
# yet programmed at their places, 0xFF everywhere else; flush() programs
# that page and sets it all to 0xFF again; the next flush programs it again
# with the bytes added since (the ones on the flash already are 0xFF in
# RAM: left as they are). Each byte is programmed once: a page is one
# program if no flush falls inside it, one more a flush that does (the
# store flushes only when the oldest sample not on the flash is due:
# logstore.py, _due). on_flash is the session's bytes programmed so far
# (a whole page as it fills, the rest at a flush): what a cut keeps. A
# record that does not fit in the block's rest starts the next block (the
# rest stays 0xFF).
#
# Power cut: every byte up to on_flash (the last flush, or the last page
# that filled, whichever is later) is on the flash (a cut during
# a program can tear only the bytes that program adds); at boot the
# scan reads every block's header and walks each block's records by their
# lengths (5 bytes read per record), checking the CRC-32 of every record in
# a session's last block (the only block a cut can tear): the session ends
# after its last whole record. A torn header (cut while the page was
# programmed) or a torn erase fails its CRC: that block is free.
#
# Delete: byte 16 of the session's blocks is programmed to 0 (no erase),
# block 0 first: a cut in the middle leaves blocks without their index-0
# block, which are free. Free blocks are reused in turn, from the block after
# the newest one written (wear spreads over the region).
#
# Full: create() and write() raise OSError(ENOSPC) when no free block is
# left; the last reserve_blocks are kept back until allow_reserve is set
# (the session store does so to close a session on a full flash).
#
# Memory: four bytes a block (payload bytes used, or free; the next block of
# its session), six a session (its id, its first block); the scan at boot
# borrows six bytes a block and one 256-byte buffer, in three allocations;
# writing allocates nothing but the page buffer made by create() (and the
# memoryview slices of each write).
import struct
from array import array

from heelcore.crc import crc32, crc32_check, crc32_put

try:
    from micropython import const
except ImportError:  # CPython
    from heelcore.mpcompat import const

_ENOSPC = const(28)
_EIO = const(5)
_EFBIG = const(27)
PAGE = const(256)
HDR = const(32)  # block header bytes; the payload follows
_FLAG = const(16)  # the deleted flag's byte
_SB_MAGIC = b"HDRAWLOG"
_BLK_MAGIC = b"HDB1"
_FILE_MAGIC = b"HDLG"
_NONE = const(0xFFFF)
_FREE = const(0xFFFF)  # _used[b] of a block no live session holds


def _ff(n):
    return b"\xff" * n


_FFPAGE = _ff(PAGE)  # an erased page, made once (writing allocates no page)


class RawLog:
    def __init__(self, bdev, reserve_blocks=1):
        self.bdev = bdev
        self.bsize = bdev.ioctl(5, 0) or 4096
        self.count = bdev.ioctl(4, 0)
        self.payload = self.bsize - HDR
        self.reserve_blocks = reserve_blocks
        self.allow_reserve = False
        self._hdr = bytearray(HDR)
        self._rec = bytearray(9)
        self.formatted = self._check_super()
        # per block: the payload bytes in use (_FREE: no live session holds
        # it), the next block of its session (0: its last); per session: its
        # id and its first block (in the order made)
        n = self.count
        self._used = array("H", _ff(2 * n))
        self._next = array("H", bytes(2 * n))
        self._sids = array("I")
        self._firsts = array("H")
        self._nfree = n - 1  # data blocks no session holds
        self._head = 0  # the newest block written (writes go on after it)
        self._spare = -1  # a free block erased ahead of the writer (prepare()), not yet used
        self._writing = None  # the RawFile being written
        if self.formatted:
            self._scan()

    # -- format and scan --

    @staticmethod
    def format(bdev):
        """Make bdev an empty raw log region (erases block 0 only: the data
        blocks of an earlier log there become unreachable)."""
        bs = bdev.ioctl(5, 0) or 4096
        n = bdev.ioctl(4, 0)
        page = bytearray(_ff(PAGE))
        page[0:8] = _SB_MAGIC
        page[8] = 1
        struct.pack_into("<II", page, 12, bs, n)
        crc32_put(page, 0, 20, 20)
        bdev.ioctl(6, 0)
        bdev.writeblocks(0, page, 0)
        for b in range(1, n):  # the old data blocks: marked deleted (no erase: a program of one page each)
            h = bytearray(HDR)
            bdev.readblocks(b, h, 0)
            if h[0:4] == _BLK_MAGIC and h[_FLAG] != 0:
                p = bytearray(_ff(PAGE))
                p[_FLAG] = 0
                bdev.writeblocks(b, p, 0)

    def _check_super(self):
        b = bytearray(24)
        self.bdev.readblocks(0, b, 0)
        if b[0:8] != _SB_MAGIC or b[8] != 1 or not crc32_check(b, 0, 20, 20):
            return False
        bs, n = struct.unpack_from("<II", b, 12)
        return bs == self.bsize and n == self.count

    def _header(self, b):
        # (sid, index, live) of data block b, or None (free: erased, torn, not ours)
        h = self._hdr
        self.bdev.readblocks(b, h, 0)
        if h[0:4] != _BLK_MAGIC or not crc32_check(h, 0, 12, 12):
            return None
        sid, idx = struct.unpack_from("<IH", h, 4)
        return sid, idx, h[_FLAG] == 0xFF

    def _scan(self):
        # each block's (session, index) if live, in two flat arrays; then
        # each session from its index-0 block: its next block is searched
        # from the block after (the writer takes free blocks in turn, so it
        # is near)
        n = self.count
        sids = array("I", bytes(4 * n))
        idxs = array("H", _ff(2 * n))  # _NONE: free, torn, deleted or not ours
        best_sid = -1
        best_idx = -1
        for b in range(1, n):
            r = self._header(b)
            if r is None:
                continue
            sid, idx, live = r
            if sid > best_sid or (sid == best_sid and idx > best_idx):
                best_sid = sid
                best_idx = idx
                self._head = b
            if live:
                sids[b] = sid
                idxs[b] = idx
        buf = bytearray(PAGE)
        for b0 in range(1, n):
            if idxs[b0] != 0:
                continue
            sid = sids[b0]
            self._sids.append(sid)
            self._firsts.append(b0)
            b = b0
            i = 0
            while True:
                # the block of index i + 1, from the block after b
                nb = 0
                c = b
                for _ in range(n - 2):
                    c += 1
                    if c >= n:
                        c = 1
                    if idxs[c] == i + 1 and sids[c] == sid:
                        nb = c
                        break
                self._set(b, self._walk(b, i == 0, nb == 0, buf))
                if not nb:
                    break
                self._next[b] = nb
                b = nb
                i += 1

    def _set(self, b, used):
        if self._used[b] == _FREE:
            self._nfree -= 1
        self._used[b] = used

    def _walk(self, b, first, check, buf):
        # payload bytes of block b in use: the file header (a session's
        # first block), then whole records; check: each record's CRC too
        # (read into buf a piece at a time)
        bs = self.bsize
        p = HDR
        r = self._rec
        if first:
            self.bdev.readblocks(b, r, HDR)
            if r[0:4] != _FILE_MAGIC:
                return 0
            p = HDR + 5
        mv = memoryview(r)
        while p + 9 <= bs:
            self.bdev.readblocks(b, mv[0:5], p)
            if r[0] != 0xE7 or r[1] != 0x5A:
                break
            end = p + 9 + (r[3] | r[4] << 8)
            if end > bs:
                break
            if check and not self._crc_ok(b, p, end, buf):
                break
            p = end
        return p - HDR

    def _crc_ok(self, b, p, end, buf):
        # the record at [p, end) of block b ends with the CRC-32 of its bytes 2..
        mv = memoryview(buf)
        crc = 0
        q = p + 2
        while q < end - 4:
            k = end - 4 - q
            if k > len(buf):
                k = len(buf)
            self.bdev.readblocks(b, mv[0:k], q)
            crc = crc32(mv, 0, k, crc)
            q += k
        self.bdev.readblocks(b, mv[0:4], end - 4)
        return crc == (buf[0] | buf[1] << 8 | buf[2] << 16 | buf[3] << 24)

    # -- sessions --

    def ids(self):
        """The sessions' ids, sorted."""
        out = list(self._sids)
        out.sort()
        return out

    def _find(self, sid):
        sids = self._sids
        for i in range(len(sids)):
            if sids[i] == sid:
                return i
        return -1

    def has(self, sid):
        return self._find(sid) >= 0

    def blocks(self, sid):
        """Session sid's blocks in index order (a list: for tests and tools)."""
        out = []
        b = self._first(sid)
        while b:
            out.append(b)
            b = self._next[b]
        return out

    def size(self, sid):
        """Bytes of session sid (OSError(2) if there is none)."""
        n = 0
        b = self._first(sid)
        while b:
            n += self._used[b]
            b = self._next[b]
        return n

    def _first(self, sid):
        i = self._find(sid)
        if i < 0:
            raise OSError(2)
        return self._firsts[i]

    def read_into(self, sid, offset, buf):
        """Read session sid's bytes from offset into buf; returns how many
        (fewer at the end, 0 at or after it)."""
        mv = memoryview(buf)
        got = 0
        pos = 0
        b = self._first(sid)
        while b:
            used = self._used[b]
            if offset < pos + used and got < len(buf):
                start = offset - pos if offset > pos else 0
                k = used - start
                if k > len(buf) - got:
                    k = len(buf) - got
                self.bdev.readblocks(b, mv[got:got + k], HDR + start)
                got += k
                offset = pos + start + k
            pos += used
            b = self._next[b]
        return got

    def delete(self, sid):
        """Mark session sid's blocks deleted (block 0 first); OSError(2) if
        there is none."""
        i = self._find(sid)
        if i < 0:
            raise OSError(2)
        b = self._firsts[i]
        p = bytearray(_ff(PAGE))
        p[_FLAG] = 0
        while b:
            self.bdev.writeblocks(b, p, 0)
            self._used[b] = _FREE
            self._nfree += 1
            nb = self._next[b]
            self._next[b] = 0
            b = nb
        self._sids = self._sids[:i] + self._sids[i + 1:]
        self._firsts = self._firsts[:i] + self._firsts[i + 1:]

    def free_blocks(self):
        return self._nfree

    def free_bytes(self):
        """Payload bytes that can still be written (the reserve kept back
        unless allow_reserve), with what is left in the block being written."""
        n = self.free_blocks()
        if not self.allow_reserve:
            n -= self.reserve_blocks
        free = n * self.payload if n > 0 else 0
        w = self._writing
        if w is not None and w._b >= 0:
            free += self.payload - w._used
        return free

    def _pick(self):
        # the next free block after the newest one written; -1 if none
        # may be taken (the reserve kept back)
        n = self.count
        if self.free_blocks() <= (0 if self.allow_reserve else self.reserve_blocks):
            return -1
        b = self._head
        for _ in range(n):
            b += 1
            if b >= n:
                b = 1
            if self._used[b] == _FREE:
                return b
        return -1

    def _alloc(self):
        # a block for the writer: the spare erased ahead, or the next free
        # block erased now
        b = self._spare
        if b >= 0 and self._used[b] == _FREE:
            self._spare = -1
        else:
            b = self._pick()
            if b < 0:
                raise OSError(_ENOSPC)
            self.bdev.ioctl(6, b)
        self._head = b
        return b

    def prepare(self):
        """Erase the writer's next block now (ahead of need: the erase's
        stall then never holds back a sync). True if it erased."""
        if self._spare >= 0:
            return False
        b = self._pick()
        if b < 0:
            return False
        self.bdev.ioctl(6, b)
        self._spare = b
        return True

    def create(self, sid):
        """A writer for new session sid (its first block erased now)."""
        if self.has(sid):
            raise OSError(17)  # EEXIST
        f = RawFile(self, sid)
        f._next_block()
        self._sids.append(sid)
        self._firsts.append(f._b)
        self._writing = f
        return f

    def append(self, sid):
        """A writer that goes on at the end of session sid (the store
        reopens its file after a write failed, in the same boot: the page
        that holds the end is programmed again with the bytes that follow,
        0xFF over the bytes there)."""
        w = self._writing
        if w is not None and w.sid == sid:
            w.closed = False
            return w
        b = self._first(sid)
        f = RawFile(self, sid)
        f._idx = 0
        while self._next[b]:
            b = self._next[b]
            f._idx += 1
        f._b = b
        f._used = self._used[b]
        f._pstart = (HDR + f._used) // PAGE * PAGE  # (the page buffer: all 0xFF, the bytes there stay)
        f._size = self.size(sid)
        f._base = f._size - f._used
        f.on_flash = f._size
        self._writing = f
        return f


class RawFile:
    """Writes one session into the raw log (file-like for logstore.SessionLog):
    write(b) takes whole records (and the 5-byte file header first), each
    in one block; flush() programs the partly filled page (a page that
    fills is programmed at once); on_flash the session's bytes programmed;
    tell() the session's size; room() the payload bytes left in the current block
    (negative -payload when the next write starts a new block: an erase)."""

    def __init__(self, log, sid):
        self._log = log
        self.sid = sid
        self._b = -1
        self._idx = -1
        self._used = 0  # payload bytes used in the current block
        self._page = bytearray(_ff(PAGE))
        self._pstart = 0  # block offset of the page held in RAM
        self._pdirty = False
        self._hdr_pending = False
        self._size = 0
        self._base = 0  # session bytes in the blocks before the current one
        self.on_flash = 0  # session bytes programmed (a power cut keeps them)
        self.closed = False

    def has_spare(self):
        """The next block is erased already: starting it costs no erase."""
        return self._log._spare >= 0

    def wants_spare(self):
        """The block being written is a quarter full and no next block is
        erased yet: time for prepare()."""
        return self._log._spare < 0 and self._b >= 0 and self._used >= self._log.payload // 4

    def prepare(self):
        return self._log.prepare()

    def room(self):
        if self._b < 0:
            return -self._log.payload
        return self._log.payload - self._used

    def tell(self):
        return self._size

    def seek(self, off, whence=0):
        return self._size

    def _next_block(self):
        log = self._log
        prev = self._b
        if prev >= 0:
            self._program()
        b = log._alloc()
        if prev >= 0:
            self._base += self._used
        self._idx += 1
        self._b = b
        self._used = 0
        # the header goes into page 0, programmed with the first data
        p = self._page
        p[:] = _FFPAGE
        p[0:4] = _BLK_MAGIC
        struct.pack_into("<IH", p, 4, self.sid, self._idx)
        crc32_put(p, 0, 12, 12)
        self._pstart = 0
        self._pdirty = True
        self._hdr_pending = True
        if prev >= 0:
            log._next[prev] = b
        log._next[b] = 0
        log._set(b, 0)

    def _program(self):
        # the page's new bytes (0xFF elsewhere: the bytes programmed before
        # are left as they are); then the RAM page is all 0xFF again (a
        # program that failed keeps it, for the next try)
        if self._pdirty:
            self._log.bdev.writeblocks(self._b, self._page, self._pstart)
            self.on_flash = self._base + self._used  # (the bytes put so far: up to this page's end)
            self._page[:] = _FFPAGE
            self._pdirty = False
            self._hdr_pending = False

    def write(self, b):
        if self.closed:
            raise OSError(9)  # EBADF
        mv = memoryview(b)
        n = len(b)
        p = 0
        log = self._log
        while p < n:
            if self._size == 0:
                k = 5  # the file header
            else:
                if n - p < 5 or mv[p] != 0xE7 or mv[p + 1] != 0x5A:
                    raise ValueError("raw log: a write must hold whole records")
                k = 9 + (mv[p + 3] | mv[p + 4] << 8)
            if p + k > n:
                raise ValueError("raw log: a write must hold whole records")
            if k > log.payload:
                raise OSError(_EFBIG)
            if self._b < 0 or k > log.payload - self._used:
                self._next_block()
            self._put(mv[p:p + k])
            p += k
            self._size += k
            log._set(self._b, self._used)
        return n

    def _put(self, mv):
        # copy into the page buffer, programming each page that fills
        i = 0
        k = len(mv)
        page = self._page
        while i < k:
            off = HDR + self._used - self._pstart  # where in the RAM page
            take = PAGE - off
            if take > k - i:
                take = k - i
            page[off:off + take] = mv[i:i + take]
            self._pdirty = True
            i += take
            self._used += take
            if off + take == PAGE:
                self._program()
                self._pstart += PAGE

    def flush(self):
        """Program the partly filled page: everything written is on the flash."""
        if self._b >= 0 and self._pdirty and (self._used or not self._hdr_pending):
            self._program()

    def close(self):
        if not self.closed:
            self.flush()
            self.closed = True
            if self._log._writing is self:
                self._log._writing = None
