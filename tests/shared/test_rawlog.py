# Shared tests (CPython and the MicroPython unix port): the raw log region
# (firmware/rawlog.py) on the sim's NOR flash (firmware/sim/flash.py), through
# the session store (firmware/logstore.py) as the app uses it: wear counted
# in bytes (not timed), power cuts at every flash operation (torn pages
# included), full region, deletes, the littlefs sessions already stored.
import os

import recsynth
from heelcore.record import LogReader
from logstore import ERASE_MAX_MS, RAW_DUE_MS, SessionStore
from rawlog import HDR, PAGE, RawLog
from sim.flash import BLOCK, Region, SimFlash
from test_logstore import HEADER, T0, run_session, tmpdir


class Cut(BaseException):
    """The power went (raised by CutFlash at its chosen operation)."""


class CutFlash:
    """A block device over a Region that loses power at operation number
    `at` (programs and erases counted from 0): a program is torn (torn > 0:
    its first `torn` bytes reach the flash, as a page program cut part way;
    torn < 0: every byte it programs gets only some of its 0 bits, the
    cells a cut left half programmed), an erase leaves the block half
    erased; then it raises Cut. at < 0: never."""

    def __init__(self, region, at=-1, torn=0):
        self.r = region
        self.at = at
        self.torn = torn
        self.ops = 0

    def readblocks(self, b, buf, off=0):
        self.r.readblocks(b, buf, off)

    def _tick(self):
        n = self.ops
        self.ops += 1
        return n == self.at

    def writeblocks(self, b, buf, off=None):
        if self._tick():
            if self.torn < 0:
                # each byte the op programs (not 0xFF) gets some of its 0
                # bits; a 0xFF byte programs no cell: its byte stays as it is
                page = bytearray(buf)
                for i in range(len(page)):
                    if page[i] != 0xFF:
                        page[i] |= (i * 73 + 0x35) & 0xFF
                self.r.writeblocks(b, page, off)
            elif self.torn:
                page = bytearray(len(buf))
                self.r.readblocks(b, page, off)
                k = self.torn if self.torn < len(buf) else len(buf)
                for i in range(k):
                    page[i] = buf[i]  # the old bytes there are erased or equal: a NOR program of a prefix
                self.r.writeblocks(b, page, off)
            raise Cut()
        self.r.writeblocks(b, buf, off)

    def ioctl(self, op, arg):
        if op == 6 and self._tick():
            self.r.ioctl(6, arg)
            half = bytearray(b"\x5a" * (BLOCK // 2))  # half erased: the rest still holds (other) bits
            try:
                self.r.writeblocks(arg, half, BLOCK // 2)
            except OSError:
                pass
            raise Cut()
        return self.r.ioctl(op, arg)


def flash(tag, blocks=64):
    d = tmpdir(tag)
    return d, SimFlash(d + "/flash.img", blocks=blocks)


def raw_store(d, dev, reserve=8192, fmt=True):
    if fmt:
        RawLog.format(dev)
    return SessionStore(d + "/sessions", reserve, device_id="ab12", raw=RawLog(dev))


def read_all(st, sid):
    out = bytearray()
    while len(out) < st.size(sid):
        out += st.read_chunk(sid, len(out), 700)
    return bytes(out)


def test_the_sim_flash_is_nor_whole_pages_and_only_1_to_0():
    d, fl = flash("nor", 4)
    page = bytearray(b"\xff" * PAGE)
    page[0] = 0x0F
    fl.writeblocks(1, page, 0)  # erased block: programs
    page[0] = 0x0E
    fl.writeblocks(1, page, 0)  # a programmed page again, bits 1 -> 0 only: NOR allows it
    page[0] = 0x1E
    try:
        fl.writeblocks(1, page, 0)  # bit 4 from 0 to 1 without an erase
        raise AssertionError("0 -> 1 programmed")
    except OSError as e:
        assert e.args[0] == 5
    page[0] = 0xFF
    page[1] = 0x42
    fl.writeblocks(1, page, 0)  # 0xFF programs nothing: byte 0 stays, byte 1 is programmed
    back = bytearray(2)
    fl.readblocks(1, back, 0)
    assert back == bytearray(b"\x0e\x42")
    for off, n in ((16, PAGE), (0, 100)):
        try:
            fl.writeblocks(1, bytearray(b"\xff" * n), off)  # not whole pages at a page offset
            raise AssertionError("a partial page programmed")
        except OSError as e:
            assert e.args[0] == 22
    fl.ioctl(6, 1)
    fl.writeblocks(1, page, 0)  # after the erase: fine
    assert fl.erases == 1 and fl.program_bytes == 4 * PAGE and fl.nor_errors == 1
    reg = Region(fl, 2, 2)
    try:
        reg.ioctl(6, 2)  # past the region
        raise AssertionError("erased outside the region")
    except OSError:
        pass


def test_a_session_round_trips_and_a_reboot_finds_it():
    d, fl = flash("rt")
    dev = Region(fl, 0, 32)
    st = raw_store(d, dev)
    log = st.start(HEADER, T0)
    end = run_session(log, recsynth.samples(3000))
    log.close(end)
    data = read_all(st, log.id)
    r = LogReader(data)
    assert r.complete and len(r.samples()) == 3000 and r.errors == []
    assert os.listdir(d + "/sessions").count("s0001.hdl") == 0  # not a littlefs file: the raw log's
    st2 = SessionStore(d + "/sessions", 8192, device_id="ab12", raw=RawLog(dev))  # the next boot
    assert st2.list() == [{"id": 1, "name": "s0001.hdl", "size": len(data), "state": "complete", "closed": True}]
    assert read_all(st2, 1) == data and st2.digest(1) == st.digest(1)
    log2 = st2.start(HEADER, T0)
    assert log2.id == 2
    log2.close(T0 + 100)
    st2.delete(1, size=len(data), sha256=st2.digest(1)[0])
    st3 = SessionStore(d + "/sessions", 8192, device_id="ab12", raw=RawLog(dev))
    assert [s["id"] for s in st3.list()] == [2]
    for raw in (st2.raw, st3.raw):  # the free count kept as blocks change hands = a recount
        assert raw.free_blocks() == len([b for b in range(1, raw.count) if raw._used[b] == 0xFFFF]) == raw.count - 2
    assert st3.start(HEADER, T0).id == 3  # ids never reused


def test_wear_each_block_erased_once_each_sync_one_page():
    # counts, not timings: a 100 Hz session polled every 100 ms. Each 4 KB
    # block is erased once; a sync programs the page that holds the newest
    # bytes (again, with more). littlefs copied the file's last block at every sync (erase
    # and program 3.5-5x the logged bytes, issue 11.3).
    d, fl = flash("wear", 128)
    dev = Region(fl, 0, 128)
    st = raw_store(d, dev)
    p0, e0 = fl.program_bytes, fl.erase_bytes
    log = st.start(HEADER, T0)
    now = T0
    syncs = 0
    last = log.durable
    for i, s in enumerate(recsynth.iter_samples(36000, accel_noise=30.0, gyro_noise=8.0)):  # 6 minutes
        log.add_sample(s[0], T0 + s[1], s[2], s[3], s[4], s[5], s[6], s[7])
        if i % 10 == 9:
            now = T0 + s[1]
            log.poll(now)
            if log.durable != last:
                syncs += 1
                last = log.durable
    log.close(now + 10)
    logged = st.size(log.id)
    prog, erase = fl.program_bytes - p0, fl.erase_bytes - e0
    blocks = len(st.raw.blocks(log.id))
    # each block erased once (ahead of the writer), and at most one more: the
    # block erased ahead that the next session will start in
    assert erase == BLOCK * (blocks + (1 if st.raw._spare >= 0 else 0)), (erase // BLOCK, blocks)
    assert blocks <= logged // (BLOCK - HDR - 1100) + 1  # a block holds its payload less at most one record
    # (what is durable advances at least every RAW_DUE_MS: a page filled
    # and programmed, or a flush of the part filled page)
    assert syncs >= 36000 // (100 * RAW_DUE_MS // 1000) - 2
    # pages filled once, plus per flush the page it left part filled, plus
    # per block its last page (the rest of the block stays erased)
    assert prog <= logged + blocks * (HDR + PAGE) + (syncs + 1) * PAGE, (prog, logged, syncs, blocks)
    # the goals, on these counts (realistic noise: ~5 bytes a sample)
    assert prog / logged <= 1.5 and erase / logged <= 2.0, (prog / logged, erase / logged)
    assert fl.reprogram_bytes == 0  # each byte programmed once (next test)


class PageOps:
    """A block device over a Region that counts the programs of each page
    since its block's last erase (most: the highest count a page reached)."""

    def __init__(self, region):
        self.r = region
        self.n = {}
        self.most = {}

    def readblocks(self, b, buf, off=0):
        self.r.readblocks(b, buf, off)

    def writeblocks(self, b, buf, off=None):
        self.r.writeblocks(b, buf, off)
        for p in range(off // PAGE, (off + len(buf)) // PAGE):
            k = (b, p)
            self.n[k] = self.n.get(k, 0) + 1
            self.most[k] = max(self.most.get(k, 0), self.n[k])

    def ioctl(self, op, arg):
        if op == 6:
            for p in range(BLOCK // PAGE):
                self.n.pop((arg, p), None)
        return self.r.ioctl(op, arg)


def test_a_sync_programs_only_its_new_bytes_so_25hz_meets_the_wear_goal():
    # issue 11.3 at 25 Hz (~10 bytes a sample, ~340 bytes a sync): a sync
    # programs the page that holds the newest bytes again, and sent that
    # page's older bytes again with it: cells programmed twice, and 1.4x the
    # logged bytes programmed at 25 Hz by the span of each program (1.8x in
    # whole pages, what an RP2040 sends: a sync is one page op; the next
    # test has the page count). Now the bytes on the flash already go as 0xFF (no cell touched):
    # each byte is programmed once, and the bytes programmed are the logged
    # bytes plus the block headers.
    d, fl = flash("wear25", 64)
    dev = Region(fl, 0, 64)
    RawLog.format(dev)
    ops = PageOps(dev)
    st = raw_store(d, ops, fmt=False)
    p0, s0, e0 = fl.program_bytes, fl.program_span_bytes, fl.erase_bytes
    log = st.start(HEADER, T0)
    now = T0
    syncs = 0
    last = log.durable
    for i, s in enumerate(recsynth.iter_samples(25 * 360, 25, accel_noise=30.0, gyro_noise=8.0)):  # 6 minutes
        log.add_sample(s[0], T0 + s[1], s[2], s[3], s[4], s[5], s[6], s[7])
        if i % 5 == 4:  # a FIFO read every 200 ms
            now = T0 + s[1]
            log.poll(now)
            if log.durable != last:
                syncs += 1
                last = log.durable
    log.close(now + 10)
    logged = st.size(log.id)
    blocks = len(st.raw.blocks(log.id))
    prog, span, erase = fl.program_bytes - p0, fl.program_span_bytes - s0, fl.erase_bytes - e0
    assert syncs >= 360 * 1000 // RAW_DUE_MS - 2 and logged / syncs < 512  # (less than 2 pages a sync)
    assert fl.reprogram_bytes == 0  # no byte sent twice (32,663 bytes at 25 Hz in the sim before)
    # what is programmed: the logged bytes, each block's header (16 bytes
    # and the deleted flag's 0xFF bytes up to the payload), and nothing else
    assert logged <= span <= logged + blocks * HDR, (span, logged, blocks)
    assert span / logged <= 1.5 and erase / logged <= 2.0, (span / logged, erase / logged)
    # the pages sent (a RP2040 sends whole pages): each page once, once more a sync
    assert prog <= logged + blocks * (HDR + PAGE) + (syncs + 1) * PAGE, (prog, logged, syncs)
    # a page is programmed once, and once more for each sync that falls
    # inside it (~250 bytes a sync here: at most two)
    assert max(ops.most.values()) <= 3, max(ops.most.values())
    st2 = SessionStore(d + "/sessions", 8192, device_id="ab12", raw=RawLog(dev))  # what the next boot reads
    r = LogReader(read_all(st2, log.id))
    assert r.complete and r.errors == [] and len(r.samples()) == 25 * 360


def test_append_goes_on_in_the_partial_page_without_programming_its_bytes_again():
    # RawLog.append() (the store reopens a session after a write error): a
    # new writer goes on in the page that holds the end, FF over the bytes
    # there; before, it read that page back and programmed it all again
    d, fl = flash("append", 16)
    dev = Region(fl, 0, 16)
    RawLog.format(dev)
    raw = RawLog(dev)
    rec = bytearray(b"\xe7\x5a\x01\x0b\x00" + b"\x00" * 15)
    from heelcore.crc import crc32_put

    f = raw.create(1)
    f.write(b"HDLG\x01")
    want = bytearray(b"HDLG\x01")
    for i in range(30):  # 600 bytes: the end in the block's third page
        rec[5] = i
        crc32_put(rec, 2, len(rec) - 4, len(rec) - 4)
        f.write(rec)
        want += rec
        if i % 7 == 6:
            f.flush()
    f.flush()
    raw._writing = None  # a writer of its own, as after the store dropped the first
    g = raw.append(1)
    assert g is not f and g.tell() == len(want)
    for i in range(30, 45):
        rec[5] = i
        crc32_put(rec, 2, len(rec) - 4, len(rec) - 4)
        g.write(rec)
        want += rec
    g.close()
    assert fl.reprogram_bytes == 0 and fl.nor_errors == 0
    r2 = RawLog(dev)  # the next boot reads it all back
    got = bytearray(r2.size(1))
    r2.read_into(1, 0, got)
    assert got == want


class Clock:
    """The sim flash's clock (it advances by each operation's stall), in us."""

    def __init__(self, t_ms):
        self.tus = t_ms * 1000

    def advance(self, us):
        self.tus += us

    def ms(self):
        return self.tus // 1000


def _paced(rate, seconds, erase_ms, name):
    # a session as the app runs it, paced by the flash's stalls: the IMU
    # makes a sample every 1/rate s on the clock, the app reads what was
    # made at least every 100 ms (at once after a stall) and polls; every
    # erase stalls erase_ms. At risk, measured before and after each flash
    # operation and at each poll: samples made, not durable (a power cut's
    # loss). Returns (page program bytes per logged byte, the most seconds
    # at risk, the log's size, the log's samples, erases ahead with their
    # risk at start in ms)
    d, fl = flash(name, 64)
    clock = Clock(T0)
    fl.clock = clock
    fl.erase_us = erase_ms * 1000
    dev = Region(fl, 0, 64)
    st = raw_store(d, dev)
    p0 = fl.program_bytes
    log = st.start(HEADER, T0)
    period_us = 1000000 // rate
    start_us = clock.tus
    made = [0, 0]  # samples made, the most at risk

    def risk():
        n = (clock.tus - start_us) // period_us + 1
        if n > rate * seconds:
            n = rate * seconds
        k = n - log.durable
        if k > made[1]:
            made[1] = k

    fl.watch = risk
    prepared = []
    f0 = log._f
    real = f0.prepare

    def prepare():
        prepared.append((clock.tus - start_us) // 1000 - log.durable * 1000 // rate)  # the oldest sample not durable: its age
        return real()

    f0.prepare = prepare
    samples = recsynth.iter_samples(rate * seconds, rate, accel_noise=30.0, gyro_noise=8.0)
    i = 0
    total = rate * seconds
    while i < total:
        clock.advance(100000)
        n = (clock.tus - start_us) // period_us + 1
        while i < n and i < total:
            s = next(samples)
            log.add_sample(s[0], (start_us + i * period_us) // 1000, s[2], s[3], s[4], s[5], s[6], s[7])
            i += 1
        risk()
        log.poll(clock.ms())
        risk()
    fl.watch = None
    logged = log.bytes_written
    log.close(clock.ms())
    assert not log.errors and log.durable == total
    r = LogReader(read_all(st, log.id))
    assert r.complete and len(r.samples()) == total  # no sample lost
    return (fl.program_bytes - p0) / logged, made[1] / rate, logged, total, prepared


def test_25hz_programs_each_page_about_once_with_at_most_2s_at_risk():
    # issue 11.3 in whole pages (what an RP2040's flash_range_program
    # sends): a timer flush every 1.4 s programmed the partly filled page
    # each time, so at 25 Hz (a page every ~1.3 s) each page was programmed
    # ~2x (1.79x the logged bytes in the sim; 2.15x here before, 1.60x at 50 Hz). Now pages
    # are programmed as they fill and the part filled one only when its
    # oldest sample would otherwise wait too long, with the codec's block
    # cut just before a page's end (so the record that crosses into the
    # next page is young): at most 1.5x, and still at most 2 s at risk
    # with every erase at 45 ms or at its 400 ms maximum.
    for erase_ms in (45, 400):
        ratio, risk, logged, n, prepared = _paced(25, 240, erase_ms, "paced25_%d" % erase_ms)
        assert ratio <= 1.5, (erase_ms, ratio)
        assert risk <= 2.0, (erase_ms, risk)
        assert logged / n < 9.0, logged / n  # (blocks cut early cost a few bytes a sample: 6.8 with none)


def test_at_every_rate_the_risk_stays_within_2s_and_pages_go_about_once():
    # the bound at each supported rate up to 200 Hz here (the sim's bench
    # runs them all: flash_rate<R>_*), with 400 ms erases: an erase ahead
    # starts only while the oldest sample not on the flash is young enough
    # that a flush after it (and a read period) is still in time
    for rate in (50, 100, 200):
        ratio, risk, logged, n, prepared = _paced(rate, 60, 400, "paced%d" % rate)
        assert ratio <= 1.5 and risk <= 2.0, (rate, ratio, risk)
        assert prepared and max(prepared) + ERASE_MAX_MS + 200 < 1800, (rate, prepared)


def test_the_logs_ram_is_a_few_bytes_a_block_and_a_session():
    # issue 11 item 3's board RAM: what RawLog keeps after its scan is flat
    # arrays (four bytes a block, six a session: no dict of block lists, no
    # per-session objects); on the port, measured in the heap. Before: 4,800
    # bytes for 84 sessions in 256 blocks (a list and a dict entry a session).
    import gc

    d, fl = flash("ram", 257)
    dev = Region(fl, 0, 257)
    RawLog.format(dev)
    r = RawLog(dev)
    rec = bytearray(b"\xe7\x5a\x01\x04\x00" + b"\x00" * 8)
    from heelcore.crc import crc32_put

    crc32_put(rec, 2, len(rec) - 4, len(rec) - 4)
    sid = 1
    while r.free_blocks() > 2:
        f = r.create(sid)
        f.write(b"HDLG\x01")
        for _ in range(300 * (1 + sid % 5)):
            try:
                f.write(rec)
            except OSError:
                break
        f.close()
        sid += 1
    nsess = len(r.ids())
    assert nsess > 50
    r = None
    gc.collect()
    before = gc.mem_alloc() if hasattr(gc, "mem_alloc") else 0
    r = RawLog(dev)
    gc.collect()
    kept = gc.mem_alloc() - before if hasattr(gc, "mem_alloc") else 0
    assert len(r.ids()) == nsess
    for k, v in r.__dict__.items():
        assert not isinstance(v, (list, dict, tuple)), k  # nothing that grows an object a session
    assert kept <= 4 * r.count + 6 * nsess + 1024, (kept, nsess)


def _write_session(dev, cuts, n=900, rate=100, every=10):
    # a session written through the store on dev (a CutFlash); returns
    # (the bytes it meant to write, bytes durable at the last finished
    # sync) or raises Cut
    d = cuts["d"]
    st = SessionStore(d + "/sessions", 4096, device_id="ab12", raw=RawLog(dev))
    log = st.start(HEADER, T0)
    now = T0
    for i, s in enumerate(recsynth.iter_samples(n, rate, accel_noise=30.0, gyro_noise=8.0)):
        log.add_sample(s[0], T0 + s[1], s[2], s[3], s[4], s[5], s[6], s[7])
        if i % every == every - 1:
            now = T0 + s[1]
            log.poll(now)
            cuts["durable"] = log.durable
    log.close(now)
    cuts["durable"] = log.durable
    return log.id


def test_power_cut_at_every_flash_operation_keeps_every_synced_sample():
    d, fl = flash("cuts", 24)
    dev = Region(fl, 0, 24)
    RawLog.format(dev)
    # one session kept from an earlier boot: never touched by the cuts
    st = SessionStore(d + "/sessions", 4096, device_id="ab12", raw=RawLog(dev))
    old = st.start(HEADER, T0)
    old.close(run_session(old, recsynth.samples(300), events=False))
    before = read_all(st, 1)
    snap = bytearray(24 * BLOCK)
    fl.f.seek(0)
    fl.f.readinto(snap)
    # the uncut run: its operations and its bytes
    cuts = {"d": d}
    counter = CutFlash(dev)
    sid = _write_session(counter, cuts)
    full = read_all(SessionStore(d + "/sessions", 4096, device_id="ab12", raw=RawLog(dev)), sid)
    ops = counter.ops
    assert ops > 10
    checked = 0
    for at in range(ops):
        for torn in (0, 100, -1):
            fl.f.seek(0)
            fl.f.write(snap)  # the flash as before the session
            os.remove(d + "/sessions/next_id")  # (littlefs's counter: back to 2)
            with open(d + "/sessions/next_id", "w") as f:
                f.write("2\n")
            cuts = {"d": d, "durable": 0}
            try:
                _write_session(CutFlash(dev, at, torn), cuts)
                raise AssertionError("no cut at op %d" % at)
            except Cut:
                pass
            st2 = SessionStore(d + "/sessions", 4096, device_id="ab12", raw=RawLog(dev))  # reboot
            assert read_all(st2, 1) == before, (at, torn)
            ids = [s["id"] for s in st2.list()]
            got = read_all(st2, 2) if 2 in ids else b""
            assert full[:len(got)] == got, (at, torn)  # a prefix of what was written, nothing else
            n = len(LogReader(got).samples()) if len(got) > 5 else 0
            assert n >= cuts["durable"], (at, torn, n, cuts["durable"])
            if len(got) > 5:  # (a cut before the header records' first sync leaves the file header alone)
                assert LogReader(got).errors == [] and LogReader(got).skipped_bytes == 0, (at, torn)
            # the board goes on: the next session is written after it
            log = st2.start(HEADER, T0)
            log.close(run_session(log, recsynth.samples(200), events=False))
            st3 = SessionStore(d + "/sessions", 4096, device_id="ab12", raw=RawLog(dev))
            assert LogReader(read_all(st3, log.id)).complete and read_all(st3, 1) == before
            checked += 1
    assert checked == 3 * ops


def test_power_cut_at_25hz_keeps_what_durable_promised():
    # at 25 Hz pages are programmed as they fill and blocks are cut early
    # to fill them; what the log calls durable (pages that filled count at
    # once, without a flush) survives a cut at every flash operation, torn
    # programs included, and the session reads back as a prefix
    d, fl = flash("cuts25", 24)
    dev = Region(fl, 0, 24)
    RawLog.format(dev)
    snap = bytearray(24 * BLOCK)
    fl.f.seek(0)
    fl.f.readinto(snap)
    counter = CutFlash(dev)
    cuts = {"d": d}
    sid = _write_session(counter, cuts, 500, 25, 3)
    full = read_all(SessionStore(d + "/sessions", 4096, device_id="ab12", raw=RawLog(dev)), sid)
    ops = counter.ops
    assert ops > 10
    mid = 0
    for at in range(ops):
        for torn in (0, -1):
            fl.f.seek(0)
            fl.f.write(snap)
            os.remove(d + "/sessions/next_id")
            with open(d + "/sessions/next_id", "w") as f:
                f.write("1\n")
            cuts = {"d": d, "durable": 0}
            try:
                _write_session(CutFlash(dev, at, torn), cuts, 500, 25, 3)
                raise AssertionError("no cut at op %d" % at)
            except Cut:
                pass
            st2 = SessionStore(d + "/sessions", 4096, device_id="ab12", raw=RawLog(dev))
            got = read_all(st2, sid) if sid in [x["id"] for x in st2.list()] else b""
            assert full[:len(got)] == got, (at, torn)
            n = len(LogReader(got).samples()) if len(got) > 5 else 0
            assert n >= cuts["durable"], (at, torn, n, cuts["durable"])
            if 0 < cuts["durable"] < 500:
                mid += 1
    assert mid > ops  # (cuts fell mid-session, with samples durable)


def test_full_region_closes_the_session_and_room_comes_back_after_a_delete():
    d, fl = flash("full", 12)
    dev = Region(fl, 0, 12)  # 11 data blocks of 4064 bytes
    st = raw_store(d, dev, reserve=8192)
    log = st.start(HEADER, T0)
    run_session(log, recsynth.iter_samples(20000, accel_noise=30.0, gyro_noise=8.0), events=False)
    assert log.full
    r = LogReader(read_all(st, log.id))
    assert r.complete and r.errors == []  # closed with its NOTE and END
    assert any("flash_low" in n[1] for n in r.notes()) or log.errors, (log.errors, log.last_error)
    assert not st.has_room()
    log2 = st.start(HEADER, T0)
    assert log2.id is None and log2.full  # detached: nothing recorded without room
    st.delete(1)
    assert st.has_room()
    log3 = st.start(HEADER, T0)
    assert log3.id == 2 and not log3.full
    log3.close(T0 + 50)


def test_enospc_mid_write_closes_the_session_with_the_reserve_block():
    # no low check in time (reserve_bytes 0): the region runs out mid-write;
    # the reserve block takes the rest and the END
    d, fl = flash("enospc", 8)
    dev = Region(fl, 0, 8)
    RawLog.format(dev)
    st = SessionStore(d + "/sessions", 0, device_id="ab12", raw=RawLog(dev))
    log = st.start(HEADER, T0)
    run_session(log, recsynth.iter_samples(20000, accel_noise=30.0, gyro_noise=8.0), events=False)
    assert log.full and log.errors >= 1 and log.last_error.args[0] == 28
    r = LogReader(read_all(st, log.id))
    assert r.complete and r.errors == [] and r.skipped_bytes == 0


def test_littlefs_sessions_stay_listed_readable_and_deletable_beside_the_raw_log():
    d, fl = flash("both", 16)
    st = SessionStore(d + "/sessions", 4096, device_id="ab12")  # today's store: files
    log = st.start(HEADER, T0)
    log.close(run_session(log, recsynth.samples(400), events=False))
    old = read_all(st, 1)
    dev = Region(fl, 0, 16)
    st2 = raw_store(d, dev, reserve=4096)  # the next firmware, with a raw log region
    log2 = st2.start(HEADER, T0)
    assert log2.id == 2
    log2.close(run_session(log2, recsynth.samples(400), events=False))
    ls = st2.list()
    assert [(s["id"], s["state"]) for s in ls] == [(1, "complete"), (2, "complete")]
    assert read_all(st2, 1) == old and st2.digest(1) == st.digest(1)
    assert "s0001.hdl" in os.listdir(d + "/sessions") and "s0002.hdl" not in os.listdir(d + "/sessions")
    st2.delete(1, size=len(old), sha256=st.digest(1)[0])
    assert "s0001.hdl" not in os.listdir(d + "/sessions") and [s["id"] for s in st2.list()] == [2]


def test_an_unformatted_region_is_never_written():
    # a region that is not a raw log (littlefs, another firmware's data) is
    # left alone: the store records to files as before
    d, fl = flash("unf", 8)
    dev = Region(fl, 0, 8)
    junk = bytearray(b"\x12" * PAGE)
    fl.writeblocks(0, junk, 0)
    p0, e0 = fl.program_bytes, fl.erase_bytes
    raw = RawLog(dev)
    assert not raw.formatted
    st = SessionStore(d + "/sessions", 4096, device_id="ab12", raw=raw)
    log = st.start(HEADER, T0)
    log.close(run_session(log, recsynth.samples(100), events=False))
    assert "s0001.hdl" in os.listdir(d + "/sessions")
    assert (fl.program_bytes, fl.erase_bytes) == (p0, e0)


class EioFlash(CutFlash):
    """Programs fail with EIO from program number `at` on (a failing chip)."""

    def writeblocks(self, b, buf, off=None):
        self.ops += 1
        if self.ops > self.at:
            raise OSError(5)
        self.r.writeblocks(b, buf, off)

    def ioctl(self, op, arg):
        return self.r.ioctl(op, arg)


def test_a_write_error_stops_the_session_with_that_error_kept():
    d, fl = flash("eio", 16)
    dev = Region(fl, 0, 16)
    RawLog.format(dev)
    bad = EioFlash(dev, at=6)
    st = SessionStore(d + "/sessions", 4096, device_id="ab12", raw=RawLog(bad))
    log = st.start(HEADER, T0)
    run_session(log, recsynth.iter_samples(3000, accel_noise=30.0, gyro_noise=8.0), events=False)
    # the write's EIO, and the close's flush meets it again; nothing else
    # (an AttributeError from a closed writer came third before the fix)
    assert log.full and 1 <= log.errors <= 2 and isinstance(log.last_error, OSError), (log.errors, log.last_error)
    assert log.last_error.args[0] == 5
    st2 = SessionStore(d + "/sessions", 4096, device_id="ab12", raw=RawLog(dev))
    got = read_all(st2, 1)
    assert LogReader(got).errors == [] and len(LogReader(got).samples()) >= log.durable
