"""Verified, resumable, idempotent download of session logs from the device.

    from heeldrop.download import download_session, delete_verified
    res = download_session(t, {"id": 7, "size": 40960, "uid": "e661...-1a2b3c4d-7", "state": "complete"}, "out")
    res.path, res.status      # "downloaded", "resumed", "skipped"
    delete_verified(t, res)   # only when the copy on disk is the device's file

Trust comes from content, never from names or sizes:
- The device tells the SHA-256 of its file, or of any prefix of it
  (`session_hash`). (Not a CRC-32: each record of a log ends with its own
  CRC-32, which makes a CRC-32 of the whole file blind to any change inside
  a record; two different sessions of the same layout share it.) A copy is
  "already here" only when its size and SHA-256 equal the device's file; anything else on disk under that name is never
  overwritten (the new copy gets another name), except an earlier copy of the
  same session that is a proven prefix of it (a session downloaded while it
  was recording), which the complete copy replaces.
- A `.part` left by an interrupted download is resumed only when the device's
  SHA-256 of that many bytes equals the part's; otherwise it is started again.
- Each chunk comes with a CRC-32 (proto.parse_chunk's `ok`); a bad chunk, a
  damaged frame, a timeout or a chunk for another offset is asked for again
  at once. The finished copy's SHA-256 must equal the device's before it is
  renamed to .hdl; a log that then reads as damaged is damaged on the device
  (proven: the copy is identical), and says so.
- Deleting on the device (`delete_verified`) re-reads the copy on disk, and
  the device deletes only if its file has that size and SHA-256.
Local names come from the session's identity (list_sessions `uid`: the
board's unique id, a random store id and the session id), so copies of
different sessions never share a name: DEST/<board>-<uid>.hdl and .csv.
"""
import os
import re
import time
import hashlib
import types

from heelcore import proto
from heeldrop.transport import DAMAGED, CommandTimeout, DeviceError, TransportError

CHUNK = proto.MAX_CHUNK


class VerifyError(TransportError):
    def __init__(self, message):
        super().__init__(message, 1)


class Result:
    def __init__(self, sid, path, csv, status, size, seconds=0.0, note=None, sha256=None, uid=None, state=None):
        self.id = sid
        self.path = path
        self.csv = csv
        self.status = status
        self.size = size
        self.seconds = seconds
        self.note = note
        self.sha256 = sha256
        self.uid = uid
        self.state = state


def safe_name(board):
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", str(board or "board")).strip("._") or "board"


def session_base(dest, board, sess):
    """DEST/<board>-<uid> (or DEST/<board>-s<id> for firmware without identities)."""
    uid = sess.get("uid")
    if uid:
        return os.path.join(dest, "%s-%s" % (safe_name(board), safe_name(uid)))
    return os.path.join(dest, "%s-s%d" % (safe_name(board), int(sess["id"])))


def session_paths(dest, board, sess):
    """(.hdl path, .csv path) of a session (a list_sessions entry, or an id for old callers)."""
    if not isinstance(sess, dict):
        sess = {"id": sess}
    base = session_base(dest, board, sess)
    return base + ".hdl", base + ".csv"


def file_hash(path, length=None):
    """(SHA-256 hex digest, size) of a file's first length bytes (all of it by default)."""
    h = hashlib.sha256()
    n = 0
    with open(path, "rb") as f:
        while length is None or n < length:
            b = f.read(65536 if length is None else min(65536, length - n))
            if not b:
                break
            h.update(b)
            n += len(b)
    return h.hexdigest(), n


def device_hash(t, sid, length=None):
    """(SHA-256 hex digest, length covered, file size) from the device's session_hash."""
    args = {"id": sid}
    if length is not None:
        args["length"] = length
    try:
        r = t.command("session_hash", args, timeout=5.0, retries=2)
    except DeviceError as e:
        if e.status == proto.E_UNKNOWN_CMD:
            raise VerifyError("%s: this firmware cannot prove a copy equal (no session_hash): update it with "
                              "`heeldrop deploy`, then download again" % t.name)
        raise
    return str(r["sha256"]), int(r["length"]), int(r["size"])


def read_chunk(t, sid, offset, length=CHUNK, tries=8, timeout=1.0):
    """One verified chunk (dict from proto.parse_chunk) at offset; asks again at once for a damaged one.

    Every request sent again (damaged frame, bad CRC-32, timeout) is counted in t.rerequests."""
    bad = 0
    last = None
    for i in range(tries):
        if i:
            t.rerequests = getattr(t, "rerequests", 0) + 1
        try:
            c = t.command("read_session", {"id": sid, "offset": offset, "length": length}, timeout=timeout,
                          retries=0, watch_bad=proto.T_CHUNK)
        except CommandTimeout as e:
            last = e
            continue
        if c is DAMAGED:
            bad += 1
            continue
        if not isinstance(c, dict) or "data" not in c:
            raise VerifyError("%s: read_session answered without data" % t.name)
        if c["ok"] and c["offset"] == offset and c["session"] == sid:
            c["retried"] = i
            return c
        bad += 1
        t.crc_errors = getattr(t, "crc_errors", 0) + 1
    if last is not None and not bad:
        raise CommandTimeout("%s: no good chunk of session %d at offset %d after %d tries" % (t.name, sid, offset, tries))
    raise VerifyError("%s: session %d at offset %d arrived damaged %d times in %d tries" % (
        t.name, sid, offset, bad, tries))


def check_log(path, cut=False):
    """(ok, note) of a session log read with LogReader. The copy is known to equal
    the device's file, so any damage found is on the device."""
    from heelcore.record import LogFormatError, LogReader
    try:
        with open(path, "rb") as f:
            r = LogReader(f.read())
    except (LogFormatError, ValueError) as e:
        return False, "not a session log: %s" % e
    if r.header is None and not r.records:
        return False, "no readable record"
    notes = []
    if not r.complete:
        notes.append("no END record: the session was cut (power loss or full flash)" if cut or r.truncated
                     else "no END record")
    if r.skipped_bytes:
        notes.append("the log on the device itself has %d damaged bytes (the copy is identical to the device's file; "
                     "the damaged records are skipped)" % r.skipped_bytes)
    if r.truncated and r.truncated_bytes:
        notes.append("its last %d bytes are a record cut off on the device" % r.truncated_bytes)
    return True, "; ".join(notes) or None


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
        tmp = csv + ".tmp"
        write_trace(tmp, tr)
        os.replace(tmp, csv)
    except (UserError, ValueError) as e:
        return "CSV not written: %s" % e
    return None


def _is_prefix(t, sid, path, size):
    """Is the file at path a proven prefix (or all) of the device's session (size bytes)?"""
    c, n = file_hash(path)
    if n > size:
        return False
    dc, _, _ = device_hash(t, sid, n)
    return dc == c


def _target(t, sess, dest, board, dev_hash, size):
    """(path to write, existing file replaced or None, skip) for this session."""
    hdl, _ = session_paths(dest, board, sess)
    base = hdl[:-4]
    k = 1
    while True:
        path = hdl if k == 1 else "%s~%d.hdl" % (base, k)
        if not os.path.exists(path):
            return path, None, False
        c, n = file_hash(path)
        if (c, n) == (dev_hash, size):
            return path, None, True  # already here, byte for byte
        if n < size and _is_prefix(t, int(sess["id"]), path, size):
            return path, path, False  # an earlier, shorter copy of this same session
        k += 1  # a different file under this name: never overwritten


def download_session(t, sess, dest, board=None, progress=None, length=CHUNK):
    """Download one session (a list_sessions entry) into dest. progress(done, total) is called per chunk."""
    sid = int(sess["id"])
    board = board or (t.hello or {}).get("board") or "board"
    state = sess.get("state") or ("complete" if sess.get("complete", True) else "recording")
    os.makedirs(dest, exist_ok=True)
    dev_hash, _, size = device_hash(t, sid)  # the file as it is now (a recording session only grows)
    hdl, replaces, skip = _target(t, sess, dest, board, dev_hash, size)
    csv = hdl[:-4] + ".csv"
    if skip:
        if not os.path.exists(csv):
            write_csv(hdl, csv)
        if progress:
            progress(size, size)
        return Result(sid, hdl, csv if os.path.exists(csv) else None, "skipped", size, sha256=dev_hash,
                      uid=sess.get("uid"), state=state)
    part = hdl + ".part"
    notes = []
    off = 0
    if os.path.exists(part):
        pc, pn = file_hash(part)
        if pn <= size and device_hash(t, sid, pn)[0] == pc:
            off = pn  # a proven prefix of this very file: resume
        else:
            notes.append("a partial copy %s was not the start of this session: started again" % part)
    status = "resumed" if off else "downloaded"
    t0 = time.monotonic()
    with open(part, "r+b" if os.path.exists(part) else "wb") as f:
        f.seek(off)
        f.truncate()
        if progress:
            progress(off, size)
        while off < size:
            c = read_chunk(t, sid, off, min(length, size - off))
            data = c["data"]
            if not data:
                break
            f.write(data)
            f.flush()
            off += len(data)
            if progress:
                progress(off, size)
        os.fsync(f.fileno())
    secs = time.monotonic() - t0
    if off != size:
        raise VerifyError("%s: session %d: got %d bytes, the device said %d; the partial copy %s is kept: "
                          "run the download again to resume" % (t.name, sid, off, size, part))
    c, n = file_hash(part)
    if (c, n) != (dev_hash, size):
        os.remove(part)  # proven wrong: never resumed from
        raise VerifyError("%s: session %d: the copy's SHA-256 %s... differs from the device's %s...; it was removed: "
                          "run the download again" % (t.name, sid, c[:16], dev_hash[:16]))
    ok, note = check_log(part, cut=state == "cut")
    if not ok:
        raise VerifyError("%s: session %d: %s; the copy is kept as %s" % (t.name, sid, note, part))
    if note:
        notes.append(note)
    if replaces:
        notes.append("replaced the shorter copy of the same session downloaded earlier")
    elif hdl != session_paths(dest, board, sess)[0]:
        notes.append("%s holds a different file: this copy is %s" % (session_paths(dest, board, sess)[0], hdl))
    os.replace(part, hdl)
    cnote = write_csv(hdl, csv)
    if cnote:
        notes.append(cnote)
    return Result(sid, hdl, csv if os.path.exists(csv) else None, status, size, secs, "; ".join(notes) or None,
                  sha256=dev_hash, uid=sess.get("uid"), state=state)


def delete_verified(t, res):
    """Delete the session on the device only if the copy on disk is its file.

    The copy is read again (size and SHA-256 must be the ones verified
    against the device), and the device deletes only if its file still has
    that size and SHA-256. Returns True when deleted (or already gone)."""
    if not res.path or res.path.endswith(".part") or res.sha256 is None or not os.path.exists(res.path):
        return False
    if file_hash(res.path) != (res.sha256, res.size):
        return False
    try:
        t.command("delete_session", {"id": res.id, "size": res.size, "sha256": res.sha256})
    except DeviceError as e:
        if e.name == "not_found":
            return False
        if e.name in ("mismatch", "busy"):
            return False
        raise
    return True
