"""`make bench` figures for big files: seconds and peak memory (RSS) of
`heeldrop replay` and `heeldrop report --html` on a generated trace of
BIG_SAMPLES samples (4 million by default, about 200 MB and 11 hours at
100 Hz; HEELDROP_BENCH_BIG_SAMPLES sets another size).

The trace is the committed demo session tiled end to end (times shifted),
written once to build/bench/ (an installed heeldrop: its cache folder) and kept. Each command runs in its own process;
its peak RSS comes from os.wait4, its time from the wall clock.

    python -m heeldrop.bench_big [SAMPLES]
"""
import os
import subprocess
import sys
import time

from heeldrop import resources

DEMO = resources.demo_trace()
BIG_SAMPLES = 4_000_000


def emit(name, value):
    print("%s=%s" % (name, ("%.3f" % value) if isinstance(value, float) else value))
    sys.stdout.flush()


def big_trace(samples=BIG_SAMPLES, path=None):
    """A trace CSV of `samples` samples: the demo session over and over (kept in build/bench)."""
    path = path or os.path.join(resources.work_dir("bench"), "big-%d.csv" % samples)
    if os.path.exists(path):
        return path
    with open(DEMO, encoding="utf-8") as f:
        lines = f.read().splitlines()
    head = [ln for ln in lines if ln.startswith("#") and not ln.startswith("# side_switch_ms")
            and not ln.startswith("# sides=")]
    k = next(i for i, ln in enumerate(lines) if ln.startswith("t_ms"))
    rows = [ln.split(",", 1) for ln in lines[k + 1:]]
    ts = [int(t) for t, _ in rows]
    rest = [r for _, r in rows]
    span = ts[-1] - ts[0] + 10
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8", newline="\n") as f:
        f.write("\n".join(head) + "\n" + lines[k] + "\n")
        n, off = 0, 0
        while n < samples:
            m = min(len(ts), samples - n)
            f.write("".join("%d,%s\n" % (t + off, r) for t, r in zip(ts[:m], rest[:m])))
            n += m
            off += span
    os.replace(tmp, path)
    return path


def measure(argv, cwd=None):
    """(seconds, peak RSS in MB, exit code) of one command in its own process."""
    t0 = time.perf_counter()
    p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=cwd)
    err = p.stderr.read()
    _pid, status, ru = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    dt = time.perf_counter() - t0
    if p.returncode:
        sys.stderr.write(err.decode(errors="replace")[-500:])
    return dt, ru.ru_maxrss / 1024.0, p.returncode


def main(argv=None):
    import tempfile

    argv = sys.argv[1:] if argv is None else argv
    n = int(argv[0]) if argv else int(os.environ.get("HEELDROP_BENCH_BIG_SAMPLES", BIG_SAMPLES))
    path = big_trace(n)
    exe = os.path.join(os.path.dirname(sys.executable), "heeldrop")
    emit("big_samples", n)
    emit("big_trace_mb", os.path.getsize(path) / 1e6)
    s, mb, rc = measure([exe, "replay", path])
    emit("big_replay_s", s)
    emit("big_replay_peak_rss_mb", mb)
    emit("big_replay_us_per_sample", s / n * 1e6)
    with tempfile.TemporaryDirectory() as tmp:
        html = os.path.join(tmp, "r.html")
        s, mb, rc = measure([exe, "report", path, "--html", html])
        emit("big_report_html_s", s)
        emit("big_report_html_peak_rss_mb", mb)
        if os.path.exists(html):
            emit("big_report_html_mb", os.path.getsize(html) / 1e6)
    return 0


if __name__ == "__main__":
    sys.exit(main())
