"""Verified, resumable, idempotent download of session logs from the device.

    from heeldrop.download import download_session
    res = download_session(t, {"id": 7, "size": 40960, "complete": True}, "out", board="pico")
    res.path, res.status      # "downloaded", "resumed", "skipped"

Each chunk comes with a CRC-32 (proto.parse_chunk's `ok`); a bad chunk, a
timeout or a chunk for another offset is asked for again. The data goes to
DEST/<board>-s<id>.hdl.part, flushed chunk by chunk, so a download cut off by
an unplug resumes from the partial file's length. When the file is complete
(its size is the device's) it is checked with heelcore.record.LogReader and
renamed to .hdl; a trace CSV converted from it is written beside it. A
session whose .hdl is already there with the device's size is skipped.
"""
import os
import re
import time
import types

from heelcore import proto
from heeldrop.transport import CommandTimeout, DeviceError, TransportError

CHUNK = proto.MAX_CHUNK


class VerifyError(TransportError):
    def __init__(self, message):
        super().__init__(message, 1)


class Result:
    def __init__(self, sid, path, csv, status, size, seconds=0.0, note=None):
        self.id = sid
        self.path = path
        self.csv = csv
        self.status = status
        self.size = size
        self.seconds = seconds
        self.note = note


def safe_name(board):
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", str(board or "board")).strip("._") or "board"


def session_paths(dest, board, sid):
    base = os.path.join(dest, "%s-s%d" % (safe_name(board), int(sid)))
    return base + ".hdl", base + ".csv"


def read_chunk(t, sid, offset, length=CHUNK, tries=6, timeout=1.0):
    """One verified chunk (dict from proto.parse_chunk) at offset; retries bad ones."""
    bad = 0
    last = None
    for _ in range(tries):
        try:
            c = t.command("read_session", {"id": sid, "offset": offset, "length": length}, timeout=timeout, retries=0)
        except CommandTimeout as e:
            last = e
            continue
        if not isinstance(c, dict) or "data" not in c:
            raise VerifyError("%s: read_session answered without data" % t.name)
        if c["ok"] and c["offset"] == offset and c["session"] == sid:
            c["retried"] = bad
            return c
        bad += 1
        t.crc_errors = getattr(t, "crc_errors", 0) + 1
    if last is not None:
        raise CommandTimeout("%s: no good chunk of session %d at offset %d after %d tries" % (t.name, sid, offset, tries))
    raise VerifyError("%s: session %d at offset %d failed its CRC-32 %d times" % (t.name, sid, offset, tries))


def check_log(path):
    """(ok, note) of a complete session log read with LogReader."""
    from heelcore.record import LogFormatError, LogReader
    try:
        with open(path, "rb") as f:
            r = LogReader(f.read())
    except (LogFormatError, ValueError) as e:
        return False, "not a session log: %s" % e
    if r.header is None and not r.records:
        return False, "no readable record"
    if r.skipped_bytes or r.truncated:
        return True, "the log itself has %d damaged and %d cut-off bytes (copied as they are on the device)" % (
            r.skipped_bytes, r.truncated_bytes if r.truncated else 0)
    return True, None


def write_csv(hdl, csv):
    """The trace CSV converted from a session log (heeldrop convert's logic); returns a note or None."""
    from heeldrop.cmd_convert import load_log, log_to_trace
    from heeldrop.errors import UserError
    from heeldrop.traceio import write_trace
    try:
        r = load_log(hdl)
        tr, notes = log_to_trace(r, hdl, types.SimpleNamespace(accel_lsb_per_g=None, gyro_lsb_per_dps=None,
                                                               from_zero=False))
        if not tr.t_ms:
            return "no samples in the log: no CSV written"
        write_trace(csv, tr)
    except (UserError, ValueError) as e:
        return "CSV not written: %s" % e
    return None


def download_session(t, sess, dest, board=None, progress=None, length=CHUNK):
    """Download one session (a list_sessions entry) into dest. progress(done, total) is called per chunk."""
    sid = int(sess["id"])
    size = int(sess.get("size", 0))
    board = board or (t.hello or {}).get("board") or "board"
    os.makedirs(dest, exist_ok=True)
    hdl, csv = session_paths(dest, board, sid)
    part = hdl + ".part"
    if os.path.exists(hdl) and os.path.getsize(hdl) == size:
        if not os.path.exists(csv):
            write_csv(hdl, csv)
        if progress:
            progress(size, size)
        return Result(sid, hdl, csv if os.path.exists(csv) else None, "skipped", size)
    off = os.path.getsize(part) if os.path.exists(part) else 0
    status = "resumed" if off else "downloaded"
    if off > size:  # the device's file is not the one we had started
        off = 0
        status = "downloaded"
    t0 = time.monotonic()
    total = size
    with open(part, "r+b" if os.path.exists(part) else "wb") as f:
        f.seek(off)
        f.truncate()
        if progress:
            progress(off, total)
        while True:
            c = read_chunk(t, sid, off, length)
            total = c["total"] if c["total"] != 0xFFFFFFFF else total
            data = c["data"]
            if not data:
                break
            f.write(data)
            f.flush()
            off += len(data)
            if progress:
                progress(off, total)
            if off >= total:
                break
    secs = time.monotonic() - t0
    if off != total:
        raise VerifyError("%s: session %d: got %d bytes, the device says %d; the partial copy %s is kept: "
                          "run the download again to resume" % (t.name, sid, off, total, part))
    ok, note = check_log(part)
    if not ok:
        raise VerifyError("%s: session %d: %s; the copy is kept as %s" % (t.name, sid, note, part))
    os.replace(part, hdl)
    cnote = write_csv(hdl, csv)
    note = "; ".join(x for x in (note, cnote) if x) or None
    return Result(sid, hdl, csv if os.path.exists(csv) else None, status, total, secs, note)


def delete_verified(t, res):
    """Delete the session on the device, only if its verified copy is on disk."""
    if res.path and os.path.exists(res.path) and not res.path.endswith(".part") and os.path.getsize(res.path) == res.size:
        try:
            t.command("delete_session", {"id": res.id})
        except DeviceError as e:
            if e.name != "not_found":
                raise
        return True
    return False
