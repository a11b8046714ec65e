# Session logs on flash: one file per session, power-loss safe.
#
# The app owns one SessionStore; a session is a SessionLog that wraps
# heelcore.record.LogWriter (the codec) and decides when bytes go to flash.
#
#     store = SessionStore("/sessions")            # reserve_bytes=32768
#     log = store.start(header, now_ms)            # header: see record.HEADER_KEYS
#     ... every sample:   log.add_sample(seq, t_ms, ax, ay, az, gx, gy, gz)
#     ... every loop:     log.poll(now_ms)
#     ... when they come: log.add_event(line, t_ms), add_side, add_gap, add_note
#     log.close(now_ms)
#     if log.full: cue "flash low / log stopped" (coaching goes on)
#     store.list() -> [{"id": 7, "name": "s0007.hdl", "size": 81234, "state": "complete", "closed": True}, ...]
#         state: "recording" (the session being written), "complete" (ends
#         with END) or "cut" (any other file: power loss or full flash; a
#         finished session all the same)
#     store.read_chunk(7, offset, 512), store.size(7), store.free_bytes()
#     store.digest(7, length=-1) -> (SHA-256 hex of the first length bytes, size)
#     store.delete(7, size=None, sha256=None): with size/sha256, only if the file has them
#     store.uid(7) -> "DEVICEID-STOREID-7", the session's identity (also in its header)
#
# Files: ROOT/sNNNN.hdl (the id, at least 4 digits), ROOT/next_id (the
# next id as decimal text), ROOT/store_id (8 hex digits drawn at random the
# first time the store is used: the sessions' identity survives ids that
# restart after a reflash or a wiped ROOT) and ROOT/reserve (below). Ids only grow and are never reused: start()
# rewrites next_id (temp file + os.rename: a cut leaves the old or the new
# number) before it creates the session file. At boot the next id is the
# larger of next_id and one past the highest file name, so a missing or
# corrupt next_id is recovered from the names (only then could the id of a
# deleted newest session come back).
#
# Raw log region: SessionStore(..., raw=rawlog.RawLog(bdev)) puts new
# sessions in a raw flash region instead of files (rawlog.py: page by page,
# each 4 KB block erased once; littlefs copies a file's last block at every
# sync). Sessions already in files stay listed, readable and deletable; ids
# go on from both; next_id and store_id stay files. There records go to
# the raw log as they are made, its pages are programmed as they fill
# (each then counts as durable), and the partly filled page is programmed
# (the flush) only when its oldest sample would otherwise wait past the
# at-risk budget (_due: 2 s less a read period, less a 400 ms erase
# when one may land in the way), not on a timer: at 25 Hz a page takes
# ~1.3 s, and a flush every 1.4 s programmed each page about twice. The
# codec's block is cut a little before it would fill the page (at 25 and
# 50 Hz, where a block lasts 1-2 s) so that the record that crosses into
# the next page is young. The next block is erased ahead, in a pass of its
# own. A region that is not formatted is not used (the store never
# formats). docs/SESSION-LOG.md, 4.1.1, has the layout.
#
# Power-loss policy (what a cut can cost):
# - Only whole records are handed to the file: samples wait in RAM (the
#   LogWriter's block), encoded records wait in a staging buffer; poll()
#   writes completed records to the file opened with "ab".
# - poll() flushes the file (f.flush(), plus os.sync() on MicroPython) once
#   _FLUSH_MS (1700 ms) have passed since the last flush (earlier when the
#   staging buffer fills: 1 kHz), after writing out the partial block and
#   everything staged, with at most one flash erase a loop pass (_io): the
#   rest of the writes and the sync follow in the next passes. Records are
#   kept in RAM until a sync has made them durable. A cut therefore loses
#   the samples since the last sync plus those still in the IMU FIFO:
#   measured by the sim at every loop pass and flash operation, at most
#   1.81 s on the demo session with 45 ms erases, 2.68 s with every erase
#   at 400 ms (README, "Power cuts"; `make bench`). Each flush costs
#   littlefs a block copy (an erase), so flushing less often wears the
#   flash less.
# - Earlier session files are never opened for writing again, and a cut
#   file reads back with record.LogReader up to its last whole record.
#
# Error policy: the device keeps coaching whatever the flash does.
# - An OSError (ENOSPC, EIO, ...) or MemoryError while logging sets .full,
#   counts it in .errors (.last_error keeps it), closes the file and stops
#   logging (after ENOSPC: the reserve, below); nothing raises to the caller
#   of add_*/poll/close.
# - At each flush poll() asks the filesystem for free space (statvfs; on
#   littlefs this walks the file system, a few ms), with the file synced
#   (littlefs counts a file written since its last sync twice). Below
#   reserve_bytes it writes what is in RAM, a NOTE "flash_low free_kb=N" and the END record,
#   closes the file and sets .full. reserve_bytes keeps room for the config
#   and the id counter.
# - The reserve file (ROOT/reserve, 12 KB: three littlefs blocks, enough for
#   a block copy, a metadata commit and the last records) is made when there
#   is room. When the flash fills anyway (ENOSPC on a write, or the low
#   check above), it is deleted first, the file reopened (littlefs refuses a
#   handle after an error) and what is in RAM plus END written: a session is
#   closed cleanly even on a full flash. has_room() (twice reserve_bytes
#   free, with the reserve back) tells the app when recording can resume.
# - free_bytes() is never negative: littlefs's f_bavail (block_count - used)
#   goes below zero near full, -1 or 2**32 - 1 on a 32-bit port.
# - start() never raises on filesystem trouble either: when the store is low
#   or the file cannot be created it returns a detached SessionLog (id and
#   name None, .full set, every method a no-op; .errors 1 if an OSError
#   occurred) and current() stays None.
# - Programming errors (a bad side name, a header too long for the codec)
#   raise ValueError as the codec does.
#
# Memory and timing: add_sample() and add_samples() (the app's: a whole
# FIFO read) are the codec's own methods, bound once (no wrapper call) and
# allocate nothing until a block is full; then the codec encodes it (~20 us
# on the unix port for 50 samples, a few ms on a board) and the record is
# copied into the staging buffer.
# poll() allocates nothing unless it writes. Each poll writes at most about
# one block (_WRITE_CHUNK bytes of whole records); the IMU FIFO covers the
# flash stall (the app's concern). The flush tick is the busiest poll: it
# encodes the partial block, writes what is staged and syncs the file.
# RAM per open session: about 6.5 KB (staging buffer 2.6 KB, codec buffers).
# Size: 50-sample blocks cut at each flush store the demo corpus session
# (tests/traces/demo_session.csv, 100 Hz, counts at 8192 LSB/g and 65.5
# LSB/dps) in 5.8 bytes per sample, 100-sample blocks in 5.4
# (`.venv/bin/python tests/host/test_logstore_host.py` prints the figures).
import os
import struct
import sys
from array import array

from heelcore.crc import crc32
from heelcore.record import LogWriter
from heelcore.ticks import ticks_diff

try:
    import micropython
    from micropython import const
except ImportError:  # CPython: the same code, interpreted
    from heelcore.mpcompat import const, micropython


_ENOENT = const(2)
_EBUSY = const(16)
_ENOSPC = const(28)
_FLUSH_MS = const(1700)  # flush the file this often (with its writes' stalls and the FIFO: <= 2 s at risk)
# The raw log's flush deadline, from the at-risk budget (issue 11.3: at
# most 2 s of samples lost at a power cut), on the age of the oldest sample
# not on the flash (its own tick: the FIFO's wait included): poll() comes
# at least every _READ_MAX_MS (app.py reads whole samples at least every
# _READ_MS = 100 ms, up to 120 ms + half a sample period at 25 Hz: 200 ms
# covers every rate), so it flushes once that age reaches 2000 - 200 ms;
# one erase at the datasheet maximum may still land in a flush's way (a
# write that needs its next block before the erase ahead could run): then
# 400 ms earlier (_RAW_FLUSH_MS); the erases ahead never do (poll() starts
# one only while that age + a 400 ms erase + a read period stays within
# the deadline). Measured at 25 Hz to 1 kHz: docs/DESIGN.md, "Session
# storage on the flash".
_AT_RISK_MS = const(2000)
_READ_MAX_MS = const(200)
_ERASE_MAX_MS = const(400)  # a 4 KB erase's stall at the datasheet maximum (45 ms typical)
_RAW_DUE_MS = const(_AT_RISK_MS - _READ_MAX_MS)  # 1800: the flush deadline (the oldest sample's age)
_RAW_FLUSH_MS = const(_RAW_DUE_MS - _ERASE_MAX_MS)  # 1400: the deadline when an erase may land in the way
_PAGE = const(256)  # the flash's program page (rawlog.PAGE)
_REC_FIXED = const(42)  # a SAMPLES record's bytes besides its samples' bit streams (record.py: 9 + 33)
_CUT_GAP = const(48)  # a block cut early ends this far before the page's end: the next record crosses it, young
_WRITE_CHUNK = const(1024)  # bytes of whole records written per poll (at least one record)
_MAX_RECS = const(32)  # records the staging buffer can hold
_NOTE_MIN_FREE = const(1024)  # bytes that must be free to write the flash_low note
_END_LEN = const(17)  # END record: sync 2, type 1, length 2, payload 8, crc 4
_ALL = const(0x3FFFFFFF)
_RESERVE_LEN = const(12288)  # the reserve file: room to close a session on a full flash (3 littlefs blocks)
_CRC_STEP = const(512)  # bytes read at a time for session_hash
_MPY = sys.implementation.name == "micropython"

COUNTER = "next_id"
FLUSH_MS = _FLUSH_MS
RAW_FLUSH_MS = _RAW_FLUSH_MS
RAW_DUE_MS = _RAW_DUE_MS
ERASE_MAX_MS = _ERASE_MAX_MS
STORE_ID = "store_id"
RESERVE = "reserve"


def _ctz(i):
    # trailing zero bits of i > 0 (littlefs's pointers per block)
    n = 0
    while not i & 1:
        i >>= 1
        n += 1
    return n


def _device_id():
    # the board's unique id (machine.unique_id(): flash id on rp2, MAC on
    # esp32) as hex; None where there is none (the unix port)
    try:
        import machine

        return "".join("%02x" % b for b in machine.unique_id())
    except Exception:  # noqa: BLE001 (ImportError, AttributeError)
        return None


def session_name(sid):
    """File name of session sid: s0007.hdl."""
    return "s%04d.hdl" % sid


def parse_name(name):
    """Session id from a file name like s0007.hdl, or -1 if it is not one."""
    if len(name) < 6 or name[0] != "s" or not name.endswith(".hdl"):
        return -1
    digits = name[1:-4]
    if not digits.isdigit():
        return -1
    return int(digits)


class SessionLog:
    """One session being written; made by SessionStore.start().

    Attributes: id, name (None for a detached log), full (logging stopped:
    flash low or a write error), closed, bytes_written (bytes handed to the
    file), durable (samples in the file at its last sync: what a power cut
    keeps), errors (OSErrors and MemoryErrors met), last_error.
    add_sample(seq, t_ms, ax, ay, az, gx, gy, gz): int16 counts; seq +1 per
    sample, t_ms a tick in ms. add_samples(seq, ts, src, n): n of them at
    once from arrays (record.LogWriter.add_samples). No heap allocation
    between block flushes.
    """

    def __init__(self, store, sid, name, f, header, now_ms, block_samples=50):
        self.id = sid
        self.name = name
        self.full = False
        self.closed = False
        self.bytes_written = 0
        self.durable = 0  # samples a power cut would keep (in the file at its last sync)
        self.errors = 0
        self.last_error = None
        self._store = store
        self._f = f
        self._closing = False  # writing the END record after a full flash
        self._ending = False  # the END record is staged
        self._last_t = now_ms
        self._dirty = False
        self._last_flush = now_ms
        # the records since the last sync, kept until a sync has made them
        # durable (littlefs drops what was written since its last sync when
        # a write fails: they are written again): _buf[0:_np], _nr records
        # ending at _ends[i]; the first _wr bytes are in the file already
        self._np = 0
        self._nr = 0
        self._wr = 0
        self._ends = array("i", bytes(4 * _MAX_RECS))
        self._births = array("i", bytes(4 * _MAX_RECS))  # per record: the tick of its oldest sample (at risk since)
        self._sws = array("i", bytes(4 * _MAX_RECS))  # per record: samples written up to its end
        self._age = 0  # ms the oldest sample not on the flash had waited at the last poll (raw log)
        self._bps16 = 96  # SAMPLES record bytes a sample x 16 besides _REC_FIXED (the last block's; 6 to start)
        self._flushing = False  # a flush is under way: write what is staged, then sync
        # where the file ends in littlefs's blocks (see _room): block index,
        # offset in it (pointers included), whether the next write copies
        # the last block (the first after a sync) and the block size
        self._bi = 0
        self._bo = 0
        self._synced = True
        self._bsz = store._bsize
        self._raw = store.raw is not None and f is not None and hasattr(f, "room")  # a rawlog.RawFile
        self._spent = False  # this poll's erase budget is spent
        self._flush_ms = _FLUSH_MS  # (littlefs's flush period; the raw log's free-space check)
        self.add_sample = self._drop
        self.add_samples = self._drop_many
        if f is None:  # detached: nothing is logged
            self.full = True
            self.closed = True
            self._cap = 0
            self._buf = bytearray(0)
            self._w = None
            return
        # staging room: two worst-case blocks (record.py sizes its buffer
        # the same way) plus events and notes; a flush starts early once
        # one worst-case block would no longer fit (high rates: 1 kHz)
        self._cap = 2 * (58 + 20 * block_samples) + 512
        self._blkmax = 58 + 20 * block_samples  # a block's record at most
        self._soon = self._cap - self._blkmax - 256
        self._buf = bytearray(self._cap)
        self._mv = memoryview(self._buf)
        # the header records (a few hundred bytes each) go straight to the
        # file if they do not fit the staging buffer (written and synced
        # while the writer is being made: _sync sees no writer yet)
        self._w = None
        self._w = LogWriter(self._stage, header, block_samples)
        self.add_sample = self._w.add_sample
        self.add_samples = self._w.add_samples
        self._write_all()
        self._sync()

    # -- what the app calls --

    def _drop(self, seq, t_ms, ax, ay, az, gx, gy, gz):
        # add_sample once logging has stopped
        pass

    def _drop_many(self, seq, ts, src, n):
        # add_samples once logging has stopped
        pass

    def add_event(self, json_line, t_ms=0):
        """One event JSON line (heelcore.events.to_json); t_ms is in the line."""
        w = self._w
        if self.full or w is None:
            return
        try:
            w.add_event(json_line)
        except MemoryError as e:
            self._fail(e)

    def add_gap(self, first_seq, count, reason):
        """count samples from first_seq were lost; reason: record.GAP_* code or name."""
        w = self._w
        if self.full or w is None:
            return
        try:
            w.add_gap(first_seq, count, reason)
        except MemoryError as e:
            self._fail(e)

    def add_side(self, side, t_ms):
        """The user switched to side ("left"/"right") at t_ms."""
        w = self._w
        if self.full or w is None:
            return
        try:
            w.add_side(side, t_ms)
        except MemoryError as e:
            self._fail(e)

    def add_note(self, t_ms, text):
        """A status note, e.g. "battery_low"."""
        w = self._w
        if self.full or w is None:
            return
        try:
            w.add_note(t_ms, text)
        except MemoryError as e:
            self._fail(e)

    @micropython.native
    def poll(self, now_ms, io=True):
        """Call every loop pass. io: flash writes may happen now (the app
        passes True right after it emptied the IMU's FIFO, so that a flash
        stall starts with an empty FIFO). With io: once _FLUSH_MS have
        passed since the last flush (in a raw log region: once the oldest
        sample not on the flash is due, _due), checks free space and
        encodes the partial block; writes the staged records (about one
        block, all of them when a flush is under way), then syncs the file
        once all are written. Each call does at most one flash operation that can erase
        (see _room). Never raises."""
        w = self._w
        if self.full or w is None:
            return
        self._last_t = now_ms
        try:
            if io and not self._flushing and self._due(w, now_ms):
                return  # logging stopped: the flash is low
            self._spent = False
            if io and (self._wr < self._np or self._flushing):
                was = self._flushing
                self._io()
                if was and not self._flushing and not self._dirty and self._store.low():
                    self._stop_low(w, now_ms)
                    return
            if io and self._raw and not self.full:
                self._raw_after()
        except Exception as e:  # noqa: BLE001 (statvfs, MemoryError: keep coaching)
            self._fail(e)

    def _due(self, w, now_ms):
        # poll()'s flush decision (bytecode: a board keeps this code in its
        # heap, and machine code takes ~4x the room); True when logging
        # stopped (the flash low)
        due = self._when(w, now_ms) if self._raw else (
            2 if ticks_diff(now_ms, self._last_flush) >= self._flush_ms or self._np >= self._soon else 0)
        if due == 1:
            w.flush()  # the block's record fills the page (written in this pass): one program for the page
        elif due:
            if due > 0:
                self._last_flush = now_ms
                # free space only with the file synced: littlefs counts
                # the blocks of a file written since its last sync twice
                # (lfs_fs_size walks the open file's blocks and the
                # committed ones), so a session stopped as "flash low"
                # with half the flash free; with writes pending the check
                # comes right after this flush's sync
                if self._dirty or not self._store.low():
                    w.flush()
                    self._flushing = True
                    return False
            self._stop_low(w, now_ms)
            return True
        return False

    def _when(self, w, now_ms):
        # In a raw log region, the flush from the at-risk budget instead of a timer:
        # whole pages are programmed as they fill (rawlog.py), and the
        # partly filled page only when its oldest sample would otherwise
        # wait too long. 2: flush now (the oldest sample not on the flash
        # has waited _AT_RISK_MS less a read period, less the longest erase
        # when the writes still to come may need a block not erased yet);
        # 1: cut the codec's block now, a little before it fills the page
        # (at low rates a page takes ~1.3 s: the record that crosses into
        # the next page must be young for that page to fill in time, so
        # the block ends _CUT_GAP short of the page's end and the next,
        # small one crosses it); 0: nothing; -1: the flash is low (checked
        # every _FLUSH_MS: the raw log's free space is a count, no sync
        # needed).
        if ticks_diff(now_ms, self._last_flush) >= self._flush_ms:
            self._last_flush = now_ms
            if self._store.low():
                return -1
        f = self._f
        n = w._n
        pend = self._np - self._wr  # staged, not yet in the file
        est = _REC_FIXED + n * self._bps16 // 16  # the block's record, were it cut now
        lim = _RAW_DUE_MS
        if not f.has_spare() and f.room() < pend + est + self._blkmax:
            lim -= _ERASE_MAX_MS
        # how long the oldest sample not on the flash has waited: the first
        # record kept (those on the flash are released), else the codec's block
        age = ticks_diff(now_ms, self._births[0]) if self._nr else ticks_diff(now_ms, w._t[0]) if n else 0
        self._age = age
        if age >= lim or age < -_READ_MAX_MS or self._np >= self._soon:  # (a tick ahead of the clock: not trusted)
            return 2
        if n < 2:
            return 0
        # left in the page the block's record would start in (a block's
        # header and payload are whole pages: rawlog.HDR + payload = 4096)
        room = (f.room() - pend) % _PAGE or _PAGE
        if est >= room and age + _READ_MAX_MS >= lim:
            return 1  # the record fills the page the oldest is in, now: no flush of a part filled page
        if est < (room - _CUT_GAP if room > _CUT_GAP + _REC_FIXED else room):
            return 0
        # the record would fill the page: cut it now, before it crosses,
        # where a whole block lasts half the deadline or more (25 and 50
        # Hz: a record crossing at a block's end would be too old for the
        # next page to fill in time; from 100 Hz blocks fill, are written
        # and fill pages long before a deadline: cutting early would only
        # add records)
        t = w._t
        return 1 if ticks_diff(t[n - 1], t[0]) * w._bs // (n - 1) * 2 >= lim else 0

    def _raw_after(self):
        # after the pass's writes: the raw log programs whole pages as they
        # fill, so the records now wholly on the flash are durable (kept
        # records released); then the next block erased ahead, in a pass
        # with no other erase and with the oldest sample not on the flash
        # young enough that a flush after the longest erase and a read
        # period is still in time (the age _due saw this pass, before the
        # writes): a sync never waits for an erase
        f = self._f
        if f is None:
            return
        k = f.on_flash - (self.bytes_written - self._wr)  # staged bytes on the flash
        if k > 0:
            self._release(k)
        if (not self._spent and not self._flushing and f.wants_spare()
                and self._age + _ERASE_MAX_MS + _READ_MAX_MS < _RAW_DUE_MS):
            f.prepare()

    def close(self, now_ms):
        """Write the partial block and the END record, flush and close the file.
        Never raises; a second call does nothing."""
        if self.closed:
            return
        w = self._w
        if not self.full and w is not None:
            try:
                self._last_t = now_ms
                self._ending = True
                w.close(now_ms)
                self._write_all()
                self._sync()
            except Exception as e:  # noqa: BLE001
                self._fail(e)
        self._close_file()
        self.closed = True
        self.full = True
        self.add_sample = self._drop
        self.add_samples = self._drop_many
        self._store._closed(self)

    # -- staging and writing --

    def _stage(self, b):
        # the codec's write_fn: keep a copy of the whole record b until a
        # sync has made it durable
        n = len(b)
        np = self._np
        if np + n > self._cap or self._nr >= _MAX_RECS:
            # poll() has not kept up (or a big record): write out and sync now
            self._write_all()
            self._sync()
            if self._f is None:
                return
            np = self._np
            if n > self._cap:  # bigger than the buffer: straight to the file
                self._write(b)
                return
        self._buf[np:np + n] = b
        np += n
        nr = self._nr
        self._ends[nr] = np
        w = self._w
        sw = w.samples_written if w is not None else 0
        t = self._last_t
        if n > 14 and b[2] == 2:  # a SAMPLES record: its first sample's tick, its sample count
            k = b[13]
            t = b[9] | b[10] << 8 | b[11] << 16 | b[12] << 24
            sw += k
            if k >= 8:
                self._bps16 = (n - _REC_FIXED) * 16 // k
        self._births[nr] = t
        self._sws[nr] = sw
        self._nr = nr + 1
        self._np = np

    def _write_all(self):
        # everything staged to the file, whatever it costs (start, close,
        # a full flash): no erase budget
        if self._wr < self._np and self._write(self._mv[self._wr:self._np]):
            self._wr = self._np

    def _release(self, k):
        # the first k staged bytes are durable: forget the records they hold
        ends = self._ends
        nr = self._nr
        i = 0
        while i < nr and ends[i] <= k:
            i += 1
        if i:
            if self._sws[i - 1] > self.durable:
                self.durable = self._sws[i - 1]
            k = ends[i - 1]
            rest = self._np - k
            if rest:
                self._buf[0:rest] = self._buf[k:self._np]
                births = self._births
                sws = self._sws
                for j in range(i, nr):
                    ends[j - i] = ends[j] - k
                    births[j - i] = births[j]
                    sws[j - i] = sws[j]
            self._np = rest
            self._nr = nr - i
            self._wr -= k

    def _io(self):
        # Write what is staged, then sync after a flush, with at most one
        # operation that can erase a flash block: each erase stalls the CPU
        # (45 ms, 400 ms at worst) and the IMU's FIFO, emptied just before,
        # must hold the samples until the next read; two in a row (806 ms)
        # overflow an MPU-6500's. A write that starts a littlefs block
        # erases, and so does the first write after a sync (littlefs copies
        # the partly filled last block into a new one); a write never goes
        # past the block's end (a record that does is written in two parts,
        # in two calls: never synced in between); a sync may compact a
        # metadata block (an erase). The rest waits for the next call,
        # after the next FIFO read.
        budget = 1
        limit = _ALL if self._flushing else _WRITE_CHUNK
        sent = 0
        ends = self._ends
        nr = self._nr
        while self._wr < self._np and sent < limit:
            room = self._room()
            if room < 0:  # this write erases
                if not budget:
                    return
                budget = 0
                self._spent = True
                room = -room
            start = self._wr
            cap = room if room < limit - sent else limit - sent
            i = 0
            while i < nr and ends[i] <= start:
                i += 1
            j = i
            while j < nr and ends[j] - start <= cap:
                j += 1
            if j > i:
                stop = ends[j - 1]  # whole records (the rest of a cut one included)
            elif sent or cap < room:
                return  # the byte limit: the next call goes on
            elif self._raw:
                # the raw log puts a record that does not fit the block's
                # rest into the next block: this write erases (unless the
                # block was erased ahead)
                if not self._f.has_spare():
                    if not budget:
                        return
                    budget = 0
                    self._spent = True
                stop = ends[i]
            else:
                stop = start + room  # this record crosses the block's end: up to it
            if not self._write(self._mv[start:stop]):
                return
            self._wr = stop
            sent += stop - start
        if self._flushing and self._wr >= self._np:
            if self._dirty:
                if not budget and not self._raw:  # (a raw log's sync programs a page: no erase)
                    return
                self._sync()
            self._flushing = False

    def _room(self):
        # Bytes the next write can take without going into another littlefs
        # block; negative when that write erases a block. littlefs (SPEC.md,
        # "CTZ skip-lists") never programs a block again once a sync has
        # committed it: the first write after a sync copies the partly
        # filled last block into a newly erased one; block i > 0 of a file
        # starts with ctz(i) + 1 pointers of 4 bytes; a write that reaches
        # a block's end goes on in a newly erased block. (On another
        # filesystem these are mere cut points.)
        if self._raw:
            f = self._f
            return f.room() if f is not None else 0
        b = self._bsz
        if self._bo >= b:  # at a block's end: the next byte starts a new block
            i = self._bi + 1
            return -(b - 4 * (_ctz(i) + 1))
        room = b - self._bo
        return -room if self._synced else room

    def _advance(self, n):
        # the file grew by n bytes: where it ends in littlefs's blocks
        b = self._bsz
        while n > 0:
            if self._bo >= b:
                self._bi += 1
                self._bo = 4 * (_ctz(self._bi) + 1)
            k = b - self._bo
            if k > n:
                k = n
            self._bo += k
            n -= k

    def _at(self, size):
        # the file is size bytes long (opened again): its end in littlefs's blocks
        self._bi = 0
        self._bo = 0
        self._advance(size)

    def _write(self, b):
        f = self._f
        if f is None:
            return False
        try:
            r = f.write(b)
        except Exception as e:  # noqa: BLE001 (OSError ENOSPC/EIO, MemoryError)
            self._fail(e)
            return False
        n = len(b)
        if r is not None and r != n:  # a short write: the flash is full
            self._fail(OSError(_ENOSPC))
            return False
        self.bytes_written += n
        self._dirty = True
        self._synced = False
        self._advance(n)
        return True

    def _sync(self):
        f = self._f
        if f is None:
            return
        try:
            f.flush()
            if _MPY and not self._raw and hasattr(os, "sync"):
                os.sync()
        except Exception as e:  # noqa: BLE001
            self._fail(e)
            return
        self._dirty = False
        self._synced = True
        if self._wr >= self._np and self._w is not None:
            self.durable = self._w.samples_written  # every record is in the file
        self._release(self._wr)  # a sync made everything written durable: forget it

    def _fail(self, e):
        # stop logging for good; the file keeps its whole records. On a full
        # flash the reserve file is given up first and the file reopened
        # (littlefs refuses a file handle after an error), so that what is
        # still in RAM and the END record reach the file: a closed session.
        if self._closing:
            self.full = True  # the second failure (while closing): give up
        else:
            self.errors += 1
            self.last_error = e
        if (not self._closing and self._w is not None and self.name is not None
                and e.args and e.args[0] == _ENOSPC and self._store._free_reserve()):
            self._closing = True
            self._close_file()
            try:
                f = self._store._reopen(self)
                self._f = f
                # what reached the file: littlefs drops everything since
                # its last sync (then all kept since is written again); a
                # POSIX file keeps a short write (then it goes on from
                # where the file ends, even mid-record)
                base = self.bytes_written - self._wr  # where the kept records start in the file
                try:
                    f.seek(0, 2)
                    size = f.tell()
                except Exception:  # noqa: BLE001 (no tell: what was written is there)
                    size = self.bytes_written
                landed = size - base
                if landed < 0 or landed > self._np:
                    landed = 0
                    size = base
                self._wr = landed
                self.bytes_written = size
                self._at(size)
                self._synced = True
                if not self._ending:
                    self._ending = True
                    self._w.close(self._last_t)
                self._write_all()
                self._sync()
            except Exception:  # noqa: BLE001 (the flash refuses even that)
                pass
        self.full = True
        self.add_sample = self._drop
        self.add_samples = self._drop_many
        self._np = 0
        self._nr = 0
        self._wr = 0
        self._close_file()

    def _close_file(self):
        f = self._f
        self._f = None
        if f is not None:
            try:
                f.close()
            except Exception as e:  # noqa: BLE001
                self.errors += 1
                self.last_error = e

    def _stop_low(self, w, now_ms):
        # flash below the reserve: give up the reserve file, write what is
        # in RAM, a note and END, then stop
        self._closing = True
        self._store._free_reserve()
        try:
            free = self._store.free_bytes()
            w.flush()
            w.add_note(now_ms, "flash_low free_kb=%d" % (free // 1024))
            self._ending = True
            w.close(now_ms)
            self._write_all()
            self._sync()
        except Exception as e:  # noqa: BLE001
            self._fail(e)
        self.full = True
        self.add_sample = self._drop
        self.add_samples = self._drop_many
        self._close_file()


class SessionStore:
    """The session files under root (created if missing).

    reserve_bytes: logging stops when less than this is free.
    statvfs: statvfs(path) -> tuple as os.statvfs (tests inject a fake).
    open_fn: open(path, mode) for the session file being written (tests
    inject files that count flushes or fail); reads use the built-in open.
    """

    def __init__(self, root="/sessions", reserve_bytes=32768, statvfs=None, open_fn=None, device_id=None,
                 reserve_file=_RESERVE_LEN, raw=None):
        if len(root) > 1 and root[-1] == "/":
            root = root[:-1]
        self.root = root
        # raw: a rawlog.RawLog (a raw flash region) for new sessions; the
        # sessions already in files under root stay listed and readable.
        # One that is not formatted is not used (never formatted here).
        self.raw = raw if raw is not None and raw.formatted else None
        if self.raw is not None:
            reserve_file = 0  # the raw log keeps its own reserve block
        self.reserve_bytes = reserve_bytes
        self._statvfs = statvfs if statvfs is not None else os.statvfs
        self._open = open_fn if open_fn is not None else open
        self._cur = None
        self._reserve_len = reserve_file
        self._bsize = 4096  # the filesystem's block size (littlefs: the flash's erase block)
        try:
            os.mkdir(root)
        except OSError:  # exists (or the parent is missing: listdir says)
            pass
        for name in (COUNTER + ".tmp", STORE_ID + ".tmp"):
            try:
                os.remove(self._file(name))  # left by a cut mid-update
            except OSError:
                pass
        try:
            bs = self._statvfs(root)[0]
            if 512 <= bs <= 65536:
                self._bsize = bs
        except (OSError, TypeError, IndexError):
            pass
        self._next = self._recover_next()
        self.device_id = device_id if device_id is not None else _device_id()
        self.store_id = self._recover_store_id()
        self._make_reserve()

    def _file(self, name):
        return self.root + "/" + name

    def _ids(self):
        out = []
        for name in os.listdir(self.root):
            sid = parse_name(name)
            if sid >= 0:
                out.append(sid)
        if self.raw is not None:
            for sid in self.raw.ids():
                if sid not in out:
                    out.append(sid)
        out.sort()
        return out

    def _raw_of(self, sid):
        # the raw log when session sid is in it (not a file under root), else None
        raw = self.raw
        if raw is None or not raw.has(sid):
            return None
        try:
            os.stat(self._file(session_name(sid)))
            return None  # a file of that id too (cannot happen: ids are never reused): the file
        except OSError:
            return raw

    def _reopen(self, log):
        # the session file opened again after a write error (see _fail)
        raw = self.raw
        if log._raw and raw is not None:
            return raw.append(log.id)
        return self._open(self._file(log.name), "ab")
    def _recover_next(self):
        ids = self._ids()
        nxt = ids[-1] + 1 if ids else 1
        try:
            with open(self._file(COUNTER), "rb") as f:
                text = f.read(24).decode()
            v = int(text.strip())
            if v > nxt:
                nxt = v
        except (OSError, ValueError):  # missing or corrupt: the names decide
            pass
        return nxt

    def _write_counter(self, value):
        self._write_small(COUNTER, "%d\n" % value)

    def _write_small(self, name, text):
        tmp = self._file(name + ".tmp")
        with open(tmp, "wb") as f:
            f.write(text.encode())
            f.flush()
        os.rename(tmp, self._file(name))

    def _recover_store_id(self):
        # a random id made when this store is first used: after a reflash
        # or a wiped /sessions the ids restart, the store id does not
        try:
            with open(self._file(STORE_ID), "rb") as f:
                text = f.read(24).decode().strip()
            if len(text) == 8 and int(text, 16) >= 0:
                return text
        except (OSError, ValueError):
            pass
        sid = "".join("%02x" % b for b in os.urandom(4))
        try:
            self._write_small(STORE_ID, sid + "\n")
        except OSError:
            pass  # a full or read-only flash: the id still differs from any other store's
        return sid

    def uid(self, sid):
        """The session's identity, unique across boards and reflashes:
        device id (machine.unique_id(), "0" if none), store id, session id."""
        return "%s-%s-%d" % (self.device_id or "0", self.store_id, sid)

    # -- the reserve: room to close a session on a full flash --

    def _make_reserve(self):
        # a file of _RESERVE_LEN bytes, given up (deleted) when a session
        # must be closed on a full flash; made again when there is room
        if not self._reserve_len:
            return True
        path = self._file(RESERVE)
        try:
            if os.stat(path)[6] >= self._reserve_len:
                return True
        except OSError:
            pass
        try:
            if self.free_bytes() < self._reserve_len + self.reserve_bytes:
                return False
            with open(path, "wb") as f:
                z = bytes(256)
                for _ in range(self._reserve_len // 256):
                    f.write(z)
            return True
        except OSError:
            try:
                os.remove(path)
            except OSError:
                pass
            return False

    def _free_reserve(self):
        if self.raw is not None:
            if self.raw.allow_reserve:
                return False
            self.raw.allow_reserve = True
            return True
        try:
            os.remove(self._file(RESERVE))
            return True
        except OSError:
            return False

    # -- space --

    def free_bytes(self):
        """Bytes free for sessions (never negative): in the raw log, or on
        the filesystem holding root."""
        if self.raw is not None:
            return self.raw.free_bytes()
        s = self._statvfs(self.root)
        # f_bavail: littlefs reports block_count - blocks in use, which
        # near full can go below 0 (-1 on a 32-bit port, or 2**32 - 1 read
        # as unsigned); anything outside 0..f_blocks means none is free
        avail = s[4]
        if avail < 0 or avail > s[2]:
            return 0
        return (s[1] or s[0]) * avail  # f_frsize (or f_bsize) x f_bavail

    def total_bytes(self):
        """Bytes the sessions' space holds in all: the raw log's payload, or
        the filesystem's size."""
        if self.raw is not None:
            return (self.raw.count - 1) * self.raw.payload
        v = self._statvfs(self.root)
        return (v[1] or v[0]) * v[2]

    def low(self):
        """True when less than reserve_bytes are free."""
        return self.free_bytes() < self.reserve_bytes

    def has_room(self):
        """Room to start recording again after the flash was low or full:
        twice the reserve free (so that it does not stop again at once),
        with the reserve file in place."""
        if self.raw is not None:
            self.raw.allow_reserve = False  # the reserve block is back
        elif not self._make_reserve():
            return False
        return self.free_bytes() >= 2 * self.reserve_bytes

    # -- sessions --

    def list(self):
        """[{"id", "name", "size", "state", "closed"}] sorted by id. state:
        "recording" for the session being written, "complete" for one that
        ends with an END record, "cut" for any other (power loss, full
        flash): finished, but without its END. closed: state == "complete"."""
        out = []
        cur = self.current()
        for sid in self._ids():
            name = session_name(sid)
            size = self.size(sid)
            if cur is not None and cur.id == sid:
                state = "recording"
            elif self._ends_cleanly(sid, size):
                state = "complete"
            else:
                state = "cut"
            out.append({"id": sid, "name": name, "size": size, "state": state, "closed": state == "complete"})
        return out

    def _ends_cleanly(self, sid, size):
        if size < 5 + _END_LEN:
            return False
        try:
            b = self.read_chunk(sid, size - _END_LEN, _END_LEN)
        except OSError:
            return False
        if len(b) != _END_LEN or b[0] != 0xE7 or b[1] != 0x5A or b[2] != 7 or b[3] != 8 or b[4] != 0:
            return False
        return struct.unpack_from("<I", b, 13)[0] == crc32(b, 2, 13)

    def digest(self, sid, length=-1):
        """(SHA-256 hex digest of the first length bytes of session sid (all
        of it if length < 0), file size). OSError(2) for an unknown id,
        ValueError if length is beyond the end. Not CRC-32: every record
        carries its own CRC-32, and a CRC-32 of bytes that include
        records with their CRC-32 cannot see a change inside a record
        (a message followed by its CRC divides by the same polynomial), so
        two different logs of one layout would have the same file CRC-32."""
        import hashlib
        from binascii import hexlify

        size = self.size(sid)
        if length < 0:
            length = size
        if length > size:
            raise ValueError("length %d beyond the end of session %d (%d bytes)" % (length, sid, size))
        buf = bytearray(_CRC_STEP)
        mv = memoryview(buf)
        h = hashlib.sha256()
        left = length
        raw = self._raw_of(sid)
        if raw is not None:
            pos = 0
            while left > 0:
                k = raw.read_into(sid, pos, mv[:_CRC_STEP if left > _CRC_STEP else left])
                if not k:
                    raise OSError(5)
                h.update(mv[:k])
                left -= k
                pos += k
            return hexlify(h.digest()).decode(), size
        with open(self._path(sid), "rb") as f:
            while left > 0:
                k = f.readinto(mv[:_CRC_STEP if left > _CRC_STEP else left])
                if not k:
                    raise OSError(5)  # the file shrank under us
                h.update(mv[:k])
                left -= k
        return hexlify(h.digest()).decode(), size

    def start(self, header, now_ms, block_samples=50):
        """Close the current session (if any) and start a new one: a new
        file with the header (see record.HEADER_KEYS). Returns a SessionLog;
        a detached one (full, id None) when the store is low or the file
        cannot be made; a closed, full one (with its id) if writing the
        header failed. block_samples: samples per block (record.LogWriter)."""
        if self._cur is not None:
            self._cur.close(now_ms)
        try:
            # without room (has_room: the reserve file in place and twice
            # reserve_bytes free) nothing is recorded: after a session
            # stopped on a low or full flash, the next one waits for space
            # as recording after a full flash does, rather than stopping
            # again at once, without its reserve
            if not self.has_room():
                return SessionLog(self, None, None, None, header, now_ms)
            sid = self._next
            self._write_counter(sid + 1)
            self._next = sid + 1
            name = session_name(sid)
            f = self.raw.create(sid) if self.raw is not None else self._open(self._file(name), "ab")
        except OSError as e:
            log = SessionLog(self, None, None, None, header, now_ms)
            log.errors = 1
            log.last_error = e
            return log
        h = {}
        for k in header:
            h[k] = header[k]
        h["device_id"] = self.device_id
        h["store_id"] = self.store_id
        h["session"] = sid
        h["uid"] = self.uid(sid)
        try:
            log = SessionLog(self, sid, name, f, h, now_ms, block_samples)
        except ValueError:  # header too long, bad block size: the caller's bug
            try:
                f.close()
                if self.raw is not None:
                    self.raw.delete(sid)
                else:
                    os.remove(self._file(name))
            except OSError:
                pass
            raise
        if log.full:  # the header write failed: nothing more will be logged
            log.close(now_ms)
        else:
            self._cur = log
        return log

    def current(self):
        """The SessionLog being written, or None."""
        return self._cur

    def _closed(self, log):
        if self._cur is log:
            self._cur = None

    def _path(self, sid):
        # path of an existing session file; OSError(2) for an unknown id
        path = self._file(session_name(sid))
        try:
            os.stat(path)
        except OSError:
            raise OSError(_ENOENT)
        return path

    def size(self, sid):
        """Size in bytes of session sid's file (OSError(2) if unknown)."""
        raw = self._raw_of(sid)
        if raw is not None:
            return raw.size(sid)
        return os.stat(self._path(sid))[6]

    def read_chunk(self, sid, offset, length):
        """length bytes of session sid from offset (fewer at the end; b"" at
        or after EOF). OSError(2) for an unknown id."""
        raw = self._raw_of(sid)
        if raw is not None:
            if length <= 0 or offset < 0:
                return b""
            buf = bytearray(length)
            k = raw.read_into(sid, offset, buf)
            return bytes(buf[:k]) if k < length else bytes(buf)
        path = self._path(sid)
        if length <= 0 or offset < 0 or offset >= os.stat(path)[6]:
            return b""
        with open(path, "rb") as f:
            f.seek(offset)
            return f.read(length)

    def delete(self, sid, size=None, sha256=None):
        """Remove session sid. OSError(16) for the session being written,
        OSError(2) for an unknown id. With size and sha256 (what the host's
        copy has): ValueError unless the file has exactly that size and
        SHA-256, so a copy that differs never costs the session."""
        if self._cur is not None and self._cur.id == sid:
            raise OSError(_EBUSY)
        raw = self._raw_of(sid)
        path = None if raw is not None else self._path(sid)
        if size is not None or sha256 is not None:
            d, n = self.digest(sid)
            if (size is not None and n != size) or (sha256 is not None and d != sha256):
                raise ValueError("session %d (%d bytes, SHA-256 %s...) is not the copy (%s bytes, SHA-256 %s...): "
                                 "not deleted" % (sid, n, d[:12], size, (sha256 or "any")[:12]))
        if raw is not None:
            raw.delete(sid)
        else:
            os.remove(path)
