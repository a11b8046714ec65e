"""`make bench`: speed and memory figures, one name=value a line.

All ratios are measured within one run, side by side, because these machines
are shared and noisy: absolute microseconds move with the load, ratios much
less. Sections:

- engine vs a reference 6-axis Madgwick update, in the MicroPython unix port,
  over the same samples (tests/traces/demo_session.csv, 100 Hz): time and
  heap allocated per sample (gc.mem_alloc with the collector off);
- replay speed of the CPython engine (trace time / wall time);
- the firmware's whole per-sample loop (firmware/sim/bench_fw.py), and its
  ratio to the same Madgwick update timed in turns with it in that process
  (goal <= 1.0);
- the serial link over the virtual device (heeldrop.bench_link);
- a report on a 30-minute session (heeldrop.report.bench_report).

Published MicroPython benchmarks put float code on an RP2040 at about 166x
slower than the unix port on a machine like ours (an ESP32 about 116x); the
*_rp2040_est lines apply that factor. They are estimates, not measurements.
"""
import os
import subprocess
import sys
import time

from heeldrop.replay import ACCEL_LSB_PER_G, GYRO_LSB_PER_DPS, FIRMWARE_LIB, ROOT, micropython_bin, run_engine, to_counts
from heeldrop.traceio import read_trace

from heeldrop import resources  # noqa: E402

DEMO = resources.demo_trace()
RP2040_FACTOR = 166.0


def emit(name, value):
    if isinstance(value, float):
        print("%s=%.3f" % (name, value))
    else:
        print("%s=%s" % (name, value))
    sys.stdout.flush()


def engine_vs_madgwick(trace):
    data = "\n".join("%d %d %d %d %d %d %d" % s for s in to_counts(trace) if s is not None) + "\n"
    env = dict(os.environ, MICROPYPATH=FIRMWARE_LIB)
    r = subprocess.run([micropython_bin(), "-X", "heapsize=64m", os.path.join(os.path.dirname(__file__), "mp_bench.py")],
                       input=data.encode(), capture_output=True, env=env, timeout=900)
    if r.returncode:
        emit("engine_bench_error", r.stderr.decode(errors="replace").strip().splitlines()[-1:])
        return {}
    vals = {}
    for line in r.stdout.decode().splitlines():
        k, _, v = line.partition("=")
        vals[k] = v
        print(line)
    try:
        us = float(vals["engine_us_per_sample"])
        emit("engine_us_per_sample_rp2040_est", us * RP2040_FACTOR)
        emit("engine_cpu_percent_at_100hz_rp2040_est", us * RP2040_FACTOR * 100 / 1e6 * 100)
    except (KeyError, ValueError):
        pass
    return vals


def replay_speed(trace):
    t0 = time.perf_counter()
    run_engine(trace)
    wall = time.perf_counter() - t0
    dur = (trace.t_ms[-1] - trace.t_ms[0]) / 1000.0
    emit("replay_x_realtime", dur / wall)


def firmware():
    script = os.path.join(resources.firmware_dir(), "sim", "bench_fw.py")
    if not os.path.exists(script):
        return
    env = dict(os.environ, MICROPYPATH=FIRMWARE_LIB + ":" + resources.firmware_dir())
    r = subprocess.run([micropython_bin(), "-X", "heapsize=64m", script, DEMO], capture_output=True, env=env, timeout=900, cwd=ROOT)
    out = r.stdout.decode()
    sys.stdout.write(out)
    if r.returncode:
        emit("firmware_bench_error", r.stderr.decode(errors="replace").strip().splitlines()[-1:])
    for line in out.splitlines():
        if line.startswith("firmware_us_per_sample="):
            us = float(line.split("=")[1])
            emit("firmware_us_per_sample_rp2040_est", us * RP2040_FACTOR)
            emit("firmware_cpu_percent_at_100hz_rp2040_est", us * RP2040_FACTOR * 100 / 1e6 * 100)


def link():
    try:
        from heeldrop import bench_link
    except ImportError:
        return
    bench_link.main()


def report():
    try:
        from heeldrop import report as rep
    except ImportError:
        return
    path = rep.bench_trace()
    emit("report_30min_s", rep.bench_report(path))


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    only = set(argv)
    trace = read_trace(DEMO)
    emit("bench_trace", os.path.relpath(DEMO, ROOT))
    emit("bench_samples", len(trace.t_ms))
    if not only or "engine" in only:
        engine_vs_madgwick(trace)
        replay_speed(trace)
    if not only or "firmware" in only:
        firmware()
    if not only or "report" in only:
        report()
    if not only or "link" in only:
        link()
    return 0


if __name__ == "__main__":
    sys.exit(main())
