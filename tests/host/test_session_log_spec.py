"""docs/SESSION-LOG.md is the session log format the code writes.

The reader below is written from docs/SESSION-LOG.md alone: it imports
nothing from heelcore.record, takes the record type numbers, GAP reasons and
HEADER keys from the doc's own tables, and decodes logs that the real
writer (firmware/logstore.py's SessionStore around heelcore.record's
LogWriter) made from known samples. Every coding path the doc describes (time
modes, predictor modes, Rice codes with escapes, fixed widths) must occur in
those logs, so none of the doc's tables goes unchecked. The states
(recording/complete/cut), the resynchronisation after damage, the file
names and the identity fields are checked against the store as well.
"""
import math
import os
import random
import re
import shutil
import struct
import zlib

import pytest

from heeldrop.replay import ROOT
from logstore import SessionStore

DOC = os.path.join(ROOT, "docs", "SESSION-LOG.md")
MASK30 = (1 << 30) - 1


def doc_text():
    with open(DOC, encoding="utf-8") as f:
        return f.read()


def doc_section(title):
    """The text of the doc's section whose heading contains title (up to the next heading)."""
    text = doc_text()
    m = re.search(r"^#+ [^\n]*%s[^\n]*\n(.*?)(?=^#+ )" % re.escape(title), text + "\n# end", re.M | re.S)
    assert m, "docs/SESSION-LOG.md has no section %r" % title
    return m.group(1)


def table_rows(section):
    """Rows of the first markdown table in a section, as lists of cell strings (header row dropped)."""
    rows = [[c.strip() for c in line.strip().strip("|").split("|")]
            for line in section.splitlines() if line.strip().startswith("|")]
    return [r for r in rows[2:]]


def record_types():
    """{type number: NAME} from table 1.3."""
    return {int(r[0]): r[1] for r in table_rows(doc_section("1.3 Record types"))}


def gap_reasons():
    return {int(r[0]): r[1].strip("`") for r in table_rows(doc_section("2.3 GAP reasons"))}


def header_keys():
    keys = []
    for r in table_rows(doc_section("2.1 HEADER")):
        keys += re.findall(r"`(\w+)`", r[0])
    return keys


# ------------------------------------------------------------ a reader written from the doc


class Damaged(ValueError):
    pass


class BitReader:
    """LSB first: bit j is bit (j mod 8) of byte j div 8 (of the stream's bytes)."""

    def __init__(self, data):
        self.data = data
        self.pos = 0
        self.end = 8 * len(data)

    def bit(self):
        if self.pos >= self.end:
            raise Damaged("stream runs past the payload")
        b = (self.data[self.pos >> 3] >> (self.pos & 7)) & 1
        self.pos += 1
        return b

    def bits(self, w):
        v = 0
        for i in range(w):
            v |= self.bit() << i
        return v


def read_values(br, m, code, used):
    """m values of one stream in the given code (doc: "Codes")."""
    if 25 <= code <= 31:
        raise Damaged("unused code %d" % code)
    out = []
    if code >= 32:
        w = code - 32
        used.add("fixed0" if w == 0 else "fixed")
        return [br.bits(w) for _ in range(m)]
    used.add("rice")
    for _ in range(m):
        q = 0
        while q < 16 and br.bit():
            q += 1
        if q < 16:
            out.append((q << code) | br.bits(code))
        else:
            used.add("escape")
            out.append(br.bits(br.bits(5)))
    return out


def unzig(v):
    return v >> 1 if v % 2 == 0 else -((v + 1) >> 1)


def decode_samples(p, used):
    """SAMPLES payload -> [(seq, t, ax, ay, az, gx, gy, gz)], by the tables of 2.2."""
    if len(p) < 33:
        raise Damaged("short block")
    first_seq, t0, n, flags, t_base, tcode = struct.unpack_from("<IIBBiB", p, 0)
    assert flags == 0
    br = BitReader(p[33:])
    t_mode, t_code = tcode >> 6, tcode & 63
    d = read_values(br, n - 1, t_code, used)
    ticks = [t0]
    if t_mode == 0:
        for i in range(1, n):
            ticks.append((ticks[-1] + t_base + d[i - 1]) & MASK30)
    elif t_mode == 1:
        for i in range(1, n):
            ticks.append((t0 + unzig(d[i - 1]) + (i * t_base + 500) // 1000) & MASK30)
    else:
        raise Damaged("time mode %d" % t_mode)
    used.add("time%d" % t_mode)
    cols = []
    for a in range(6):
        base, ac = struct.unpack_from("<hB", p, 15 + 3 * a)
        mode, code = ac >> 6, ac & 63
        used.add("axis%d" % mode)
        if mode == 0:
            v = [base + unzig(z) for z in read_values(br, n, code, used)]
        elif mode in (1, 2):
            z = read_values(br, n - 1, code, used)
            v = [base]
            for i in range(1, n):
                if mode == 1 or i == 1:
                    v.append(v[i - 1] + unzig(z[i - 1]))
                else:
                    v.append(2 * v[i - 1] - v[i - 2] + unzig(z[i - 1]))
        else:
            raise Damaged("axis mode 3")
        if any(x < -32768 or x > 32767 for x in v):
            raise Damaged("out of int16")
        cols.append(v)
    if br.end - br.pos >= 8 or br.bits(br.end - br.pos) != 0:
        raise Damaged("more than zero padding after the streams")
    return [((first_seq + i) % (1 << 32), ticks[i]) + tuple(c[i] for c in cols) for i in range(n)]


def decode(rtype, payload, used):
    names, reasons = record_types(), gap_reasons()
    name = names.get(rtype)
    if name == "HEADER":
        import json

        return name, json.loads(payload.decode("utf-8"))
    if name == "SAMPLES":
        return name, decode_samples(payload, used)
    if name == "EVENT":
        return name, payload.decode("utf-8")
    if name == "SIDE":
        s, t = struct.unpack("<BI", payload)
        return name, (("left", "right")[s], t)
    if name == "GAP":
        a, c, r = struct.unpack("<IIB", payload)
        return name, (a, c, reasons.get(r, "other"))
    if name == "NOTE":
        (t,) = struct.unpack_from("<I", payload)
        return name, (t, payload[4:].decode("utf-8"))
    if name == "END":
        return name, struct.unpack("<II", payload)
    return "unknown", (rtype, payload)


def spec_read(data):
    """{"records": [(NAME, value)], "skipped": [(offset, n)], "truncated": bool, "used": set}
    by sections 1 and 3.3."""
    assert data[:4] == b"HDLG" and data[4] == 1
    used = set()
    records, skipped = [], []
    p, n, skip_from = 5, len(data), None

    def whole(p):
        """(type, L) of a whole record at p; "short" if it runs past the end; None if it is not one."""
        if not b"\xe7\x5a".startswith(data[p:p + 2]):
            return None
        if p + 5 > n:
            return "short"
        rtype, ln = struct.unpack_from("<BH", data, p + 2)
        if ln > 8192:
            return None
        if p + 9 + ln > n:
            return "short"
        if struct.unpack_from("<I", data, p + 5 + ln)[0] != zlib.crc32(data[p + 2:p + 5 + ln]):
            return None
        return rtype, ln

    def any_whole_after(p):
        q = data.find(b"\xe7\x5a", p)
        while q >= 0:
            if isinstance(whole(q), tuple):
                return True
            q = data.find(b"\xe7\x5a", q + 1)
        return False

    truncated = False
    while p < n:
        w = whole(p)
        rec = None
        if isinstance(w, tuple):
            rtype, ln = w
            try:
                rec = decode(rtype, data[p + 5:p + 5 + ln], used)
            except (Damaged, ValueError, struct.error):
                rec = None
        if rec is not None:
            if skip_from is not None:
                skipped.append((skip_from, p - skip_from))
                skip_from = None
            records.append(rec)
            p += 9 + ln
            continue
        if w == "short" and not any_whole_after(p + 1):
            truncated = True
            break
        if skip_from is None:
            skip_from = p
        q = data.find(b"\xe7\x5a", p + 1)
        p = q if q >= 0 else n
    if skip_from is not None:
        skipped.append((skip_from, p - skip_from))
    return {"records": records, "skipped": skipped, "truncated": truncated, "used": used}


def header_of(records):
    """The first HEADER; a second copy with the same value is not another record."""
    hs = [v for k, v in records if k == "HEADER"]
    return hs[0] if hs else None


def state_by_spec(data):
    """Section 3.1: complete when the last 17 bytes are a whole END record."""
    end = data[-17:]
    if len(data) >= 22 and end[:5] == b"\xe7\x5a\x07\x08\x00" and \
            struct.unpack_from("<I", end, 13)[0] == zlib.crc32(end[2:13]):
        return "complete"
    return "cut"


# ------------------------------------------------------------ logs from the real writer


DEVICE = "e6614103e7a1b22c"
HEADER = {"firmware": "0.1.0", "board": "pico", "imu": "mpu6050", "rate_hz": 100, "accel_lsb_per_g": 8192,
          "gyro_lsb_per_dps": 65.5, "accel_range_g": 4, "gyro_range_dps": 500, "side": "left",
          "started": "2026-12-06T07:00:00Z", "calibration": {"gyro_bias": [-23, 11, 6]}, "config": {}}


def synth_samples(rng, seq0, n, t0):
    """Samples that make the writer use every coding the doc describes:
    regular and jittered ticks on a non-integer grid, constant, noisy,
    random-walk and smooth axes, and spikes that need Rice escapes."""
    out = []
    t = t0
    walk = 0
    for i in range(n):
        seg = (i // 200) % 4
        if seg == 0:
            t = (t + 10) & MASK30  # a clean 100 Hz tick: time deltas all 0
        elif seg == 1:
            t = (t0 + int(round((i + 1) * 9.6)) + rng.choice((-1, 0, 0, 1))) & MASK30  # FIFO grid + jitter
        else:
            t = (t + rng.choice((9, 10, 10, 11, 10, 12))) & MASK30
        walk = max(-30000, min(30000, walk + rng.randint(-300, 300)))
        ramp = int(8000 * math.sin(i / 40.0))
        spike = rng.choice((0,) * 40 + (20000,)) if seg == 3 else 0
        s = (8192 + rng.randint(-40, 40) + spike,  # noisy around a level: mean predictor
             walk,  # random walk: previous-value predictor
             ramp,  # smooth: linear extrapolation
             -5 if seg == 0 else rng.randint(-3, 3),  # constant in some blocks: fixed width 0
             rng.randint(-32768, 32767) if seg == 2 else 17,  # full-range noise
             max(-32768, min(32767, ramp * 4 - spike)))
        out.append(((seq0 + i) % (1 << 32), t) + s)
    return out


def write_session(store, samples, gap_at, rng):
    """Drive a SessionLog as the app does; returns (log, what was written, in order)."""
    log = store.start(dict(HEADER), samples[0][1])
    expect_events, expect_other = [], []
    for i, s in enumerate(samples):
        if i == gap_at:
            log.add_gap(s[0] - 37, 37, "fifo_overflow")
            expect_other.append(("GAP", (s[0] - 37, 37, "fifo_overflow")))
        log.add_sample(*s)
        if i % 97 == 50:
            line = '{"type":"rep_end","t_ms":%d,"rep":%d}' % (s[1], i)
            log.add_event(line, s[1])
            expect_events.append(line)
        if i == 300:
            log.add_side("right", s[1])
            expect_other.append(("SIDE", ("right", s[1])))
        if i == 500:
            log.add_note(s[1], "battery_low")
            expect_other.append(("NOTE", (s[1], "battery_low")))
        if i % 7 == 0:
            log.poll(s[1], io=rng.random() < 0.8)
    return log, expect_events, expect_other


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("spec")
    rng = random.Random(12)
    store = SessionStore(str(tmp / "sessions"), device_id=DEVICE)
    first = store.start(dict(HEADER), 0)  # session 1: closed at once, so the one under test is 2
    first.close(0)
    t0 = MASK30 - 3000  # the ticks wrap inside the session
    samples = synth_samples(rng, 4294967000, 1600, t0)  # so do the seqs (u32)
    samples = samples[:700] + samples[737:]  # 37 samples lost, reported by a GAP
    log, events, other = write_session(store, samples, 700, rng)
    recording = {e["id"]: e["state"] for e in store.list()}
    end_t = (samples[-1][1] + 5) & MASK30
    log.close(end_t)
    path = os.path.join(store.root, "s%04d.hdl" % log.id)
    with open(path, "rb") as f:
        data = f.read()
    return {"store": store, "log": log, "data": data, "path": path, "samples": samples, "events": events,
            "other": other, "end_t": end_t, "recording": recording, "tmp": tmp}


# ------------------------------------------------------------ the checks


def test_the_docs_tables_name_what_the_code_declares():
    from heelcore import record

    assert record_types() == {record.REC_HEADER: "HEADER", record.REC_SAMPLES: "SAMPLES",
                              record.REC_EVENT: "EVENT", record.REC_SIDE: "SIDE", record.REC_GAP: "GAP",
                              record.REC_NOTE: "NOTE", record.REC_END: "END"}
    assert gap_reasons() == dict(enumerate(record.GAP_REASONS))
    keys = header_keys()
    assert set(record.HEADER_KEYS) | {"format", "device_id", "store_id", "session", "uid"} <= set(keys)
    assert record.MAGIC == b"HDLG" and record.FORMAT_VERSION == 1 and record.SYNC == b"\xe7\x5a"
    assert record.MAX_PAYLOAD == 8192 and record.MAX_BLOCK == 200
    assert "(`FLUSH_MS` in `logstore.py`)" in doc_text() and "1.7 s" in doc_text()
    import logstore

    assert logstore.FLUSH_MS == 1700


def test_a_reader_written_from_the_doc_decodes_what_the_writer_wrote(session):
    r = spec_read(session["data"])
    assert not r["skipped"] and not r["truncated"]
    kinds = [k for k, _ in r["records"]]
    assert kinds[:2] == ["HEADER", "HEADER"] and kinds[-1] == "END"  # the header twice, END last
    assert r["records"][0] == r["records"][1]
    got = [s for k, v in r["records"] if k == "SAMPLES" for s in v]
    assert got == session["samples"]
    assert [v for k, v in r["records"] if k == "EVENT"] == session["events"]
    assert [(k, v) for k, v in r["records"] if k in ("GAP", "SIDE", "NOTE")] == session["other"]
    assert r["records"][-1][1] == (session["end_t"], len(session["samples"]))
    # every coding the doc describes occurred, so every table of 2.2 was needed
    assert r["used"] >= {"time0", "time1", "axis0", "axis1", "axis2", "rice", "escape", "fixed", "fixed0"}, r["used"]


def test_the_header_carries_the_documented_keys_and_identity(session):
    h = header_of(spec_read(session["data"])["records"])
    for k in header_keys():
        assert k in h, k
    store, log = session["store"], session["log"]
    assert h["format"] == 1 and h["board"] == "pico" and h["session"] == log.id == 2
    assert h["device_id"] == DEVICE
    assert re.fullmatch(r"[0-9a-f]{8}", h["store_id"])
    with open(os.path.join(store.root, "store_id")) as f:
        assert f.read().strip() == h["store_id"]
    assert h["uid"] == "%s-%s-%d" % (DEVICE, h["store_id"], log.id)
    assert os.path.basename(session["path"]) == "s0002.hdl"
    with open(os.path.join(store.root, "next_id")) as f:
        assert int(f.read()) == 3


def test_the_host_names_its_copy_board_uid(session, tmp_path):
    from heeldrop.download import session_paths

    h = header_of(spec_read(session["data"])["records"])
    hdl, csv = session_paths(str(tmp_path), "pico", {"id": 2, "uid": h["uid"]})
    assert hdl == str(tmp_path / ("pico-%s.hdl" % h["uid"])) and csv == hdl[:-4] + ".csv"
    assert os.path.basename(session_paths(str(tmp_path), "my board/2", {"id": 2, "uid": h["uid"]})[0]) \
        == "my_board_2-%s.hdl" % h["uid"]
    assert session_paths(str(tmp_path), "pico", {"id": 2})[0] == str(tmp_path / "pico-s2.hdl")


def test_states_recording_complete_cut_as_the_doc_decides_them(session):
    assert session["recording"][2] == "recording"
    assert state_by_spec(session["data"]) == "complete"
    d = session["tmp"] / "cutstore"
    os.makedirs(d / "sessions")
    data = session["data"]
    r = spec_read(data)
    offsets = []  # where a cut falls inside a record
    for cut in (len(data) - 1, len(data) - 17, len(data) // 2, 300):
        with open(d / "sessions" / ("s%04d.hdl" % (len(offsets) + 1)), "wb") as f:
            f.write(data[:cut])
        offsets.append(cut)
    shutil.copy(session["path"], d / "sessions" / "s0009.hdl")
    listed = {e["id"]: e["state"] for e in SessionStore(str(d / "sessions"), device_id=DEVICE).list()}
    assert listed == {1: "cut", 2: "cut", 3: "cut", 4: "cut", 9: "complete"}
    for i, cut in enumerate(offsets):
        assert state_by_spec(data[:cut]) == listed[i + 1]
        rc = spec_read(data[:cut])
        # a cut file reads up to its last whole record, and nothing is skipped
        assert not rc["skipped"]
        assert rc["records"] == r["records"][:len(rc["records"])]
        assert rc["truncated"] == (cut != len(data) - 17)  # a cut at a record boundary loses nothing


def test_damage_costs_only_the_damaged_record(session):
    data = bytearray(session["data"])
    clean = spec_read(bytes(data))["records"]
    # one bad byte in the first HEADER copy: the second copy gives the header
    hdr = bytearray(data)
    hdr[5 + 9 + 3] ^= 0x40
    r = spec_read(bytes(hdr))
    assert r["records"][0] == clean[0] and r["records"][1:] == clean[2:] and len(r["skipped"]) == 1
    # one bad byte in the middle of the file: only its record is lost, found again by the sync
    mid = bytearray(data)
    k = len(data) // 2
    mid[k] ^= 0x10
    r = spec_read(bytes(mid))
    assert len(r["skipped"]) == 1 and not r["truncated"]
    lost = len(clean) - len(r["records"])
    assert lost == 1
    assert r["records"][-1][0] == "END"
    # and the code's own reader agrees with the doc's on both
    from heelcore.record import LogReader

    for bad, mine in ((hdr, spec_read(bytes(hdr))), (mid, r)):
        lr = LogReader(bytes(bad))
        assert lr.skipped_bytes == sum(n for _, n in mine["skipped"])
        assert [s for s in lr.samples()] == [s for k, v in mine["records"] if k == "SAMPLES" for s in v]


def test_the_doc_is_linked_from_the_readme_and_the_protocol():
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
        assert "(docs/SESSION-LOG.md)" in f.read()
    with open(os.path.join(ROOT, "docs", "PROTOCOL.md"), encoding="utf-8") as f:
        assert "(SESSION-LOG.md)" in f.read()
