"""End to end over the virtual device (`heeldrop sim --pty`): the real firmware
in the MicroPython unix port behind a pseudo terminal, and the host tools on
the other side of it, as with a board on a USB port."""
import os
import re
import sys
import time

import pytest
from heelcore import proto

from heeldrop.cmd_sessions import list_sessions
from heeldrop.download import download_session
from heeldrop.replay import ROOT
from heeldrop.simproc import SimProcess
from heeldrop.transport import DisconnectedError, SerialTransport

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from linkchecks import Capture, live_capture, log_samples, mpremote, open_port  # noqa: E402
from linkproxy import GarbageProxy  # noqa: E402

TRACE = os.path.join(ROOT, "tests", "traces", "mixed_faults_right.csv")
PAUSE_S = 5  # how long the starved client reads nothing (the device at full speed fills the ptys in far less)


def device_file(flash, sid):
    """Session sid's log as the device's flash image holds it, copied out."""
    from heeldrop import simflash

    return simflash.session_file(flash, sid)


@pytest.fixture(scope="module")
def played(tmp_path_factory):
    """One whole session played on the virtual device while the host ingests it live."""
    flash = str(tmp_path_factory.mktemp("flash"))
    # stock MicroPython's flash (littlefs over all of it: the .mpy route), so
    # that mpremote sees the session as a file (the frozen build's sessions
    # live in the raw log region: `heeldrop download` reads them)
    sim = SimProcess(TRACE, speed=4, flash=flash, extra=["--raw-kb", "0"]).start()
    try:
        t = open_port(sim.port)
        cap = live_capture(t, timeout=240)
        sessions = list_sessions(t)
        yield {"sim": sim, "flash": flash, "t": t, "cap": cap, "sessions": sessions}
        t.close()
    finally:
        sim.stop()


def test_live_ingest_of_a_whole_session_loses_nothing(played):
    t, cap = played["t"], played["cap"]
    assert played["sessions"], "no session recorded"
    s = played["sessions"][-1]
    assert s["complete"]
    log = log_samples(device_file(played["flash"], s["id"]))
    # every sample the device logged from the moment the host was listening came over the link
    first = cap.order[0]
    want = {x[0]: tuple(x[2:8]) for x in log if x[0] >= first}
    assert len(want) > 5000
    missing = sorted(set(want) - set(cap.samples))
    assert missing == [], "lost on the link: %d samples, first %s" % (len(missing), missing[:5])
    assert all(cap.samples[k] == v for k, v in want.items())
    # gaps the tracker saw are the device's own (logged as GAP records), none on the link
    assert t.stats()["bad_frames"] == 0
    assert cap.order == sorted(cap.order)


def test_a_client_that_stops_reading_holds_the_device_back_and_loses_nothing(tmp_path):
    # A host that stops reading a board's USB serial (a starved or stopped
    # process) holds the board back; the virtual device's pty relay used to
    # throw away what the client's pty could not take (420 samples once, in
    # the test above, on a loaded machine). Here the client reads a little,
    # then reads nothing while the device runs at full speed (far more than
    # the ptys hold), then reads the rest: every sample the device logged
    # from the first one received came over the link, in order, no frame
    # damaged; the only losses are the ones the device itself announced
    # (GAP frames, equal to its log's GAP records: a sensor unplugged).
    flash = str(tmp_path / "flash")
    # the sensor unplugged for 0.5 s at 30 s: losses of the device's own, announced;
    # the trace starts with the host's first byte (a loaded machine may be slow to connect)
    sim = SimProcess(TRACE, speed=None, flash=flash,
                     extra=["--quiet", "--wait-host", "--inject", "unplug@30+0.5"]).start()
    try:
        t = open_port(sim.port)
        cap = Capture()
        gaps = []

        def take(f):
            cap(f)
            if f.type == proto.T_GAP:
                gaps.append(proto.parse_gap(f.payload))

        while len(cap.samples) < 300:
            f = t.next_frame(5)
            assert f is not None, "the device sent nothing"
            take(f)
        time.sleep(PAUSE_S)  # not a bound on anything: the client simply does not read
        # the client's pty was full when it came back (the pause starved it):
        # its line discipline holds 4095 bytes, the rest waits behind it
        assert t.ser.in_waiting >= 4000, t.ser.in_waiting
        end = time.monotonic() + 240
        done = None
        while time.monotonic() < end and (done is None or time.monotonic() < done):
            f = t.next_frame(0.2)
            if f is not None:
                take(f)
            if done is None and cap.stopped:
                done = time.monotonic() + 1.0
        assert cap.stopped, "the session never ended"
        st = t.stats()
        sessions = list_sessions(t)
        t.close()
    finally:
        sim.stop()
    s = sessions[-1]
    assert s["complete"]
    from heelcore.record import LogReader

    with open(device_file(flash, s["id"]), "rb") as fh:
        log = LogReader(fh.read())
    first = cap.order[0]
    want = {x[0]: tuple(x[2:8]) for x in log.samples() if x[0] >= first}
    assert len(want) > 3000 and len(want) > 10 * 300  # most of the session came after the pause
    missing = sorted(set(want) - set(cap.samples))
    assert missing == [], "lost on the link: %d samples, first %s" % (len(missing), missing[:5])
    assert all(cap.samples[k] == v for k, v in want.items())
    assert cap.order == sorted(cap.order) and len(cap.order) == len(set(cap.order))  # nothing doubled
    assert st["bad_frames"] == 0 and st["missed_frames"] == 0 and st["samples_lost"] == 0, st
    # the device's own losses, exactly as its log has them, none added
    # (a GAP of count 0 marks the fault's start in the log; only losses go on the link)
    logged = [(a, n) for a, n, _why in log.gaps() if a >= first and n]
    assert logged and [(g[0], g[1]) for g in gaps] == logged
    assert st["device_lost"] == sum(n for _a, n in logged) >= 25  # 0.5 s at the trace's 50 Hz, at least


def test_short_writes_of_the_device_are_reported_as_its_dropped_frames(tmp_path):
    # A board's USB serial write gives up on a host that does not read
    # (MICROPY_HW_USB_CDC_TX_TIMEOUT, 0.5 s on rp2) and drops what did not
    # fit, returning a short count. The sim cuts 5 of the device's writes
    # (--inject: txshort sends half the frame, txnone nothing and returns
    # None). The device counts them (STATUS tx_dropped, tx_dropped_samples)
    # and the host says exactly that: the frames missing are the ones the
    # device dropped, the samples missing are the ones in them, each half
    # frame costs one bad frame and nothing more (the next frame's 0xC0
    # cuts it off), and every other sample arrives intact.
    flash = str(tmp_path / "flash")
    faults = ["txshort@5", "txnone@9.5", "txshort@14.2", "txshort@22", "txnone@31"]
    sim = SimProcess(TRACE, speed=None, flash=flash,
                     extra=["--quiet", "--wait-host", "--inject", ",".join(faults)]).start()
    try:
        t = open_port(sim.port)
        cap = live_capture(t, timeout=240, tail=2.5)  # STATUS frames after the session's end
        st = t.stats()
        said = t.describe_stats()
        sessions = list_sessions(t)
        t.close()
    finally:
        sim.stop()
    assert st["device_tx_dropped"] == len(faults), (st, sim.lines[-5:])
    assert st["missed_frames"] == len(faults), st  # the seqs of exactly those frames
    assert st["bad_frames"] == sum(1 for f in faults if f.startswith("txshort")), st
    s = sessions[-1]
    assert s["complete"]
    log = log_samples(device_file(flash, s["id"]))
    first = cap.order[0]
    want = {x[0]: tuple(x[2:8]) for x in log if x[0] >= first}
    assert len(want) > 5000
    missing = sorted(set(want) - set(cap.samples))
    # the samples lost on the link are exactly those of the frames the device dropped
    assert len(missing) == st["samples_lost"] == st["device_tx_dropped_samples"], (len(missing), st)
    assert st["device_tx_dropped_samples"] <= len(faults) * 50  # whole SAMPLES batches, nothing more
    assert all(cap.samples[k] == want[k] for k in cap.samples if k >= first)
    assert cap.order == sorted(cap.order) and len(cap.order) == len(set(cap.order))  # nothing doubled
    assert "the device dropped %d frames (%d samples)" % (len(faults), st["device_tx_dropped_samples"]) in said


def test_download_is_the_device_file_byte_for_byte(played, tmp_path):
    t = played["t"]
    s = played["sessions"][-1]
    res = download_session(t, s, str(tmp_path))
    assert res.status == "downloaded"
    with open(res.path, "rb") as a, open(device_file(played["flash"], s["id"]), "rb") as b:
        assert a.read() == b.read()
    assert res.csv and os.path.getsize(res.csv) > 1000
    again = download_session(t, s, str(tmp_path))
    assert again.status == "skipped"


def test_resume_after_the_device_is_killed_mid_download(tmp_path):
    flash = str(tmp_path / "flash")
    dest = str(tmp_path / "dl")
    sim = SimProcess(TRACE, speed=None, flash=flash).start()
    try:
        t = open_port(sim.port)
        live_capture(t, timeout=240, tail=0.3)
        s = list_sessions(t)[-1]
        assert s["complete"]

        def kill_at_a_third(done, total):
            if done > total // 3 and sim.alive():
                sim.kill()

        with pytest.raises(DisconnectedError):
            download_session(t, s, dest, progress=kill_at_a_third)
        t.close()
    finally:
        sim.stop()
    part = [f for f in os.listdir(dest) if f.endswith(".part")]
    assert len(part) == 1
    kept = os.path.getsize(os.path.join(dest, part[0]))
    assert 0 < kept < s["size"]
    # the device comes back on the same flash; the download resumes from the partial file
    sim = SimProcess(TRACE, speed=1, flash=flash).start()
    try:
        t = open_port(sim.port)
        sessions = {x["id"]: x for x in list_sessions(t)}
        res = download_session(t, sessions[s["id"]], dest)
        t.close()
    finally:
        sim.stop()
    assert res.status == "resumed"
    with open(res.path, "rb") as a, open(device_file(flash, s["id"]), "rb") as b:
        assert a.read() == b.read()
    assert not os.path.exists(os.path.join(dest, part[0]))


def test_garbage_injected_into_the_stream(tmp_path):
    flash = str(tmp_path / "flash")
    sim = SimProcess(TRACE, speed=4, flash=flash).start()
    try:
        with GarbageProxy(sim.port, every=6000, seed=3, to_device=True) as px:
            t = SerialTransport(px.path)
            t.connect(timeout=10)
            cap = live_capture(t, timeout=240)
            st = t.stats()
            assert st["garbage_bytes"] > 0 and px.injected > 0
            # noise can cut a frame: its samples are reported as a gap, never invented
            assert t.samples.lost == sum(n for _, n in t.samples.gaps)
            assert len(cap.samples) > 3000
            s = list_sessions(t)[-1]
            log = {x[0]: tuple(x[2:8]) for x in log_samples(device_file(flash, s["id"]))}
            assert all(log.get(k, v) == v for k, v in cap.samples.items())
            assert len(set(cap.samples) & set(log)) > 3000
            res = download_session(t, s, str(tmp_path / "dl"))
            t.close()
        with open(res.path, "rb") as a, open(device_file(flash, s["id"]), "rb") as b:
            assert a.read() == b.read()
    finally:
        sim.stop()


def test_mpremote_lists_and_copies_files_on_the_virtual_device(played, tmp_path):
    played["t"].close()  # mpremote needs the port to itself
    sim, flash = played["sim"], played["flash"]
    sid = played["sessions"][-1]["id"]
    name = os.path.basename(device_file(flash, sid))
    r = mpremote(sim.port, "fs", "ls", "sessions")
    assert r.returncode == 0, r.stderr
    assert name in r.stdout
    r = mpremote(sim.port, "fs", "cp", ":sessions/" + name, ".", cwd=str(tmp_path))
    assert r.returncode == 0, r.stderr
    with open(tmp_path / name, "rb") as a, open(device_file(flash, sid), "rb") as b:
        assert a.read() == b.read()
    # after mpremote the board sits at the REPL: heeldrop says so, in one line
    t = SerialTransport(sim.port)
    try:
        start = time.monotonic()
        with pytest.raises(Exception) as e:
            t.connect(timeout=2)
        assert "no heeldrop firmware answered" in str(e.value) and "MicroPython REPL is there" in str(e.value)
        assert time.monotonic() - start < 10
    finally:
        t.close()


def test_demo_without_a_terminal(tmp_path):
    import subprocess
    exe = os.path.join(os.path.dirname(sys.executable), "heeldrop")
    start = time.monotonic()
    r = subprocess.run([exe, "demo", "--speed", "max", "--dest", str(tmp_path)], capture_output=True, text=True,
                       timeout=240, stdin=subprocess.DEVNULL)
    assert r.returncode == 0, r.stderr[-2000:]
    assert time.monotonic() - start < 120
    assert "Traceback" not in r.stdout + r.stderr
    assert "no samples lost on the link" in r.stdout
    hdl = [f for f in os.listdir(tmp_path) if f.endswith(".hdl")]
    csv = [f for f in os.listdir(tmp_path) if f.endswith(".csv")]
    assert len(hdl) == 1 and len(csv) == 1
    assert str(tmp_path / hdl[0]) in r.stdout and "heeldrop report %s" % (tmp_path / csv[0]) in r.stdout
    assert len(log_samples(str(tmp_path / hdl[0]))) > 30000
    assert "reps: 12" in r.stdout
    assert "\x1b[" not in r.stdout  # plain lines, no terminal codes


def test_demo_replay_mode():
    import subprocess
    exe = os.path.join(os.path.dirname(sys.executable), "heeldrop")
    r = subprocess.run([exe, "demo", "--replay", "--speed", "max"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "reps: 12" in r.stdout and "Rep 1 done" in r.stdout


def test_cli_live_config_side_and_deploy_on_the_virtual_device(tmp_path):
    import subprocess
    from heeldrop.traceio import read_trace
    exe = os.path.join(os.path.dirname(sys.executable), "heeldrop")
    flash = str(tmp_path / "flash")
    # stock MicroPython's flash (littlefs over all of it): `heeldrop deploy`'s route
    sim = SimProcess(TRACE, speed=2, flash=flash, extra=["--raw-kb", "0"]).start()
    try:
        env = dict(os.environ, HEELDROP_PORT=sim.port)

        def hd(*a, timeout=120):
            return subprocess.run([exe] + list(a), capture_output=True, text=True, timeout=timeout, env=env,
                                  stdin=subprocess.DEVNULL)

        out = str(tmp_path / "live.csv")
        r = hd("live", "--seconds", "4", "--save", out)
        assert r.returncode == 0, r.stderr
        assert "no samples lost on the link" in r.stdout and "saved" in r.stdout
        tr = read_trace(out)
        assert len(tr.t_ms) > 300 and tr.meta.get("board") == "sim"
        r = hd("config", "set", "hold_target_s=45")
        assert r.returncode == 0 and "hold_target_s" in r.stdout, r.stderr
        r = hd("config", "get", "hold_target_s")
        assert r.stdout.strip() == "hold_target_s=45.0"
        r = hd("config", "set", "hold_target_s=-1")
        assert r.returncode == 1 and len(r.stderr.strip().splitlines()) == 1 and "out of range" in r.stderr
        r = hd("side", "right")
        assert r.returncode == 0 and "right" in r.stdout
        r = hd("sessions")
        assert r.returncode == 0 and "recording" in r.stdout
        # issue 13.18: the sim's own flash (a Pico's 1408 KB of littlefs), not the host's disk
        m = re.search(r"flash: (\d+) of (\d+) kB free", r.stdout)
        assert m and int(m.group(2)) == 1408 and 1000 < int(m.group(1)) < 1408, r.stdout
        r = hd("doctor")
        assert r.returncode == 0 and "board: sim" in r.stdout, r.stdout
        r = hd("deploy", "--no-restart", timeout=300)
        assert r.returncode == 0, r.stderr
        from heeldrop import simflash

        on_flash = simflash.list_files(flash)
        assert "/lib/heelcore/proto.mpy" in on_flash, sorted(on_flash)
        assert "/main.py" in on_flash or not os.path.exists(os.path.join(ROOT, "firmware", "main.py"))
    finally:
        sim.stop()
