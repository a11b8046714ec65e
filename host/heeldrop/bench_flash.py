"""Flash wear and stalls of a session on the sim's flash, for `make bench`.

The demo session (tests/traces/demo_session.csv, 6 minutes at 100 Hz) runs on
the virtual device, its flash on the Pico's geometry (firmware/sim/flash.py:
4 KB erase, 256 B program; each erase stalls the clock 45 ms, or 400 ms for
the worst case). Figures, one name=value a line:

  flash_logged_bytes                    session log bytes written
  flash_program_bytes_per_logged_byte   bytes programmed per logged byte: each program op
                                        counted from its first to its last byte other than
                                        0xFF (a 0xFF byte programs no cell; the bytes an
                                        ESP32, which takes byte ranges, would program)
  flash_program_page_bytes_per_logged_byte  bytes the program ops send per logged byte,
                                        whole 256-byte pages (what an RP2040's
                                        flash_range_program sends; the figure before
                                        session 17): the raw log programs a page as it
                                        fills, and the partly filled one only when its
                                        oldest sample is due (firmware/logstore.py,
                                        _due), so each page goes about once
  flash_reprogram_bytes                 bytes other than 0xFF sent onto a byte programmed
                                        already (cells programmed twice)
  flash_erase_bytes_per_logged_byte     bytes erased per logged byte
  flash_erases                          4 KB erases in the session
  flash_stall_ms                        CPU stall they cost (45 ms an erase, 0.4 ms a page)
  flash_samples_at_risk_s               the longest stretch of samples a power cut would
                                        have cost, measured (at every loop pass and flash
                                        operation: made by the IMU, not yet synced)
  flash_max_loop_stall_ms               the longest flash stall of one loop pass
  flash_400ms_erase_lost_samples_<chip> samples lost with every erase at 400 ms, per chip
  flash_400ms_max_loop_stall_ms         the longest stall of one loop pass then
  flash_400ms_samples_at_risk_s         samples at risk then

Then the frozen build's layout at every supported rate (the demo session
made at that rate: `heeldrop synth --scenario session --demo --seed 2026
--rate R`; MPU-6050): flash_rate<R>_logged_bytes_per_sample (the log's size:
blocks cut early to fill pages cost a few bytes a sample at 25 and 50 Hz),
flash_rate<R>_program_bytes_per_logged_byte,
flash_rate<R>_program_page_bytes_per_logged_byte,
flash_rate<R>_erase_bytes_per_logged_byte, flash_rate<R>_samples_at_risk_s
(45 ms erases), flash_rate<R>_400ms_samples_at_risk_s (every erase 400 ms),
and the worst of the rates: flash_rates_max_program_bytes_per_logged_byte,
flash_rates_max_program_page_bytes_per_logged_byte,
flash_rates_max_erase_bytes_per_logged_byte, flash_rates_max_samples_at_risk_s
(with both erase times; at 500 Hz and 1 kHz a 400 ms erase overflows the
MPU-6050's FIFO: those samples are lost, not at risk).

Each demo figure twice: flash_* on the frozen build's layout (the sim's default,
firmware/flashboot.py: the sessions in a raw log region of 1280 KB,
firmware/rawlog.py, page by page, each block erased once; littlefs on the
other 128 KB for the config and the id counter), then flash_littlefs_* with
littlefs over the whole flash (`--raw-kb 0`: stock MicroPython with the
firmware's .mpy files, the `heeldrop deploy` route: every append after a
sync copies the file's last block). `.venv/bin/python -m heeldrop.bench
flash` prints them alone.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

from heeldrop.replay import ROOT

DEMO = os.path.join(ROOT, "tests", "traces", "demo_session.csv")
CHIPS = ("mpu6050", "mpu6500", "lsm6ds3", "lsm6dsox", "qmi8658")
RATES = (25, 50, 100, 200, 500, 1000)
_FLASH = re.compile(r"sim: flash logged_bytes=(\d+) program_bytes=(\d+) erase_bytes=(\d+) erases=(\d+) "
                    r"stall_ms=(\d+) max_stall_ms=(\d+) max_pass_stall_ms=(\d+) at_risk_ms=(-?\d+) "
                    r"program_span_bytes=(\d+) reprogram_bytes=(\d+)")
_END = re.compile(r"sim: end samples=(\d+) lost=(\d+)")


def run_sim(trace, flash, *extra):
    cmd = [sys.executable, "-m", "heeldrop.cli", "sim", "--trace", trace, "--speed", "max", "--flash", flash,
           "--quiet"] + list(extra)
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=900, cwd=ROOT)
    m = _FLASH.search(r.stdout)
    e = _END.search(r.stdout)
    if not m or not e:
        raise RuntimeError("the sim did not report its flash: %s" % (r.stdout[-500:] + r.stderr[-500:]))
    return [int(x) for x in m.groups()], [int(x) for x in e.groups()]


def layout(tmp, prefix, extra):
    """Print one layout's figures (names prefixed), return nothing."""
    (logged, prog, erase, erases, stall, _mx, mp, risk, span, again), _ = run_sim(
        DEMO, os.path.join(tmp, prefix + "f45"), *extra)
    print("%slogged_bytes=%d" % (prefix, logged))
    print("%sprogram_bytes_per_logged_byte=%.2f" % (prefix, span / logged))
    print("%sprogram_page_bytes_per_logged_byte=%.2f" % (prefix, prog / logged))
    print("%sreprogram_bytes=%d" % (prefix, again))
    print("%serase_bytes_per_logged_byte=%.2f" % (prefix, erase / logged))
    print("%serases=%d" % (prefix, erases))
    print("%sstall_ms=%d" % (prefix, stall))
    print("%ssamples_at_risk_s=%.2f" % (prefix, risk / 1000.0))
    print("%smax_loop_stall_ms=%d" % (prefix, mp))
    sys.stdout.flush()
    worst = risk400 = 0
    for chip in CHIPS:
        (_l, _p, _e, _n, _s, _mx, mp, risk, _sp, _a), (n, lost) = run_sim(
            DEMO, os.path.join(tmp, prefix + "f400" + chip), "--erase-ms", "400", "--imu", chip, *extra)
        print("%s400ms_erase_lost_samples_%s=%d" % (prefix, chip, lost))
        worst = max(worst, mp)
        risk400 = max(risk400, risk)
        sys.stdout.flush()
    print("%s400ms_max_loop_stall_ms=%d" % (prefix, worst))
    print("%s400ms_samples_at_risk_s=%.2f" % (prefix, risk400 / 1000.0))


def rates(tmp):
    """The frozen build's layout at every supported rate (the demo session
    made at that rate): print each rate's figures and the worst."""
    worst = {"program": 0.0, "page": 0.0, "erase": 0.0, "risk": 0}
    for rate in RATES:
        trace = os.path.join(tmp, "demo%d.csv" % rate)
        r = subprocess.run([sys.executable, "-m", "heeldrop.cli", "synth", "--scenario", "session", "--demo", "--seed",
                            "2026", "--rate", str(rate), "-o", trace], capture_output=True, text=True, timeout=600,
                           cwd=ROOT)
        if r.returncode:
            raise RuntimeError("synth at %d Hz failed: %s" % (rate, r.stderr[-500:]))
        (logged, prog, erase, _n, _s, _mx, _mp, risk, span, _a), (samples, _lost) = run_sim(
            trace, os.path.join(tmp, "r%d" % rate))
        (_l, _p, _e, _n, _s, _mx, _mp, risk400, _sp, _a), _ = run_sim(trace, os.path.join(tmp, "r%d400" % rate),
                                                                       "--erase-ms", "400")
        name = "flash_rate%d_" % rate
        print("%slogged_bytes_per_sample=%.2f" % (name, logged / samples))
        print("%sprogram_bytes_per_logged_byte=%.2f" % (name, span / logged))
        print("%sprogram_page_bytes_per_logged_byte=%.2f" % (name, prog / logged))
        print("%serase_bytes_per_logged_byte=%.2f" % (name, erase / logged))
        print("%ssamples_at_risk_s=%.2f" % (name, risk / 1000.0))
        print("%s400ms_samples_at_risk_s=%.2f" % (name, risk400 / 1000.0))
        sys.stdout.flush()
        worst["program"] = max(worst["program"], span / logged)
        worst["page"] = max(worst["page"], prog / logged)
        worst["erase"] = max(worst["erase"], erase / logged)
        worst["risk"] = max(worst["risk"], risk, risk400)
    print("flash_rates_max_program_bytes_per_logged_byte=%.2f" % worst["program"])
    print("flash_rates_max_program_page_bytes_per_logged_byte=%.2f" % worst["page"])
    print("flash_rates_max_erase_bytes_per_logged_byte=%.2f" % worst["erase"])
    print("flash_rates_max_samples_at_risk_s=%.2f" % (worst["risk"] / 1000.0))


def main():
    tmp = tempfile.mkdtemp(prefix="heeldrop-bench-flash-")
    try:
        layout(tmp, "flash_", ())  # the frozen build's layout (the sim's default): sessions in a raw log region
        layout(tmp, "flash_littlefs_", ("--raw-kb", "0"))  # littlefs over the whole flash: the .mpy route
        rates(tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
