# Shared tests: plain functions run by pytest (CPython) and tests/run_unix.py
# (MicroPython unix port). The session store on flash (firmware/logstore.py):
# power cuts at every byte, ids, full flash, write errors, flush cadence, and
# no allocation on the per-sample path. Files go to a fresh folder under /tmp
# (os functions only: the unix port has no os.path, shutil or tempfile).
import gc
import os

import recsynth
from heaplock import heap_locked
from heelcore.record import GAP_FIFO_OVERFLOW, LogReader
from logstore import FLUSH_MS, SessionStore, parse_name, session_name

HEADER = {"firmware": "0.1.0", "board": "sim", "imu": "mpu6050", "rate_hz": 100,
          "accel_lsb_per_g": 8192, "gyro_lsb_per_dps": 65.5, "side": "left"}
EVENT = '{"type": "rep_start", "t_ms": %d, "rep": %d, "onset_ms": 20}'
T0 = 5000


def _rmtree(path):
    try:
        names = os.listdir(path)
    except OSError:
        return
    for n in names:
        p = path + "/" + n
        if os.stat(p)[0] & 0x4000:  # S_IFDIR
            _rmtree(p)
        else:
            os.remove(p)
    os.rmdir(path)


def tmpdir(tag):
    """A new empty folder /tmp/hd_logstore_<random>_<tag> (the parent of a store)."""
    rnd = "".join(["%02x" % b for b in os.urandom(4)])
    path = "/tmp/hd_logstore_%s_%s" % (rnd, tag)
    _rmtree(path)
    os.mkdir(path)
    return path


def read(path):
    with open(path, "rb") as f:
        return f.read()


def write(path, data):
    with open(path, "wb") as f:
        f.write(data)


class CountingFile:
    """Wraps a real file: counts flushes, keeps every write's length, and
    raises OSError(fail_errno) once more than budget bytes are written (after
    writing what still fits, as a full flash does)."""

    def __init__(self, path, mode, budget=-1, fail_errno=28):
        self.f = open(path, mode)
        self.flushes = 0
        self.writes = []
        self.budget = budget
        self.fail_errno = fail_errno

    def write(self, b):
        n = len(b)
        if self.budget >= 0 and n > self.budget:
            if self.budget:
                self.f.write(bytes(b[:self.budget]))
            self.budget = 0
            raise OSError(self.fail_errno)
        if self.budget >= 0:
            self.budget -= n
        self.f.write(b)
        self.writes.append(n)
        return n

    def flush(self):
        self.flushes += 1
        self.f.flush()

    def close(self):
        self.f.close()


class Opener:
    def __init__(self, budget=-1, fail_errno=28):
        self.files = []
        self.budget = budget
        self.fail_errno = fail_errno

    def __call__(self, path, mode):
        f = CountingFile(path, mode, self.budget, self.fail_errno)
        self.files.append(f)
        return f


class FakeStatvfs:
    """statvfs(path) with a settable free byte count (4 KB blocks)."""

    def __init__(self, free=1 << 20):
        self.free = free
        self.calls = 0

    def __call__(self, path):
        self.calls += 1
        b = self.free // 4096
        return (4096, 4096, 1000, b, b, 0, 0, 0, 0, 255)


def run_session(log, samples, t_start=T0, events=True):
    """Feed samples (recsynth tuples) with a poll per sample at t_start + t_ms;
    a few events, a side change and a gap along the way. Returns the last now."""
    now = t_start
    rep = 0
    for i, s in enumerate(samples):
        now = t_start + s[1]
        log.add_sample(s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7])
        if events and i % 60 == 30:
            rep += 1
            log.add_event(EVENT % (s[1], rep), s[1])
        if events and i == 100:
            log.add_side("right", s[1])
            log.add_gap(s[0], 3, GAP_FIFO_OVERFLOW)
        log.poll(now)
    return now


def record_ends(data):
    """[(record, end offset)] of the records LogReader finds in data."""
    out = []
    for rec in LogReader(data).records:
        p = rec[1]
        plen = data[p + 3] | (data[p + 4] << 8)
        out.append((rec, p + 9 + plen))
    return out


# -- basics --


def test_names():
    assert session_name(7) == "s0007.hdl" and session_name(12345) == "s12345.hdl"
    assert parse_name("s0007.hdl") == 7 and parse_name("s12345.hdl") == 12345
    for bad in ("next_id", "s.hdl", "sx001.hdl", "s0001.hdl.tmp", "t0001.hdl", "s0001.HDL"):
        assert parse_name(bad) == -1, bad


def test_round_trip_through_the_store():
    d = tmpdir("rt")
    store = SessionStore(d + "/sessions")
    assert store.list() == [] and store.current() is None
    S = recsynth.samples(230)
    log = store.start(HEADER, T0)
    assert log.id == 1 and log.name == "s0001.hdl" and store.current() is log
    now = run_session(log, S)
    log.add_note(S[-1][1], "battery_low")
    log.close(now + 10)
    assert store.current() is None and log.closed and log.errors == 0
    data = read(d + "/sessions/s0001.hdl")
    assert log.bytes_written == len(data)
    r = LogReader(data)
    assert r.errors == [] and r.complete and not r.truncated
    assert r.samples() == S
    assert r.header["imu"] == "mpu6050" and r.header["rate_hz"] == 100
    assert len(r.events()) == 4 and r.events()[0] == EVENT % (S[30][1], 1)
    assert r.sides() == [("right", S[100][1])] and r.gaps() == [(100, 3, "fifo_overflow")]
    assert r.notes() == [(S[-1][1], "battery_low")]
    assert store.list() == [{"id": 1, "name": "s0001.hdl", "size": len(data), "state": "complete", "closed": True}]
    # after close every method is a harmless no-op
    log.add_sample(999, 0, 1, 2, 3, 4, 5, 6)
    log.add_event("{}")
    log.poll(now + 5000)
    log.close(now + 6000)
    assert read(d + "/sessions/s0001.hdl") == data
    _rmtree(d)


def test_writes_are_whole_records():
    # every write the store makes ends on a record boundary, and one poll
    # writes at most about one block
    d = tmpdir("whole")
    op = Opener()
    store = SessionStore(d + "/sessions", open_fn=op)
    log = store.start(HEADER, T0)
    now = run_session(log, recsynth.samples(400))
    log.close(now)
    data = read(d + "/sessions/s0001.hdl")
    bounds = {5}  # after the magic
    for _, e in record_ends(data):
        bounds.add(e)
    # the duplicate header is not in LogReader's records: its end is the next start
    recs = LogReader(data).records
    bounds.add(recs[1][1])
    pos = 0
    for n in op.files[0].writes:
        pos += n
        assert pos in bounds, (pos, op.files[0].writes)
    assert pos == len(data)
    assert max(op.files[0].writes[2:]) <= 1024 + 600
    _rmtree(d)


# -- power cuts --


def _cut_fixture(d):
    # session 1: closed; session 2: a few hundred samples and events, not closed
    store = SessionStore(d + "/sessions")
    log1 = store.start(HEADER, T0)
    run_session(log1, recsynth.samples(60, seed=3), events=False)
    log1.close(T0 + 700)
    s1 = read(d + "/sessions/s0001.hdl")
    S = recsynth.samples(260, seed=5)
    log2 = store.start(HEADER, T0 + 1000)
    run_session(log2, S, t_start=T0 + 1000)
    log2.poll(T0 + 1000 + S[-1][1] + 2000)  # everything whole is on flash
    return store, log2, s1, S


def test_truncation_at_every_byte_reads_up_to_the_last_whole_record():
    d = tmpdir("cut")
    store, log2, s1, S = _cut_fixture(d)
    data = read(d + "/sessions/s0002.hdl")
    ends = record_ends(data)
    full = LogReader(data)
    assert full.samples() == S and not full.complete and len(full.events()) == 4
    bounds = {5, full.records[1][1]}  # after the magic, after the second header copy
    for _, e in ends:
        bounds.add(e)
    for n in range(len(data) + 1):
        r = LogReader(data[:n])
        want = [rec for rec, e in ends if e <= n]
        assert r.records == want, n
        assert r.skipped_bytes == 0, n
        assert r.truncated == (n < 5 or n not in bounds), n
    assert read(d + "/sessions/s0001.hdl") == s1
    _rmtree(d)


def test_restart_after_a_power_cut():
    # the cut session stays as it is; ids go on; session 1 is byte-identical
    d = tmpdir("restart")
    store, log2, s1, S = _cut_fixture(d)
    data = read(d + "/sessions/s0002.hdl")
    cut = data[:len(data) * 2 // 3 + 7]
    write(d + "/sessions/s0002.hdl", cut)  # what the flash kept
    store = SessionStore(d + "/sessions")
    assert [(x["id"], x["closed"]) for x in store.list()] == [(1, True), (2, False)]
    log3 = store.start(HEADER, 0)
    assert log3.id == 3
    run_session(log3, recsynth.samples(80, seed=9), t_start=0, events=False)
    log3.close(2000)
    assert read(d + "/sessions/s0001.hdl") == s1
    assert read(d + "/sessions/s0002.hdl") == cut
    r = LogReader(cut)
    assert r.truncated and r.header["imu"] == "mpu6050" and r.samples() == S[:len(r.samples())]
    assert len(r.samples()) >= 100
    assert [(x["id"], x["closed"]) for x in store.list()] == [(1, True), (2, False), (3, True)]
    _rmtree(d)


# -- ids --


def test_ids_monotonic_across_restarts_and_deletes():
    d = tmpdir("ids")
    root = d + "/sessions"
    store = SessionStore(root)
    for i in range(3):
        store.start(HEADER, T0 + i).close(T0 + i)
    assert [x["id"] for x in store.list()] == [1, 2, 3]
    store.delete(3)  # the newest
    store = SessionStore(root)  # restart
    log = store.start(HEADER, T0)
    assert log.id == 4
    log.close(T0)
    store.delete(4)
    log = store.start(HEADER, T0)  # same store object
    assert log.id == 5
    log.close(T0)
    # counter file lost: one past the highest name
    os.remove(root + "/next_id")
    store = SessionStore(root)
    assert store.start(HEADER, T0).id == 6
    store.current().close(T0)
    # corrupt counter, or one behind the names: the names win
    for junk in (b"", b"garbage", b"\xff\xfe", b"2\n"):
        write(root + "/next_id", junk)
        store = SessionStore(root)
        log = store.start(HEADER, T0)
        assert log.id == parse_name(store.list()[-2]["name"]) + 1, junk
        log.close(T0)
    # a counter ahead of the names is kept (newest sessions were deleted)
    write(root + "/next_id", b"40\n")
    write(root + "/next_id.tmp", b"4")  # a cut mid-update leaves this
    store = SessionStore(root)
    assert store.start(HEADER, T0).id == 40
    assert "next_id.tmp" not in os.listdir(root)
    # other files in the folder are ignored
    write(root + "/notes.txt", b"hello")
    assert [x["id"] for x in store.list()] == [1, 2, 5, 6, 7, 8, 9, 10, 40]
    _rmtree(d)


# -- downloads and deletes --


def test_read_chunk_size_delete():
    d = tmpdir("chunk")
    store = SessionStore(d + "/sessions")
    log = store.start(HEADER, T0)
    now = run_session(log, recsynth.samples(150))
    # the session being written can be read (what is on flash) but not deleted
    try:
        store.delete(1)
        assert False, "deleted the session being written"
    except OSError as e:
        assert e.args[0] == 16
    log.close(now)
    data = read(d + "/sessions/s0001.hdl")
    assert store.size(1) == len(data)
    got = b""
    off = 0
    while True:
        c = store.read_chunk(1, off, 97)
        if not c:
            break
        assert len(c) <= 97
        got += c
        off += len(c)
    assert got == data
    assert store.read_chunk(1, len(data), 10) == b"" and store.read_chunk(1, len(data) + 50, 10) == b""
    assert store.read_chunk(1, 0, 0) == b""
    for bad in (store.size, store.delete):
        try:
            bad(77)
            assert False
        except OSError as e:
            assert e.args[0] == 2
    try:
        store.read_chunk(77, 0, 10)
        assert False
    except OSError as e:
        assert e.args[0] == 2
    store.delete(1)
    assert store.list() == []
    _rmtree(d)


def test_start_closes_the_current_session():
    d = tmpdir("restart2")
    store = SessionStore(d + "/sessions")
    a = store.start(HEADER, T0)
    a.add_sample(0, 0, 1, 2, 3, 4, 5, 6)
    b = store.start(HEADER, T0 + 10)
    assert a.closed and b.id == 2 and store.current() is b
    r = LogReader(read(d + "/sessions/s0001.hdl"))
    assert r.complete and len(r.samples()) == 1
    b.close(T0 + 20)
    _rmtree(d)


# -- full flash and write errors --


def test_low_flash_stops_logging_with_a_note():
    d = tmpdir("low")
    fs = FakeStatvfs(1 << 20)
    store = SessionStore(d + "/sessions", reserve_bytes=32768, statvfs=fs)
    assert store.free_bytes() == 1 << 20 and not store.low()
    log = store.start(HEADER, T0)
    S = recsynth.samples(300)
    now = run_session(log, S[:180])
    assert not log.full
    fs.free = 20000  # someone else filled the flash
    assert store.low()
    for s in S[180:]:
        log.add_sample(s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7])
        log.poll(T0 + s[1])  # never raises
    log.poll(T0 + S[-1][1] + FLUSH_MS)  # the next flush at the latest finds the flash low
    assert log.full and log.errors == 0
    log.add_event("{}")
    log.poll(T0 + 100000)
    log.close(T0 + 100000)
    r = LogReader(read(d + "/sessions/s0001.hdl"))
    assert r.errors == [] and r.complete
    assert r.notes() and r.notes()[0][1] == "flash_low free_kb=16"  # 4 whole blocks of 4 KB
    got = r.samples()
    assert got == S[:len(got)] and len(got) >= 180
    assert store.list()[0]["closed"]
    # no flash left at all: a new session is a detached, full log
    fs.free = 4096
    log2 = store.start(HEADER, T0)
    assert log2.id is None and log2.full and store.current() is None
    log2.add_sample(0, 0, 1, 2, 3, 4, 5, 6)
    log2.add_event("{}")
    log2.poll(T0 + 5000)
    log2.close(T0 + 6000)
    assert [x["id"] for x in store.list()] == [1]
    fs.free = 1 << 20
    assert store.start(HEADER, T0).id == 2
    _rmtree(d)


def test_a_start_after_a_low_stop_waits_for_room():
    # a session stopped on a low flash gave up the reserve file; a new one
    # starts only with room again (the reserve back, twice the margin free),
    # not with a sliver over the margin, where it would stop again at once
    # without its reserve (littlefs frees the blocks a file held twice while
    # written once it is closed, so the free space rises after each stop)
    d = tmpdir("room")
    fs = FakeStatvfs(1 << 20)
    store = SessionStore(d + "/sessions", reserve_bytes=32768, statvfs=fs)
    log = store.start(HEADER, T0)
    now = run_session(log, recsynth.samples(100), events=False)
    fs.free = 20000
    log.poll(now + 2000)
    assert log.full
    log.close(now + 2000)
    fs.free = 40000  # over the margin (32 KB), short of room for the reserve and twice the margin
    log2 = store.start(HEADER, now + 3000)
    assert log2.id is None and log2.full and store.current() is None
    assert [x["id"] for x in store.list()] == [1]
    fs.free = 1 << 20
    log3 = store.start(HEADER, now + 4000)
    assert log3.id == 2 and not log3.full and "reserve" in os.listdir(d + "/sessions")
    log3.close(now + 5000)
    _rmtree(d)


def test_low_flash_without_room_for_the_note():
    d = tmpdir("low2")
    fs = FakeStatvfs(1 << 20)
    store = SessionStore(d + "/sessions", statvfs=fs)
    log = store.start(HEADER, T0)
    now = run_session(log, recsynth.samples(120), events=False)
    fs.free = 100
    log.poll(now + 1000)
    assert log.full and log.errors == 0
    r = LogReader(read(d + "/sessions/s0001.hdl"))
    # the reserve file was given up: the session still closes cleanly
    assert r.complete and r.errors == [] and r.notes()[0][1] == "flash_low free_kb=0"
    assert r.samples() == recsynth.samples(120)
    assert "reserve" not in os.listdir(d + "/sessions")
    _rmtree(d)


def _write_error_case(errno, budget):
    d = tmpdir("enospc")
    op = Opener(budget=budget, fail_errno=errno)
    store = SessionStore(d + "/sessions", open_fn=op)
    log = store.start(HEADER, T0)
    S = recsynth.samples(400)
    run_session(log, S)  # the write fails part way: nothing raises
    assert log.full and log.errors == 1 and log.last_error.args[0] == errno
    log.close(T0 + 9000)
    assert log.errors == 1 and store.current() is None
    r = LogReader(read(d + "/sessions/s0001.hdl"))
    assert r.header["imu"] == "mpu6050"
    got = r.samples()
    assert got == S[:len(got)] and 0 < len(got) < 400
    # the next session still works (the flash got room again)
    op.budget = -1
    log = store.start(HEADER, T0)
    assert log.id == 2 and not log.full
    log.close(T0)
    _rmtree(d)
    return r


def test_enospc_while_writing():
    # the flash fills mid-session: the reserve file is given up and the file
    # reopened, so what was in RAM and the END record still reach it; the
    # part of a record the failed write left is skipped by the reader
    r = _write_error_case(28, 1500)
    assert r.complete and not r.truncated and 0 < r.skipped_bytes < 1500
    assert len(r.samples()) > 100


def test_eio_while_writing():
    r = _write_error_case(5, 2000)
    assert not r.complete and r.skipped_bytes == 0


def test_error_writing_the_header_gives_a_full_log():
    d = tmpdir("hdrfail")
    op = Opener(budget=3)
    store = SessionStore(d + "/sessions", open_fn=op)
    log = store.start(HEADER, T0)
    assert log.full and log.closed and log.errors == 1 and log.id == 1
    assert store.current() is None
    log.add_sample(0, 0, 1, 2, 3, 4, 5, 6)
    log.poll(T0 + 2000)
    log.close(T0 + 3000)
    assert store.current() is None
    _rmtree(d)


# -- flush cadence --


def _cadence(t0):
    F = FLUSH_MS  # < 2 s: with the FIFO read, at most 2 s of samples at risk
    assert 1000 <= F <= 1850
    d = tmpdir("flush")
    op = Opener()
    store = SessionStore(d + "/sessions", open_fn=op)
    log = store.start(HEADER, t0)
    f = op.files[0]
    assert f.flushes == 1  # the header is on flash at once
    S = recsynth.samples(100)
    for s in S[:60]:  # one block (50) written, 10 samples in RAM
        log.add_sample(s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7])
    log.poll((t0 + 500) & 0x3FFFFFFF)
    assert len(f.writes) == 2 and f.flushes == 1  # magic + header x2, block
    log.poll((t0 + F - 1) & 0x3FFFFFFF)
    assert f.flushes == 1
    log.poll((t0 + F) & 0x3FFFFFFF)
    assert f.flushes == 2 and len(f.writes) == 3  # the partial block went out
    r = LogReader(read(d + "/sessions/s0001.hdl"))
    assert r.samples() == S[:60]
    log.poll((t0 + 2 * F - 1) & 0x3FFFFFFF)
    assert f.flushes == 2
    log.poll((t0 + 2 * F) & 0x3FFFFFFF)  # nothing new: no flush needed
    assert f.flushes == 2
    log.add_event("{}")
    log.poll((t0 + 2 * F + 100) & 0x3FFFFFFF)  # written, not flushed yet
    assert f.flushes == 2 and len(f.writes) == 4
    log.poll((t0 + 3 * F - 1) & 0x3FFFFFFF)
    assert f.flushes == 2
    log.poll((t0 + 3 * F) & 0x3FFFFFFF)
    assert f.flushes == 3
    log.close((t0 + 3 * F + 100) & 0x3FFFFFFF)
    assert f.flushes == 4
    _rmtree(d)


def test_flush_cadence():
    _cadence(T0)


def test_flush_cadence_across_the_tick_wrap():
    _cadence((1 << 30) - 400)


# -- memory --


def test_no_allocation_on_the_steady_path():
    d = tmpdir("heap")
    store = SessionStore(d + "/sessions", statvfs=FakeStatvfs())
    log = store.start(HEADER, T0)
    S = recsynth.samples(150)
    for s in S[:50]:  # one full block, written by the poll
        log.add_sample(s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7])
    log.poll(T0 + 600)
    warm = S[50:60]
    counted = S[60:80]
    locked_part = S[80:99]  # up to, not including, the next block's end
    now = T0 + 700
    for s in warm:
        log.add_sample(s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7])
        log.poll(now)
    # gc.mem_alloc also sees call frames that go to the heap (heap_lock
    # makes MicroPython put those on the C stack instead)
    if hasattr(gc, "mem_alloc"):
        gc.collect()
        gc.disable()
        try:
            before = gc.mem_alloc()
            for s in counted:
                log.add_sample(s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7])
                log.poll(now)
            grew = gc.mem_alloc() - before
        finally:
            gc.enable()
        assert grew == 0, grew
    else:
        for s in counted:
            log.add_sample(s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7])
            log.poll(now)

    def queue():
        for s in locked_part:
            log.add_sample(s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7])
            log.poll(now)

    heap_locked(queue)
    log.close(T0 + 800)
    assert LogReader(read(d + "/sessions/s0001.hdl")).samples() == S[:99]
    _rmtree(d)


# -- on a real littlefs (the boards' filesystem), unix port only --
#
# The store runs on a littlefs image in RAM (vfs.VfsLfs2 over a block device
# class). Power cuts are snapshots of the flash taken before every program
# or erase, one of them with the program half done; each snapshot must mount
# and keep every flushed sample, the closed session byte for byte and the
# ids. CPython has no vfs module: these tests then pass without checking.

try:
    import vfs
except ImportError:  # CPython
    vfs = None


class RamFlash:
    """A littlefs block device in RAM (buf: reuse a bytearray as the image).
    snap: snapshot the image before every program/erase op (programs whose op
    number is in torn are cut half way in their snapshot)."""

    def __init__(self, block_size=512, blocks=64, buf=None):
        self.bs = block_size
        self.data = buf if buf is not None else bytearray(block_size * blocks)
        self.ops = 0
        self.snap = False
        self.snaps = []
        self.torn = ()

    def readblocks(self, block, buf, off=0):
        a = block * self.bs + off
        buf[:] = self.data[a:a + len(buf)]

    def writeblocks(self, block, buf, off=0):
        a = block * self.bs + off
        self.ops += 1
        if self.snap:
            if self.ops in self.torn:
                half = len(buf) // 2
                keep = bytes(self.data[a + half:a + len(buf)])
                self.data[a:a + half] = buf[:half]
                self.snaps.append((self.ops, bytes(self.data)))
                self.data[a + half:a + len(buf)] = keep
            else:
                self.snaps.append((self.ops, bytes(self.data)))
        self.data[a:a + len(buf)] = buf

    def ioctl(self, op, arg):
        if op == 4:
            return len(self.data) // self.bs
        if op == 5:
            return self.bs
        if op == 6:  # erase
            self.ops += 1
            if self.snap:
                self.snaps.append((self.ops, bytes(self.data)))
            a = arg * self.bs
            for i in range(a, a + self.bs):
                self.data[i] = 0xFF
        return 0


def _mount(flash, tag):
    point = "/hdlfs_%s_%s" % ("".join(["%02x" % b for b in os.urandom(3)]), tag)
    vfs.mount(vfs.VfsLfs2(flash), point)
    return point


def _lfs():
    return vfs is not None and hasattr(vfs, "VfsLfs2")


# Long-lived sample lists are built only after the flash images: on the unix
# port a list built between float temporaries scatters over the heap and
# leaves no room for a 32 KB image.


def test_power_cuts_on_littlefs():
    if not _lfs():
        return
    flash = RamFlash(512, 64)
    spare = RamFlash(512, 64)  # each snapshot is copied into it and mounted
    vfs.VfsLfs2.mkfs(flash)
    mnt = _mount(flash, "cut")
    op = Opener()
    n = 330
    try:
        store = SessionStore(mnt + "/sessions", reserve_bytes=4096, open_fn=op, reserve_file=1024)
        log = store.start(HEADER, 0)
        run_session(log, recsynth.iter_samples(120, seed=2), t_start=0, events=False)
        log.close(1300)
        s1 = read(mnt + "/sessions/s0001.hdl")
        s1_done = flash.ops
        flash.snap = True
        flash.torn = (s1_done + 7, s1_done + 19, s1_done + 40)
        log = store.start(HEADER, 2000)
        # (flash ops when a flush returned, samples it made durable: those
        # added up to two polls before it, the flush's tick; one erase a
        # poll can defer the sync by two)
        durable = []
        f = op.files[-1]
        i = 0
        for s in recsynth.iter_samples(n, seed=4):
            log.add_sample(s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7])
            if i % 90 == 45:
                log.add_event(EVENT % (s[1], i), s[1])
            i += 1
            k = f.flushes
            log.poll(2000 + 2 * s[1])  # (twice the samples' pace: more flushes)
            if f.flushes != k:
                durable.append((flash.ops, i - 2))
        flash.snap = False
        assert len(durable) >= 3 and not log.full, (durable, log.errors, log.last_error)
        log.close(9000)  # (a littlefs file left open would be closed by the GC)
    finally:
        vfs.umount(mnt)
    assert len(flash.snaps) > 20
    S = recsynth.samples(n, seed=4)
    for k, image in flash.snaps:
        spare.data[:] = image
        m = _mount(spare, "img")
        try:
            st = SessionStore(m + "/sessions", reserve_bytes=1024, reserve_file=0)
            names = [x["name"] for x in st.list()]
            assert names[0] == "s0001.hdl" and read(m + "/sessions/s0001.hdl") == s1, k
            got = []
            if "s0002.hdl" in names:
                r = LogReader(read(m + "/sessions/s0002.hdl"))
                assert r.skipped_bytes == 0 and (r.errors == [] or r.truncated), (k, r.errors)
                got = r.samples()
                assert got == S[:len(got)], k
            need = max([c for ops, c in durable if ops < k] or [0])
            assert len(got) >= need, (k, len(got), need)
            nxt = st.start(HEADER, 0)
            assert nxt.id >= 2 and nxt.id > parse_name(names[-1]), (k, names, nxt.id)
            nxt.close(0)
        finally:
            vfs.umount(m)


def test_full_littlefs():
    if not _lfs():
        return
    flash = RamFlash(512, 36)  # 18 KB: room for about 3500 samples
    for reserve in (4096, 0):  # the reserve stops it; or littlefs's own ENOSPC
        vfs.VfsLfs2.mkfs(flash)
        mnt = _mount(flash, "full")
        try:
            store = SessionStore(mnt + "/sessions", reserve_bytes=reserve, reserve_file=2048)
            log = store.start(HEADER, 0)
            t = 0
            for s in recsynth.iter_samples(6000, seed=6):
                log.add_sample(s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7])
                log.poll(s[1])
                t = s[1]
            assert log.full, reserve
            assert log.errors == (0 if reserve else 1), (reserve, log.errors, log.last_error)
            log.close(t)
            r = LogReader(read(mnt + "/sessions/s0001.hdl"))
            got = r.samples()
            assert r.skipped_bytes == 0 and len(got) > 500, (reserve, len(got))
            i = 0
            for s in recsynth.iter_samples(len(got), seed=6):
                assert got[i] == s, i
                i += 1
            if reserve:
                assert r.complete and r.notes()[0][1].startswith("flash_low free_kb=")
        finally:
            vfs.umount(mnt)


# -- free space, identity, states, verified deletes (issues 11.5, 13.1-3) --


class BadStatvfs:
    """littlefs near full on a 32-bit port: f_bavail = blocks - used < 0,
    seen as -1 or as 2**32 - 1."""

    def __init__(self, avail):
        self.avail = avail

    def __call__(self, path):
        return (4096, 4096, 352, self.avail, self.avail, 0, 0, 0, 0, 255)


def test_free_bytes_never_negative_near_full():
    d = tmpdir("bavail")
    for avail in (-1, -3, 0xFFFFFFFF, 353):
        store = SessionStore(d + "/sessions", statvfs=BadStatvfs(avail))
        assert store.free_bytes() == 0 and store.low(), avail
        log = store.start(HEADER, T0)
        assert log.id is None and log.full  # no recording on a full flash
    store = SessionStore(d + "/sessions", statvfs=BadStatvfs(100))
    assert store.free_bytes() == 409600
    _rmtree(d)


def test_sessions_carry_a_unique_identity():
    # two stores on boards with the same name, both starting at id 1: their
    # sessions differ by store id (random at first use), and a reflash
    # that wipes /sessions gives a new store id
    d = tmpdir("uid")
    os.mkdir(d + "/a")
    os.mkdir(d + "/b")
    a = SessionStore(d + "/a/sessions", device_id="e66138528361a52c")
    b = SessionStore(d + "/b/sessions", device_id="e66138528361a52c")
    la = a.start(HEADER, T0)
    lb = b.start(HEADER, T0)
    la.close(T0 + 10)
    lb.close(T0 + 10)
    ha = LogReader(read(d + "/a/sessions/s0001.hdl")).header
    hb = LogReader(read(d + "/b/sessions/s0001.hdl")).header
    assert ha["session"] == hb["session"] == 1
    assert ha["device_id"] == "e66138528361a52c" and len(ha["store_id"]) == 8
    assert ha["uid"] == "e66138528361a52c-%s-1" % ha["store_id"] == a.uid(1)
    assert ha["uid"] != hb["uid"]
    assert SessionStore(d + "/a/sessions").store_id == a.store_id  # kept across boots
    for n in os.listdir(d + "/a/sessions"):
        os.remove(d + "/a/sessions/" + n)
    assert SessionStore(d + "/a/sessions").store_id != a.store_id
    _rmtree(d)


def test_every_file_but_the_current_one_is_a_finished_session():
    # issue 13.3: a session cut by a power loss (no END) is "cut", not "recording"
    d = tmpdir("states")
    store, log2, s1, S = _cut_fixture(d)
    assert [(x["id"], x["state"]) for x in store.list()] == [(1, "complete"), (2, "recording")]
    store = SessionStore(d + "/sessions")  # the power came back
    assert [(x["id"], x["state"]) for x in store.list()] == [(1, "complete"), (2, "cut")]
    log3 = store.start(HEADER, T0)
    assert [(x["id"], x["state"]) for x in store.list()] == [(1, "complete"), (2, "cut"), (3, "recording")]
    log3.close(T0 + 100)
    assert store.list()[2]["state"] == "complete"
    _rmtree(d)


def _sha(b):
    import hashlib
    from binascii import hexlify

    return hexlify(hashlib.sha256(b).digest()).decode()


def test_digest_and_verified_delete():
    d = tmpdir("crc")
    store, log2, s1, S = _cut_fixture(d)
    data = read(d + "/sessions/s0001.hdl")
    assert store.digest(1) == (_sha(data), len(data))
    assert store.digest(1, 100) == (_sha(data[:100]), len(data))
    assert store.digest(1, 0) == (_sha(b""), len(data))
    try:
        store.digest(1, len(data) + 1)
        assert False
    except ValueError:
        pass
    # a copy that differs in one byte, or in size, never deletes the session
    other = bytearray(data)
    other[300] ^= 1
    for size, h in ((len(data), _sha(bytes(other))), (len(data) - 1, _sha(data))):
        try:
            store.delete(1, size, h)
            assert False
        except ValueError as e:
            assert "not deleted" in str(e)
        assert read(d + "/sessions/s0001.hdl") == data
    store.delete(1, len(data), _sha(data))
    assert [x["id"] for x in store.list()] == [2]
    _rmtree(d)


def test_a_file_crc32_is_blind_inside_records():
    # why session_hash is a SHA-256: two logs that differ inside a record
    # (each record with its own good CRC-32) have the same CRC-32 as files
    from heelcore.crc import crc32
    from heelcore.record import LogWriter

    def log(board):
        out = []
        w = LogWriter(out.append, {"board": board})
        w.close(0)
        return b"".join([bytes(x) for x in out])

    a, b = log("pico A"), log("pico B")
    assert a != b and len(a) == len(b)
    assert crc32(a) == crc32(b)
    assert _sha(a) != _sha(b)
