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
#     store.list() -> [{"id": 7, "name": "s0007.hdl", "size": 81234, "closed": True}, ...]
#     store.read_chunk(7, offset, 512), store.size(7), store.delete(7), store.free_bytes()
#
# Files: ROOT/sNNNN.hdl (the id, at least 4 digits) and ROOT/next_id (the
# next id as decimal text). Ids only grow and are never reused: start()
# rewrites next_id (temp file + os.rename: a cut leaves the old or the new
# number) before it creates the session file. At boot the next id is the
# larger of next_id and one past the highest file name, so a missing or
# corrupt next_id is recovered from the names (only then could the id of a
# deleted newest session come back).
#
# Power-loss policy (what a cut can cost):
# - Only whole records are handed to the file: samples wait in RAM (the
#   LogWriter's block), encoded records wait in a staging buffer; poll()
#   writes completed records to the file opened with "ab".
# - poll() flushes the file (f.flush(), plus os.sync() on MicroPython) once
#   1000 ms have passed since the last flush, after writing out the partial
#   block and everything staged. A cut therefore loses at most the last
#   ~1 s (plus one loop period) of data.
# - Earlier session files are never opened for writing again, and a cut
#   file reads back with record.LogReader up to its last whole record.
#
# Error policy: the device keeps coaching whatever the flash does.
# - An OSError (ENOSPC, EIO, ...) or MemoryError while logging sets .full,
#   counts it in .errors (.last_error keeps it), closes the file and stops
#   logging; nothing raises to the caller of add_*/poll/close.
# - Once a second (at the flush) poll() asks the filesystem for free space
#   (statvfs; on littlefs this walks the file system, a few ms). Below
#   reserve_bytes it writes what is in RAM, a NOTE "flash_low free_kb=N" and
#   the END record (if 1 KB still fits), closes the file and sets .full. The
#   reserve keeps room for the config and the id counter.
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
# Size: 50-sample blocks cut at each 1 s flush store the demo corpus session
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
_FLUSH_MS = const(1000)  # flush the file at least this often
_WRITE_CHUNK = const(1024)  # bytes of whole records written per poll (at least one record)
_MAX_RECS = const(32)  # records the staging buffer can hold
_NOTE_MIN_FREE = const(1024)  # bytes that must be free to write the flash_low note
_END_LEN = const(17)  # END record: sync 2, type 1, length 2, payload 8, crc 4
_ALL = const(0x3FFFFFFF)
_MPY = sys.implementation.name == "micropython"

COUNTER = "next_id"


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
    file), errors (OSErrors and MemoryErrors met), last_error.
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
        self.errors = 0
        self.last_error = None
        self._store = store
        self._f = f
        self._dirty = False
        self._last_flush = now_ms
        self._np = 0  # bytes staged
        self._nr = 0  # records staged
        self._ends = array("i", bytes(4 * _MAX_RECS))  # end offset of each staged record
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
        # the same way) plus events and notes
        self._cap = 2 * (58 + 20 * block_samples) + 512
        self._buf = bytearray(self._cap)
        self._mv = memoryview(self._buf)
        # the header records (a few hundred bytes each) go straight to the
        # file if they do not fit the staging buffer
        self._w = LogWriter(self._stage, header, block_samples)
        self.add_sample = self._w.add_sample
        self.add_samples = self._w.add_samples
        self._drain(_ALL)
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
    def poll(self, now_ms):
        """Call every loop. Writes staged records (about one block per call);
        once _FLUSH_MS have passed since the last flush: checks free space,
        writes the partial block and everything staged, flushes the file.
        Never raises."""
        w = self._w
        if self.full or w is None:
            return
        try:
            if ticks_diff(now_ms, self._last_flush) >= _FLUSH_MS:
                self._last_flush = now_ms
                if self._store.low():
                    self._stop_low(w, now_ms)
                    return
                w.flush()
                self._drain(_ALL)
                if self._dirty:
                    self._sync()
            elif self._nr:
                self._drain(_WRITE_CHUNK)
        except Exception as e:  # noqa: BLE001 (statvfs, MemoryError: keep coaching)
            self._fail(e)

    def close(self, now_ms):
        """Write the partial block and the END record, flush and close the file.
        Never raises; a second call does nothing."""
        if self.closed:
            return
        w = self._w
        if not self.full and w is not None:
            try:
                w.close(now_ms)
                self._drain(_ALL)
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
        # the codec's write_fn: keep a copy of the whole record b until poll()
        n = len(b)
        np = self._np
        if np + n > self._cap or self._nr >= _MAX_RECS:
            # poll() has not kept up (or a big record): write out now
            self._drain(_ALL)
            if self._f is None:
                return
            np = 0
            if n > self._cap:
                self._write(b)
                return
        self._buf[np:np + n] = b
        np += n
        self._ends[self._nr] = np
        self._nr += 1
        self._np = np

    def _drain(self, limit):
        # write staged records from the start, whole records only, stopping
        # once limit bytes are reached (always at least one record)
        nr = self._nr
        if not nr:
            return
        ends = self._ends
        i = 1
        while i < nr and ends[i] <= limit:
            i += 1
        k = ends[i - 1]
        if not self._write(self._mv[0:k]):
            return
        rest = self._np - k
        if rest:
            self._buf[0:rest] = self._buf[k:self._np]
            for j in range(i, nr):
                ends[j - i] = ends[j] - k
        self._np = rest
        self._nr = nr - i

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
        return True

    def _sync(self):
        f = self._f
        if f is None:
            return
        try:
            f.flush()
            if _MPY and hasattr(os, "sync"):
                os.sync()
        except Exception as e:  # noqa: BLE001
            self._fail(e)
            return
        self._dirty = False

    def _fail(self, e):
        # stop logging for good; the file keeps its whole records
        self.errors += 1
        self.last_error = e
        self.full = True
        self.add_sample = self._drop
        self.add_samples = self._drop_many
        self._np = 0
        self._nr = 0
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
        # flash below the reserve: write what is in RAM, a note and END if
        # they fit, then stop
        try:
            free = self._store.free_bytes()
            if free >= self._np + _NOTE_MIN_FREE:
                w.flush()
                w.add_note(now_ms, "flash_low free_kb=%d" % (free // 1024))
                w.close(now_ms)
                self._drain(_ALL)
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

    def __init__(self, root="/sessions", reserve_bytes=32768, statvfs=None, open_fn=None):
        if len(root) > 1 and root[-1] == "/":
            root = root[:-1]
        self.root = root
        self.reserve_bytes = reserve_bytes
        self._statvfs = statvfs if statvfs is not None else os.statvfs
        self._open = open_fn if open_fn is not None else open
        self._cur = None
        try:
            os.mkdir(root)
        except OSError:  # exists (or the parent is missing: listdir says)
            pass
        try:
            os.remove(self._file(COUNTER + ".tmp"))  # left by a cut mid-update
        except OSError:
            pass
        self._next = self._recover_next()

    def _file(self, name):
        return self.root + "/" + name

    def _ids(self):
        out = []
        for name in os.listdir(self.root):
            sid = parse_name(name)
            if sid >= 0:
                out.append(sid)
        out.sort()
        return out

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
        tmp = self._file(COUNTER + ".tmp")
        with open(tmp, "wb") as f:
            f.write(("%d\n" % value).encode())
            f.flush()
        os.rename(tmp, self._file(COUNTER))

    # -- space --

    def free_bytes(self):
        """Bytes free on the filesystem holding root."""
        s = self._statvfs(self.root)
        return (s[1] or s[0]) * s[4]  # f_frsize (or f_bsize) x f_bavail

    def low(self):
        """True when less than reserve_bytes are free."""
        return self.free_bytes() < self.reserve_bytes

    # -- sessions --

    def list(self):
        """[{"id", "name", "size", "closed"}] sorted by id; closed: the file
        ends with an END record (False for the one being written and for
        sessions cut by a power loss)."""
        out = []
        cur = self.current()
        for sid in self._ids():
            name = session_name(sid)
            size = os.stat(self._file(name))[6]
            closed = False
            if cur is None or cur.id != sid:
                closed = self._ends_cleanly(self._file(name), size)
            out.append({"id": sid, "name": name, "size": size, "closed": closed})
        return out

    def _ends_cleanly(self, path, size):
        if size < 5 + _END_LEN:
            return False
        try:
            with open(path, "rb") as f:
                f.seek(size - _END_LEN)
                b = f.read(_END_LEN)
        except OSError:
            return False
        if len(b) != _END_LEN or b[0] != 0xE7 or b[1] != 0x5A or b[2] != 7 or b[3] != 8 or b[4] != 0:
            return False
        return struct.unpack_from("<I", b, 13)[0] == crc32(b, 2, 13)

    def start(self, header, now_ms, block_samples=50):
        """Close the current session (if any) and start a new one: a new
        file with the header (see record.HEADER_KEYS). Returns a SessionLog;
        a detached one (full, id None) when the store is low or the file
        cannot be made; a closed, full one (with its id) if writing the
        header failed. block_samples: samples per block (record.LogWriter)."""
        if self._cur is not None:
            self._cur.close(now_ms)
        try:
            if self.low():
                return SessionLog(self, None, None, None, header, now_ms)
            sid = self._next
            self._write_counter(sid + 1)
            self._next = sid + 1
            name = session_name(sid)
            f = self._open(self._file(name), "ab")
        except OSError as e:
            log = SessionLog(self, None, None, None, header, now_ms)
            log.errors = 1
            log.last_error = e
            return log
        try:
            log = SessionLog(self, sid, name, f, header, now_ms, block_samples)
        except ValueError:  # header too long, bad block size: the caller's bug
            try:
                f.close()
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
        return os.stat(self._path(sid))[6]

    def read_chunk(self, sid, offset, length):
        """length bytes of session sid from offset (fewer at the end; b"" at
        or after EOF). OSError(2) for an unknown id."""
        path = self._path(sid)
        if length <= 0 or offset < 0 or offset >= os.stat(path)[6]:
            return b""
        with open(path, "rb") as f:
            f.seek(offset)
            return f.read(length)

    def delete(self, sid):
        """Remove session sid. OSError(16) for the session being written,
        OSError(2) for an unknown id."""
        if self._cur is not None and self._cur.id == sid:
            raise OSError(_EBUSY)
        os.remove(self._path(sid))
