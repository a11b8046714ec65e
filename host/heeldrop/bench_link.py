"""Link benchmarks on the virtual device (`heeldrop sim --pty`), name=value lines:

    download_bytes_per_s          heeldrop's verified download of a session log (littlefs layout,
                                  `heeldrop sim --raw-kb 0`, so that mpremote can copy the same file)
    mpremote_cp_bytes_per_s       `mpremote connect PTY resume fs cp :FILE .` of the same file, same run
    download_to_mpremote_ratio    the first over the second (goal: >= 1)
    live_1khz_60s_lost_samples    samples lost on the link in a 60 s live ingest of a 1 kHz stream (goal: 0):
                                  logged by the device but not received (the device's own gaps, e.g. a
                                  FIFO overflow, are live_1khz_60s_device_gap_samples)
    live_1khz_60s_rate_hz         samples a second of wall time that came over the link: the sim's port
                                  loses nothing (heeldrop.ptyrelay), so a host too slow for the stream
                                  holds the device back and shows here, under 1000, not as losses

    python -m heeldrop.bench_link            (make bench runs it via heeldrop.bench)
"""
import os
import shutil
import subprocess
import sys
import tempfile
import time

from heeldrop import resources

DEMO = resources.demo_trace()


class _Watch:
    """Samples received (seq set) and whether the device stopped recording (the trace ended)."""

    def __init__(self):
        self.seqs = []
        self.recording = False
        self.stopped = False

    def __call__(self, f):
        from heelcore import proto
        if getattr(f, "bad", None):
            return
        if f.type in (proto.T_SAMPLES, proto.T_SAMPLES_PACKED):
            self.seqs.extend(s[0] for s in f.samples)
        elif f.type == proto.T_STATUS:
            st = proto.parse_json(f.payload)
            if isinstance(st, dict):
                if st.get("recording"):
                    self.recording = True
                elif self.recording:
                    self.stopped = True


def _wait_end(sim, t, timeout, watch=None):
    """Read frames until the device stops recording (end of the sim's trace)."""
    watch = watch or _Watch()
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        f = t.next_frame(0.2)
        if f is not None:
            watch(f)
        if watch.stopped:
            return True
        if not sim.alive():
            return False
    return False


def bench_download(tmp, log=print):
    from heeldrop.cmd_sessions import list_sessions
    from heeldrop.download import download_session
    from heeldrop.simproc import SimProcess
    from heeldrop.transport import SerialTransport

    flash = os.path.join(tmp, "flash")
    # littlefs over all of the flash (stock MicroPython, the .mpy route): the
    # only layout in which mpremote can copy a session file at all (the raw
    # log region is not a filesystem), so both copy the same file
    with SimProcess(DEMO, speed=None, flash=flash, extra=["--raw-kb", "0"]) as sim:
        t = SerialTransport(sim.port)
        try:
            t.connect(timeout=10)
            _wait_end(sim, t, 300)
            sessions = list_sessions(t)
            s = sessions[-1]
            dest = os.path.join(tmp, "dl")
            t0 = time.perf_counter()
            res = download_session(t, s, dest)
            dt = time.perf_counter() - t0
            ours = res.size / dt
        finally:
            t.close()
        from heeldrop import simflash

        dev_file = simflash.session_file(flash, s["id"])  # the closed session, copied out of the flash image
        same = open(res.path, "rb").read() == open(dev_file, "rb").read()
        # mpremote of the same file from the same device, right after
        mp = os.path.join(os.path.dirname(sys.executable), "mpremote")
        mp = [mp] if os.path.exists(mp) else [sys.executable, "-m", "mpremote"]
        out = os.path.join(tmp, "mp.hdl")
        # first connection stops the app and enters the REPL; time only the copy
        subprocess.run(mp + ["connect", sim.port, "resume", "exec", "pass"], capture_output=True, timeout=60)
        t0 = time.perf_counter()
        r = subprocess.run(mp + ["connect", sim.port, "resume", "fs", "cp", ":sessions/" + os.path.basename(dev_file),
                                 out],
                           capture_output=True, text=True, timeout=600)
        dt = time.perf_counter() - t0
        if r.returncode != 0 or not os.path.exists(out):
            log("mpremote_cp_error=%s" % " ".join((r.stderr or r.stdout).split())[-200:])
            theirs = None
        else:
            theirs = os.path.getsize(out) / dt
    return ours, theirs, same, res.size


def make_1khz_trace(path, seconds=65):
    exe = os.path.join(os.path.dirname(sys.executable), "heeldrop")
    exe = [exe] if os.path.exists(exe) else [sys.executable, "-m", "heeldrop.cli"]
    subprocess.run(exe + ["synth", "--scenario", "realistic_good", "--rate", "1000", "-q", "-o", path],
                   check=True, timeout=300)
    return path


def bench_live_1khz(tmp, seconds=60.0):
    from heeldrop.cmd_live import Recorder, ingest
    from heeldrop.simproc import SimProcess
    from heeldrop.transport import SerialTransport

    from heeldrop.cmd_sessions import list_sessions
    from heeldrop.download import download_session
    from heelcore.record import LogReader

    trace = make_1khz_trace(os.path.join(tmp, "k1.csv"))
    watch = _Watch()
    with SimProcess(trace, speed=1, flash=os.path.join(tmp, "flash1k")) as sim:
        t = SerialTransport(sim.port)
        try:
            t.connect(timeout=10)
            rec = Recorder(keep=False)
            ingest(t, None, rec, seconds, on_frame=watch)
            # the device's own log of the same samples: what was not received is lost on the link
            t.command("stop")
            s = list_sessions(t)[-1]
            res = download_session(t, s, os.path.join(tmp, "dl1k"))
        finally:
            t.close()
    logged = set(x[0] for x in LogReader(open(res.path, "rb").read()).samples())
    got = set(watch.seqs)
    lo, hi = min(got), max(got)
    link_lost = len([q for q in logged if lo <= q <= hi and q not in got])
    dev_lost = t.samples.device_lost
    return len(got), link_lost, dev_lost, (hi - lo + 1) / seconds, t.stats()


def main():
    tmp = tempfile.mkdtemp(prefix="heeldrop-bench-link-")
    try:
        ours, theirs, same, size = bench_download(tmp)
        print("download_file_bytes=%d" % size)
        print("download_bytes_per_s=%.0f" % ours)
        print("download_equal_to_device_file=%d" % (1 if same else 0))
        if theirs:
            print("mpremote_cp_bytes_per_s=%.0f" % theirs)
            print("download_to_mpremote_ratio=%.2f" % (ours / theirs))
        sys.stdout.flush()
        got, lost, dev_lost, rate, st = bench_live_1khz(tmp)
        print("live_1khz_60s_samples=%d" % got)
        print("live_1khz_60s_rate_hz=%.0f" % rate)
        print("live_1khz_60s_lost_samples=%d" % lost)
        print("live_1khz_60s_device_gap_samples=%d" % max(0, dev_lost))
        print("live_1khz_60s_bad_frames=%d" % st["bad_frames"])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
