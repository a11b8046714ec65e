"""heeldrop download: copy session logs to the computer, verified."""
import os
import sys

from heeldrop.errors import UserError
from heeldrop.transport import add_port_argument, describe_tx_dropped, open_device

HELP = "download sessions from the device (CRC-checked, resumable, skips what is already here)"
EPILOG = """examples:
  heeldrop download --all
  heeldrop download 7 8 --dest ~/heeldrop
  heeldrop download --all --delete-after      # free the device's flash

Writes DEST/<board>-<uid>.hdl (the device's file, byte for byte; uid is the
session's identity: board id, store id, session id) and DEST/<board>-<uid>.csv
(the trace CSV, as heeldrop convert makes it). Each chunk is checked by its
CRC-32 and asked for again at once if damaged; the whole copy must have the
SHA-256 the device computes of its file. A download cut off (unplugged cable) is kept as
.hdl.part and resumed by the next run, once the device proves that the part
is the start of the same file. A session already here (same SHA-256) is
skipped; a different file is never overwritten. --delete-after deletes a
session on the device only when the copy on disk has the device file's size
and SHA-256 (the device checks again before deleting). Sessions cut by a power
loss or a full flash are downloaded like the others (noted as cut); the one
being recorded is left for later unless named by its id.
exit status: 0 ok, 1 a session failed its check, 2 bad usage or port,
3 no heeldrop firmware, 4 the board went away (run again to resume)."""


def add_arguments(p):
    p.add_argument("ids", nargs="*", type=int, metavar="ID", help="session ids (see heeldrop sessions)")
    p.add_argument("--all", action="store_true", help="every complete session on the device")
    p.add_argument("--dest", default=".", metavar="DIR", help="folder for the files (default: here)")
    p.add_argument("--delete-after", action="store_true",
                   help="delete each session on the device once its verified copy is on disk")
    add_port_argument(p)


def choose(sessions, ids, all_):
    if not ids and not all_:
        raise UserError("name the sessions to download (ID...) or pass --all; heeldrop sessions lists them")
    if all_:
        done = [s for s in sessions if _state(s) != "recording"]
        return done, [s for s in sessions if _state(s) == "recording"]
    byid = {s.get("id"): s for s in sessions}
    missing = [i for i in ids if i not in byid]
    if missing:
        raise UserError("no session %s on the device (it has: %s)" % (
            ", ".join(map(str, missing)), ", ".join(str(s.get("id")) for s in sessions) or "none"), 1)
    return [byid[i] for i in ids], []


def _state(s):
    # "recording", "complete" or "cut" (firmware before states: complete or recording)
    return s.get("state") or ("complete" if s.get("complete", True) else "recording")


class Progress:
    """rich progress bars on a terminal, else one line per session."""

    def __init__(self, out=None):
        self.out = out or sys.stdout
        self.rich = hasattr(self.out, "isatty") and self.out.isatty()
        self._p = None

    def __enter__(self):
        if self.rich:
            from rich.progress import (BarColumn, DownloadColumn, Progress as RP, TextColumn,
                                       TimeRemainingColumn, TransferSpeedColumn)
            from rich.console import Console
            self._p = RP(TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
                         TimeRemainingColumn(), console=Console(file=self.out))
            self._p.__enter__()
        return self

    def __exit__(self, *exc):
        if self._p is not None:
            self._p.__exit__(*exc)
        return False

    def task(self, name, total):
        if self._p is None:
            return lambda done, tot: None
        tid = self._p.add_task(name, total=total)
        return lambda done, tot: self._p.update(tid, completed=done, total=tot)

    def line(self, text):
        if self._p is not None:
            self._p.console.print(text, highlight=False, markup=False)
        else:
            print(text, file=self.out)
            self.out.flush()


def download(t, ids, all_, dest, delete_after, out=None):
    """Download the chosen sessions over transport t; returns the list of Results."""
    from heeldrop.download import delete_verified, download_session
    from heeldrop.cmd_sessions import list_sessions
    sessions = list_sessions(t)
    todo, later = choose(sessions, ids, all_)
    results = []
    with Progress(out) as pr:
        if not todo:
            pr.line("no finished sessions on the device")
        for s in todo:
            res = download_session(t, s, dest, progress=pr.task("session %s" % s.get("id"), s.get("size") or 1))
            what = {"skipped": "already here, skipped", "downloaded": "downloaded", "resumed": "resumed and finished"}
            speed = (" (%.0f kB/s)" % (res.size / res.seconds / 1000.0)) if res.seconds > 0.05 else ""
            pr.line("session %d: %s: %s (%d bytes%s)%s" % (res.id, what[res.status], res.path, res.size, speed,
                                                          ("; " + res.csv) if res.csv else ""))
            if res.note:
                pr.line("session %d: note: %s" % (res.id, res.note))
            if delete_after:
                if res.state == "recording":
                    pr.line("session %d: being recorded, not deleted" % res.id)
                elif delete_verified(t, res):
                    pr.line("session %d: deleted on the device (its copy %s has the same SHA-256 %s...)"
                            % (res.id, res.path, res.sha256[:16]))
                else:
                    pr.line("session %d: NOT deleted: the copy on disk could not be proven identical" % res.id)
            results.append(res)
        for s in later:
            pr.line("session %s: still being recorded, left on the device (download it by id to copy it so far)"
                    % s.get("id"))
    return results


def run(args):
    dest = os.path.expanduser(args.dest)
    if os.path.exists(dest) and not os.path.isdir(dest):
        raise UserError("--dest %s is a file, not a folder" % dest)
    with open_device(args.port) as t:
        download(t, args.ids, args.all, dest, args.delete_after)
        tx = getattr(t, "tx_dropped", 0)
        if t.stats()["bad_frames"] or getattr(t, "rerequests", 0) or tx:
            print("link: %d damaged frames, %d chunks asked for again%s" % (
                t.stats()["bad_frames"], getattr(t, "rerequests", 0),
                ("; " + describe_tx_dropped(tx, t.tx_dropped_samples)) if tx else ""))
    return 0
