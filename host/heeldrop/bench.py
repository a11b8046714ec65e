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
- flash wear and stalls of the demo session on the frozen build's layout (raw log region) and on littlefs alone (heeldrop.bench_flash);
- a report on a 30-minute session (heeldrop.report.bench_report);
- big files: seconds and peak RSS of replay and report --html on a 4 million
  sample trace (heeldrop.bench_big; HEELDROP_BENCH_BIG_SAMPLES for another size).

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


def _sim(args):
    """heeldrop sim with args; its stdout."""
    r = subprocess.run([sys.executable, "-m", "heeldrop.cli", "sim"] + args, capture_output=True, text=True,
                       timeout=3600, cwd=ROOT)
    if r.returncode:
        emit("sim_bench_error", (r.stderr or r.stdout).strip().splitlines()[-1:])
    return r.stdout


def _fields(out, prefix):
    for line in out.splitlines():
        if line.startswith(prefix):
            return dict(x.split("=", 1) for x in line[len(prefix):].split() if "=" in x)
    return {}


def boot_timing():
    """The FIFO read period and the sample-to-cue latency with 1 s of
    start-up work on top of the board's import time (virtual time of the
    sim's Pico cost model: host load does not change it). Goals: period
    within 10 % of the design, latency <= 150 ms median, <= 250 ms p95."""
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        out = _sim(["--trace", DEMO, "--speed", "max", "--quiet", "--flash", d, "--startup-ms", "1000"])
    t = _fields(out, "sim: timing ")
    e = _fields(out, "sim: end ")
    if not t:
        return
    emit("firmware_startup_work_ms", 1000)
    emit("firmware_import_ms_modelled", int(t["import_ms"]))
    emit("firmware_design_read_period_ms", int(t["design_read_period_ms"]))
    emit("firmware_read_period_ms_median", int(t["read_period_ms"]))
    emit("firmware_read_period_ms_mean", float(t["read_period_mean_ms"]))
    emit("firmware_cue_latency_ms_median", int(t["latency_ms_median"]))
    emit("firmware_cue_latency_ms_p95", int(t["latency_ms_p95"]))
    emit("firmware_cue_latency_ms_max", int(t["latency_ms_max"]))
    emit("firmware_startup_samples_lost", int(e.get("lost", -1)))


def long_trace(minutes=30):
    """build/bench/long30.csv: the demo session repeated to 30 minutes."""
    from heeldrop.traceio import write_trace

    path = os.path.join(ROOT, "build", "bench", "long%d.csv" % minutes)
    if os.path.exists(path):
        return path
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tr = read_trace(DEMO)
    cols = {k: [] for k in ("t_ms", "ax", "ay", "az", "gx", "gy", "gz")}
    t = 0
    while t < minutes * 60000:
        for i in range(len(tr.t_ms)):
            if t >= minutes * 60000:
                break
            t += 10
            cols["t_ms"].append(t)
            for k in ("ax", "ay", "az", "gx", "gy", "gz"):
                cols[k].append(getattr(tr, k)[i])
    write_trace(path, cols, {"sample_rate_hz": 100, "side": "left"})
    return path


def board_ram():
    """A Pico's RAM (sim --board-ram pico, 32-bit port): a 30-minute
    session then its download with each supported chip (its driver is
    code in the heap too), code and data in one 246 KB heap, the sessions
    on littlefs as on the board (its objects and caches in the heap: the
    sim mounts the flash inside the board's heap); the largest free block
    after a collection, its minimum over the run (goal >= 16 KB). Each
    chip's figures carry its name (firmware_min_largest_free_block_bytes_
    lsm6dsox ...); firmware_min_largest_free_block_bytes is the worst over
    all of them (firmware_ram_worst_chip names it), so the goal covers
    every chip. The sim's own work allocates nothing in that heap
    (sim_allocs=0, or the figures are not reported). Then what the code
    costs in the heap from .mpy files and from a ROMFS image (as frozen
    code: bytecode and constants stay in flash), plus the Pico's native
    machine code (in the heap from .mpy)."""
    import tempfile

    from heeldrop import cmd_sim

    if not os.path.exists(cmd_sim.UNIX32):
        emit("board_ram_error", "build/unix32/micropython missing: make unix32")
        return
    trace = long_trace(30)
    worst = None  # (min largest free block, chip, its ram fields)
    failed = []
    lost = []  # samples lost, one a chip
    ok = []  # download_ok, one a chip
    t0 = time.perf_counter()
    for chip in cmd_sim.IMUS:
        with tempfile.TemporaryDirectory() as d:
            out = _sim(["--trace", trace, "--speed", "max", "--quiet", "--flash", d, "--board-ram", "pico",
                        "--download", "--imu", chip])
        r = _fields(out, "sim: ram ")
        e = _fields(out, "sim: end ")
        if not r or r.get("sim_allocs") != "0":
            emit("board_ram_error_" + chip,
                 "no figures (the sim's own work allocated in the board's heap, or it failed)")
            failed.append(chip)
            continue
        low = int(r["min_largest_free_block"])
        lost.append(int(e.get("lost", -1)))
        ok.append(int(r["download_ok"]))
        emit("firmware_samples_lost_" + chip, int(e.get("lost", -1)))
        emit("firmware_download_ok_" + chip, int(r["download_ok"]))
        emit("firmware_largest_free_block_after_boot_bytes_" + chip, int(r["after_boot_largest_free_block"]))
        emit("firmware_min_largest_free_block_bytes_" + chip, low)
        emit("firmware_min_largest_free_block_at_s_" + chip, float(r["min_at_s"]))
        if worst is None or low < worst[0]:
            worst = (low, chip, r)
    emit("firmware_board_ram_runs_wall_s", time.perf_counter() - t0)
    if failed or worst is None:
        emit("board_ram_error", "no worst-case figure: no figures for %s" % ", ".join(failed or cmd_sim.IMUS))
    else:
        low, chip, r = worst
        emit("firmware_board", "pico (246 KB heap, armv6m native code in the heap, littlefs)")
        emit("firmware_session_minutes", 30)
        emit("firmware_ram_chips", ",".join(cmd_sim.IMUS))
        emit("firmware_ram_worst_chip", chip)
        emit("firmware_samples_lost", -1 if min(lost) < 0 else max(lost))  # the most over the chips
        emit("firmware_download_ok", min(ok))  # 1: every chip's download came whole
        emit("firmware_heap_used_after_boot_bytes", int(r["after_boot_used"]) + int(r["board_base"]))
        emit("firmware_largest_free_block_after_boot_bytes", int(r["after_boot_largest_free_block"]))
        emit("firmware_min_largest_free_block_bytes", low)
        emit("firmware_min_largest_free_block_at_s", float(r["min_at_s"]))
    # the code's heap: .mpy files against a ROMFS image (32-bit port, x86 .mpy)
    import shutil

    src = cmd_sim.build_firmware(arch="x86")
    with tempfile.TemporaryDirectory() as d:
        for dirpath, _dirs, files in os.walk(src):
            rel = os.path.relpath(dirpath, src)
            if rel.split(os.sep)[0] == "sim":
                continue
            for f in files:
                if f.endswith(".mpy"):
                    os.makedirs(os.path.join(d, "src", rel), exist_ok=True)
                    shutil.copy(os.path.join(dirpath, f), os.path.join(d, "src", rel, f))
        import contextlib
        import io

        from mpremote.romfs import make_romfs

        with contextlib.redirect_stdout(io.StringIO()):
            img = make_romfs(os.path.join(d, "src"), mpy_cross=False)
        with open(os.path.join(d, "fw.romfs"), "wb") as f:
            f.write(img)
        script = os.path.join(ROOT, "firmware", "sim", "code_heap.py")
        vals = []
        for extra, path in (([], src), ([os.path.join(d, "fw.romfs")], "/nonexistent")):
            r = subprocess.run([cmd_sim.UNIX32, "-X", "heapsize=4m", script] + extra, capture_output=True,
                               text=True, env=dict(os.environ, MICROPYPATH=path), cwd=d, timeout=120)
            m = [x for x in r.stdout.split() if x.startswith("code_heap_bytes=")]
            vals.append(int(m[0].split("=")[1]) if m else -1)
    nat = cmd_sim.native_code_bytes("armv6m")
    other = ("drivers.lsm6ds", "drivers.lsm6ds3", "drivers.lsm6dsox", "drivers.qmi8658", "configstore")
    native = sum(v for k, v in nat.items() if k not in other)
    emit("firmware_code_heap_bytes_mpy_files", vals[0])
    emit("firmware_code_heap_bytes_romfs", vals[1])
    emit("firmware_native_code_bytes_armv6m", native)
    emit("firmware_frozen_saves_bytes_pico_est", vals[0] - vals[1] + native)


def link():
    try:
        from heeldrop import bench_link
    except ImportError:
        return
    bench_link.main()


def flash():
    from heeldrop import bench_flash

    bench_flash.main()


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
    if not only or "flash" in only:
        flash()
    if not only or "boot" in only:
        boot_timing()
    if not only or "ram" in only:
        board_ram()
    if not only or "report" in only:
        report()
    if not only or "link" in only:
        link()
    if not only or "big" in only:
        from heeldrop import bench_big
        bench_big.main([])
    return 0


if __name__ == "__main__":
    sys.exit(main())
