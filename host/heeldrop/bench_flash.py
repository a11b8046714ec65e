"""Flash wear and stalls of a session on the sim's flash, for `make bench`.

The demo session (tests/traces/demo_session.csv, 6 minutes at 100 Hz) runs on
the virtual device, its session store on littlefs over the Pico's flash
geometry (firmware/sim/flash.py: 4 KB erase, 256 B program; each erase stalls
the clock 45 ms, or 400 ms for the worst case). Figures, one name=value a line:

  flash_logged_bytes                    session log bytes written
  flash_program_bytes_per_logged_byte   bytes littlefs programmed per logged byte
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

Each figure twice: flash_* with littlefs over the whole flash (the boards'
layout today: every append after a sync copies the file's last block), then
flash_raw_* with the sessions in a raw log region of 1024 KB (`heeldrop sim
--raw-kb 1024`: firmware/rawlog.py, page by page, each block erased once;
littlefs on the other 384 KB for the config and the id counter).
`.venv/bin/python -m heeldrop.bench flash` prints them alone.
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
_FLASH = re.compile(r"sim: flash logged_bytes=(\d+) program_bytes=(\d+) erase_bytes=(\d+) erases=(\d+) "
                    r"stall_ms=(\d+) max_stall_ms=(\d+) max_pass_stall_ms=(\d+) at_risk_ms=(-?\d+)")
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


RAW_KB = "1024"  # the raw log region of the bench's raw layout (littlefs on the other 384 KB of the Pico's 1408)


def layout(tmp, prefix, extra):
    """Print one layout's figures (names prefixed), return nothing."""
    (logged, prog, erase, erases, stall, _mx, mp, risk), _ = run_sim(DEMO, os.path.join(tmp, prefix + "f45"), *extra)
    print("%slogged_bytes=%d" % (prefix, logged))
    print("%sprogram_bytes_per_logged_byte=%.2f" % (prefix, prog / logged))
    print("%serase_bytes_per_logged_byte=%.2f" % (prefix, erase / logged))
    print("%serases=%d" % (prefix, erases))
    print("%sstall_ms=%d" % (prefix, stall))
    print("%ssamples_at_risk_s=%.2f" % (prefix, risk / 1000.0))
    print("%smax_loop_stall_ms=%d" % (prefix, mp))
    sys.stdout.flush()
    worst = risk400 = 0
    for chip in CHIPS:
        (_l, _p, _e, _n, _s, _mx, mp, risk), (n, lost) = run_sim(
            DEMO, os.path.join(tmp, prefix + "f400" + chip), "--erase-ms", "400", "--imu", chip, *extra)
        print("%s400ms_erase_lost_samples_%s=%d" % (prefix, chip, lost))
        worst = max(worst, mp)
        risk400 = max(risk400, risk)
        sys.stdout.flush()
    print("%s400ms_max_loop_stall_ms=%d" % (prefix, worst))
    print("%s400ms_samples_at_risk_s=%.2f" % (prefix, risk400 / 1000.0))


def main():
    tmp = tempfile.mkdtemp(prefix="heeldrop-bench-flash-")
    try:
        layout(tmp, "flash_", ())  # littlefs over the whole flash: the boards' layout today
        layout(tmp, "flash_raw_", ("--raw-kb", RAW_KB))  # the sessions in a raw log region
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
