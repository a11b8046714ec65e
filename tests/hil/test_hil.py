"""Hardware in the loop: the end-to-end link checks of tests/host/test_e2e_pty.py
against a real board running heeldrop firmware.

    HEELDROP_PORT=/dev/ttyACM0 .venv/bin/python -m pytest tests/hil -v

Without HEELDROP_PORT every test is skipped (the only skip in the suite).
The board records while the tests run (wear it or leave it still on the
desk); the tests stop the session they read, download it, and at the end
leave the app stopped at the REPL by mpremote, then reset the board.
HEELDROP_HIL_SECONDS sets the live ingest time (default 20).
"""
import os
import sys
import time

import pytest

PORT = os.environ.get("HEELDROP_PORT")
if not PORT:
    pytest.skip("no board: set HEELDROP_PORT to run the hardware-in-the-loop tests", allow_module_level=True)

from heeldrop.cmd_sessions import list_sessions  # noqa: E402
from heeldrop.download import download_session  # noqa: E402
from heeldrop.transport import SerialTransport, TransportError  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "host"))
from linkchecks import live_capture, log_samples, mpremote, open_port  # noqa: E402
from linkproxy import GarbageProxy  # noqa: E402

SECONDS = float(os.environ.get("HEELDROP_HIL_SECONDS", "20"))


def _for_seconds(s):
    end = time.monotonic() + s
    return lambda cap: time.monotonic() >= end


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    """A live ingest while the board records, then that session stopped and downloaded."""
    t = open_port(PORT)
    try:
        try:
            t.command("start")
        except TransportError:
            pass  # already running
        cap = live_capture(t, _for_seconds(SECONDS), timeout=SECONDS + 30, tail=0.0)
        r = t.command("stop")
        sid = r.get("session")
        sessions = {s["id"]: s for s in list_sessions(t)}
        assert sid in sessions, "the stopped session is not listed: %s" % sessions
        dest = str(tmp_path_factory.mktemp("dl"))
        res = download_session(t, sessions[sid], dest)
        yield {"t": t, "cap": cap, "session": sessions[sid], "res": res, "dest": dest}
    finally:
        t.close()


def test_live_ingest_loses_nothing(session):
    cap = session["cap"]
    logged = {x[0]: tuple(x[2:8]) for x in log_samples(session["res"].path)}
    lo, hi = min(cap.samples), max(cap.samples)
    missing = [q for q in logged if lo <= q <= hi and q not in cap.samples]
    assert missing == [], "lost on the link: %d samples" % len(missing)
    assert all(logged[k] == v for k, v in cap.samples.items() if k in logged)
    assert session["t"].stats()["bad_frames"] == 0


def test_resume_after_a_disconnect(session, tmp_path):
    s = session["session"]

    class Unplugged(Exception):
        pass

    def cut(done, total):
        if done > total // 3:
            raise Unplugged()

    t = open_port(PORT)
    try:
        with pytest.raises(Unplugged):
            download_session(t, s, str(tmp_path), progress=cut)
    finally:
        t.close()
    t = open_port(PORT)
    try:
        res = download_session(t, s, str(tmp_path))
    finally:
        t.close()
    assert res.status == "resumed"
    with open(res.path, "rb") as a, open(session["res"].path, "rb") as b:
        assert a.read() == b.read()


def test_garbage_injected(session, tmp_path):
    s = session["session"]
    session["t"].close()
    with GarbageProxy(PORT, every=6000, seed=5, to_device=True) as px:
        t = SerialTransport(px.path)
        try:
            t.connect(timeout=5)
            res = download_session(t, s, str(tmp_path))
        finally:
            t.close()
    with open(res.path, "rb") as a, open(session["res"].path, "rb") as b:
        assert a.read() == b.read()


def test_mpremote_copy_is_the_download_byte_for_byte(session, tmp_path):
    session["t"].close()
    r = mpremote(PORT, "fs", "ls", "/sessions")
    assert r.returncode == 0, r.stderr
    sid = session["session"]["id"]
    names = [w for w in r.stdout.split() if w.endswith(".hdl") and int("".join(c for c in w if c.isdigit())) == sid]
    assert names, r.stdout
    r = mpremote(PORT, "fs", "cp", ":/sessions/" + names[0], str(tmp_path / "mp.hdl"))
    assert r.returncode == 0, r.stderr
    with open(tmp_path / "mp.hdl", "rb") as a, open(session["res"].path, "rb") as b:
        assert a.read() == b.read()
    mpremote(PORT, "reset")
