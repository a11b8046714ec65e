"""Nothing lost, nothing doubled, nothing silently wrong: sessions from the
virtual device's flash (the real firmware in the unix port behind a pty) to
the history database, with kill -9 at random moments (issue 13, goals).

- Two boards (two flashes, two unique ids) each recording a session at every
  boot; `heeldrop download --all --delete-after` into ONE folder, against a
  board picked at random each round; the download client or the device is
  killed with SIGKILL at a random moment. After every round: each local .hdl
  is byte for byte a session some board recorded (by its identity), and each
  session gone from a board has an identical copy on disk.
- Cut sessions (a power cut while recording) are listed as cut and
  downloaded; download-then-import gives exactly the boards' sessions and
  reps.
"""
import os
import random
import signal
import subprocess
import sys
import time

import pytest

from heelcore.record import LogReader
from heeldrop.replay import ROOT
from heeldrop.simproc import SimProcess

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from linkchecks import open_port  # noqa: E402

TRACE = os.path.join(ROOT, "tests", "traces", "walk_to_step_left.csv")
HEELDROP = os.path.join(os.path.dirname(sys.executable), "heeldrop")
BOARDS = {"a": "e6613852836100aa", "b": "e6613852836100bb"}


def device_sessions(flash):
    """{uid: bytes} of the session files on a board's flash image (no sim running)."""
    from heeldrop import simflash

    out = {}
    if not os.path.exists(simflash.image_path(flash)):
        return out
    for path, data in sorted(simflash.read_files(flash).items()):
        f = path.rpartition("/")[2]
        if path.startswith("/sessions/") and f.startswith("s") and f.endswith(".hdl"):
            h = LogReader(data).header if len(data) > 5 else None
            assert h is not None and h.get("uid"), (f, len(data))
            out[h["uid"]] = data
    return out


def local_copies(dest):
    out = {}
    for f in sorted(os.listdir(dest)) if os.path.isdir(dest) else []:
        if f.endswith(".hdl"):
            with open(os.path.join(dest, f), "rb") as fh:
                out[f] = fh.read()
    return out


RAW = ["--raw-kb", "1024"]  # sessions in a raw log region (firmware/rawlog.py); the image keeps its layout


def boot(flash, uid, speed=None, extra=()):
    """The board on this flash: it records the trace as a session, then idles."""
    sim = SimProcess(TRACE, speed=speed, flash=flash, extra=["--uid", uid, "--quiet"] + list(extra)).start()
    return sim


def wait_recorded(sim, timeout=120):
    # the session of this boot is closed once the trace has played (STATUS recording false)
    t = open_port(sim.port)
    try:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            sessions = t.command("list_sessions")["sessions"]
            if sessions and all(s["state"] != "recording" for s in sessions):
                return sessions
            time.sleep(0.3)
        raise AssertionError("the session never closed")
    finally:
        t.close()


def snapshot(flashes, seen):
    """Remember every finished session on the boards (a finished file never changes)."""
    for flash in flashes:
        for uid, data in device_sessions(flash).items():
            if uid in seen:
                assert seen[uid] == data, "session %s changed on the device" % uid
            seen[uid] = data


def check(flashes, dest, seen):
    """The invariants, with no process running: see the module comment."""
    now = {}
    for flash in flashes:
        for uid, data in device_sessions(flash).items():
            if uid in seen:
                assert seen[uid] == data, "session %s changed on the device" % uid
            seen[uid] = data
            now[uid] = data
    local = local_copies(dest)
    by_content = {}
    for name, data in local.items():
        h = LogReader(data).header
        uid = h.get("uid")
        assert uid in seen, "%s: not a session any board recorded" % name
        assert data == seen[uid], "%s differs from session %s" % (name, uid)
        by_content[uid] = name
    for uid in seen:
        if uid not in now:
            assert uid in by_content, "session %s was deleted with no identical copy on disk" % uid
    return now, local


@pytest.mark.parametrize("layout", ["littlefs", "raw"])
def test_random_kills_during_downloads_deletes_and_board_swaps(tmp_path, layout):
    rnd = random.Random(int(os.environ.get("HEELDROP_SEED", "0")) or 20261206)
    flashes = {k: str(tmp_path / ("flash_" + k)) for k in BOARDS}
    dest = str(tmp_path / "sessions")
    seen = {}
    kills = {"client": 0, "device": 0, "none": 0}
    parts = 0  # rounds that left a partial copy (resumed, or proven stale, later)
    for rnd_i in range(10):
        k = rnd.choice(sorted(BOARDS))
        sim = boot(flashes[k], BOARDS[k], extra=RAW if layout == "raw" else ())
        try:
            wait_recorded(sim)
            snapshot(flashes.values(), seen)
            what = rnd.choice(("client", "device", "client", "device", "none"))
            cmd = [HEELDROP, "download", "--all", "--delete-after", "--dest", dest, "--port", sim.port]
            p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
            if what != "none":
                if rnd.random() < 0.6:  # mid-transfer: once a partial copy is being written
                    end = time.monotonic() + 10
                    while p.poll() is None and time.monotonic() < end and not any(
                            f.endswith(".part") for f in (os.listdir(dest) if os.path.isdir(dest) else [])):
                        time.sleep(0.005)
                    time.sleep(rnd.uniform(0.0, 0.1))
                else:  # any moment: connecting, listing, verifying, deleting
                    time.sleep(rnd.uniform(0.05, 1.5))
                if p.poll() is None:
                    if what == "client":
                        p.send_signal(signal.SIGKILL)
                    else:
                        sim.kill()
                    kills[what] += 1
            out = p.communicate(timeout=120)[0].decode()
            parts += any(f.endswith(".part") for f in os.listdir(dest)) if os.path.isdir(dest) else 0
            assert "Traceback" not in out, out
        finally:
            sim.kill()  # a power cut: the board may be anywhere
        check(flashes.values(), dest, seen)
    # no kill: everything reaches the disk and leaves the boards
    for k in sorted(BOARDS):
        sim = boot(flashes[k], BOARDS[k], extra=RAW if layout == "raw" else ())
        try:
            wait_recorded(sim)
            snapshot(flashes.values(), seen)
            r = subprocess.run([HEELDROP, "download", "--all", "--delete-after", "--dest", dest, "--port", sim.port],
                               capture_output=True, text=True, timeout=300)
            assert r.returncode == 0, r.stdout + r.stderr
            assert "NOT deleted" not in r.stdout
        finally:
            sim.stop()
    now, local = check(flashes.values(), dest, seen)
    assert now == {}  # every finished session is off the boards...
    assert sorted(LogReader(d).header["uid"] for d in local.values()) == sorted(seen)  # ...and once on disk
    assert not [f for f in os.listdir(dest) if f.endswith(".part")]
    assert kills["client"] + kills["device"] >= 3 and parts >= 1, (kills, parts)
    # download-then-import: exactly the boards' sessions and reps
    db = str(tmp_path / "history.sqlite")
    r = subprocess.run([HEELDROP, "import", dest, "--db", db], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    import sqlite3
    from heeldrop import report
    con = sqlite3.connect(db)
    rows = dict(con.execute("SELECT uid, n_reps FROM sessions").fetchall())
    con.close()
    assert sorted(rows) == sorted(seen)
    for uid, data in seen.items():
        p = str(tmp_path / "one.hdl")
        with open(p, "wb") as f:
            f.write(data)
        assert rows[uid] == len(report.load_session(p).reps()), uid


@pytest.mark.parametrize("layout", ["littlefs", "raw"])
def test_cut_session_full_flash_and_recovery(tmp_path, layout):
    """A power cut while recording leaves a cut session that downloads; a
    full flash closes the session with its END and the true stop result;
    once space is freed, recording resumes without a reboot."""
    from heeldrop.cmd_sessions import list_sessions
    from heeldrop.download import delete_verified, download_session

    flash = str(tmp_path / "flash")
    dest = str(tmp_path / "dl")
    # a flash of 80 KB (20 littlefs blocks): the second boot's session fills it
    # (raw: a 48 KB raw log region, littlefs on the other 32 KB)
    sim = SimProcess(TRACE, speed=1, flash=flash,
                     extra=["--quiet", "--flash-kb", "80"] + (["--raw-kb", "48"] if layout == "raw" else [])).start()
    try:
        t = open_port(sim.port)
        from heelcore import proto
        end = time.monotonic() + 60
        while time.monotonic() < end:  # 2 s of the session sampled...
            f = t.next_frame(0.5)
            if f is not None and f.type == 0x05 and proto.parse_json(f.payload).get("samples", 0) >= 200:
                break
        time.sleep(2.5)  # ... and flushed (every 1.8 s)
        t.close()
    finally:
        sim.kill()  # power cut mid-session
    sim = SimProcess(TRACE, speed=None, flash=flash, extra=["--quiet"]).start()
    try:
        t = open_port(sim.port)
        end = time.monotonic() + 120
        st = None
        while time.monotonic() < end:
            f = t.next_frame(0.5)
            if f is not None and f.type == 0x05:
                from heelcore import proto
                st = proto.parse_json(f.payload)
                if st.get("flash") in ("low", "full"):
                    break
        assert st and st["flash"] in ("low", "full"), st
        sessions = list_sessions(t)
        states = {s["id"]: s["state"] for s in sessions}
        assert states[1] == "cut", states
        stop = t.command("stop")
        assert stop["session"] == 2 and stop["samples"] > 500, stop  # the samples it holds, not 0
        sessions = list_sessions(t)
        s2 = [s for s in sessions if s["id"] == 2][0]
        assert s2["state"] == "complete"
        from heeldrop import simflash

        r2 = LogReader(open(simflash.session_file(flash, 2), "rb").read())
        assert r2.complete and len(r2.samples()) == stop["samples"]
        # the device counts the sim's own flash (80 KB of littlefs, or the
        # raw log's 11 blocks of 4064 bytes), not the host's disk
        fs = t.command("free_space")
        total = 80 if layout == "littlefs" else 11 * 4064 // 1024
        assert fs["total_kb"] == total and 0 < fs["free_kb"] < total and fs["sessions"] == 2, fs
        # download both (the cut one too) and free the flash
        copies = {}
        for s in sessions:
            res = download_session(t, s, dest)
            assert delete_verified(t, res), s
            copies[s["id"]] = res
        cut = LogReader(open(copies[1].path, "rb").read())
        assert cut.samples() and not cut.complete and "cut" in copies[1].note
        # space is back: STATUS says ok within its 10 s check, start records again
        end = time.monotonic() + 30
        while time.monotonic() < end:
            f = t.next_frame(0.5)
            if f is not None and f.type == 0x05:
                st = proto.parse_json(f.payload)
                if st.get("flash") == "ok":
                    break
        assert st["flash"] == "ok", st
        assert t.command("start")["session"] == 3
        t.close()
    finally:
        sim.stop()


def test_live_keeps_sensor_gaps_apart_from_link_losses(tmp_path):
    # issue 13.16: the sensor unplugged for 0.5 s: the device announces the
    # samples it lost (GAP frames); the host counts none lost on the link
    from linkchecks import live_capture

    sim = SimProcess(TRACE, speed=2, flash=str(tmp_path / "flash"),
                     extra=["--quiet", "--inject", "unplug@4+0.5"]).start()
    try:
        t = open_port(sim.port)
        live_capture(t, timeout=120, tail=0.5)
        st = t.stats()
        text = t.samples.describe()
        t.close()
    finally:
        sim.stop()
    # at least the half second unplugged (25 samples at the trace's 50 Hz),
    # plus however long the retry schedule (10, 40, 100, 250, then 500 ms)
    # takes to find the sensor back
    assert st["device_lost"] >= 25 and st["device_gaps"] >= 1, (st, text)
    assert st["samples_lost"] == 0, (st, text)
    assert "no samples lost on the link" in text and "sensor itself lost" in text


def test_a_corrupt_config_is_reported_not_silent(tmp_path):
    # issue 13.6: a damaged /heeldrop.json: the device runs on its defaults,
    # says so in every STATUS, plays the config_fault cue, and doctor lists it
    from heelcore import proto

    flash = tmp_path / "flash"
    flash.mkdir()
    from heeldrop import simflash

    simflash.put(str(flash), "/heeldrop.json", b'{"hold_target_s": 45, "reps_per_side": 1\x00\x17')
    sim = SimProcess(TRACE, speed=1, flash=str(flash), extra=["--quiet"]).start()
    try:
        t = open_port(sim.port)
        st = None
        end = time.monotonic() + 30
        while st is None and time.monotonic() < end:
            f = t.next_frame(0.5)
            if f is not None and f.type == proto.T_STATUS:
                st = proto.parse_json(f.payload)
        t.close()
        assert st is not None and st.get("config_fault"), st
        assert "not valid JSON" in st["config_fault"]
        r = subprocess.run([HEELDROP, "doctor", "--port", sim.port], capture_output=True, text=True, timeout=120)
        assert "could not use its saved settings" in r.stdout and "not valid JSON" in r.stdout, r.stdout
        assert r.returncode == 1  # a problem, not "no problems found"
    finally:
        sim.stop()
    # the cue for the person on the step: the board's buzzer plays config_fault at power-up
    r = subprocess.run([HEELDROP, "sim", "--trace", TRACE, "--speed", "max", "--flash", str(flash)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "config: heeldrop.json: not valid JSON" in r.stdout
    assert "BUZZ 988 Hz 150 ms" in r.stdout and "BUZZ 494 Hz 400 ms" in r.stdout
