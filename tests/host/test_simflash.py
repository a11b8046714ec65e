"""The sim's flash on littlefs (`heeldrop sim`, firmware/sim/flash.py):
the board's geometry, wear and stalls counted, power cuts as SIGKILL (issue 11.3)."""
import os
import re
import subprocess
import sys
import time

import pytest

from heelcore.record import LogReader
from heeldrop.replay import ROOT
from heeldrop.simflash import read_files

TRACE = os.path.join(ROOT, "tests", "traces", "mixed_faults_right.csv")  # 73 s at 100 Hz
FLASH_RE = re.compile(r"sim: flash logged_bytes=(\d+) program_bytes=(\d+) erase_bytes=(\d+) erases=(\d+) "
                      r"stall_ms=(\d+) max_stall_ms=(\d+) max_pass_stall_ms=(\d+) at_risk_ms=(-?\d+) "
                      r"program_span_bytes=(\d+) reprogram_bytes=(\d+)")
END_RE = re.compile(r"sim: end samples=(\d+) lost=(\d+) gaps=(\d+) faults=(\d+)")


def sim(flash, *extra, timeout=600):
    cmd = [sys.executable, "-m", "heeldrop.cli", "sim", "--trace", TRACE, "--speed", "max", "--flash", str(flash),
           "--quiet"] + list(extra)
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=ROOT)


LFS = ("--raw-kb", "0")  # littlefs over the whole flash: stock MicroPython's layout (the .mpy route)


def test_a_session_on_littlefs_counts_wear_and_reads_back(tmp_path):
    r = sim(tmp_path, *LFS)
    assert r.returncode == 0, r.stderr
    logged, prog, erase, erases, stall, mx, mp, risk, span, again = [int(x) for x in FLASH_RE.search(r.stdout).groups()]
    n, lost, gaps, faults = [int(x) for x in END_RE.search(r.stdout).groups()]
    # a power cut at any moment costs at most 2 s of samples (measured at
    # every loop pass and flash operation: made by the IMU, not yet synced)
    assert 1000 < risk <= 2000, risk
    assert lost == 0 and faults == 0
    files = read_files(str(tmp_path))
    log = LogReader(files["/sessions/s0001.hdl"])
    assert log.complete and log.errors == [] and len(log.samples()) == n
    assert logged == len(files["/sessions/s0001.hdl"])
    # littlefs copies the last block at every flush: wear is counted, a 4 KB erase at a time
    assert erase == 4096 * erases and erases > 10 and prog > logged
    assert stall >= 45 * erases and mx == 45
    assert os.path.getsize(tmp_path / "flash.img") == 352 * 4096  # the Pico's 1408 KB


RAW = ()  # the default: the frozen build's layout (flashboot.py: 1280 KB raw log region, littlefs on the other 128 KB)


def test_a_session_in_the_raw_log_region_meets_the_wear_goals(tmp_path):
    # issue 11.3: program <= 1.5x and erase <= 2.0x the logged bytes, at most
    # 2 s of samples at risk; littlefs alone programmed 3.5x and erased 5.3x
    # (it copies the file's last block at every sync). Counts, not timings.
    # The sim's default flash is the frozen build's, made by its boot code
    # (firmware/flashboot.py, as firmware/boot/rp2/_boot.py runs it).
    r = sim(tmp_path, *RAW)
    assert r.returncode == 0, r.stderr
    logged, prog, erase, erases, stall, mx, mp, risk, span, again = [int(x) for x in FLASH_RE.search(r.stdout).groups()]
    n, lost, gaps, faults = [int(x) for x in END_RE.search(r.stdout).groups()]
    assert lost == 0 and faults == 0
    assert span <= 1.5 * logged and erase <= 2.0 * logged, (span / logged, erase / logged)
    assert prog <= 1.5 * logged and again == 0, (prog / logged, again)  # (whole pages too, at 100 Hz)
    assert 500 < risk <= 2000, risk
    files = read_files(str(tmp_path))
    log = LogReader(files["/sessions/s0001.hdl"])
    assert log.complete and log.errors == [] and len(log.samples()) == n
    assert logged == len(files["/sessions/s0001.hdl"])
    assert "/heeldrop.json" in files or "/sessions/store_id" in files  # littlefs on the rest
    with open(tmp_path / "flash.img", "rb") as f:
        head = f.read(24)
    assert head[0:8] == b"HDRAWLOG" and int.from_bytes(head[16:20], "little") == 320  # 1280 KB at block 0
    # the next boot keeps the layout (no --raw-kb needed) and the session
    r2 = sim(tmp_path)
    assert r2.returncode == 0, r2.stderr
    after = read_files(str(tmp_path))
    assert after["/sessions/s0001.hdl"] == files["/sessions/s0001.hdl"]
    assert LogReader(after["/sessions/s0002.hdl"]).complete


def test_the_raw_log_region_meets_the_wear_goals_at_25hz(tmp_path):
    # issue 11.3 at the lowest supported rate (the demo session made at 25
    # Hz: ~240 bytes a second, ~340 a sync): the bytes programmed (each
    # program op from its first to its last byte other than 0xFF) <= 1.5x
    # the logged bytes, erased <= 2.0x, at most 2 s of samples at risk with
    # 45 ms and with 400 ms erases, no byte programmed twice. Before, a sync
    # sent the page's older bytes again: 1.39x by the same count, 32,663
    # bytes programmed twice. In whole pages (an RP2040 sends 256 bytes a
    # program whatever they hold) <= 1.5x too: 1.79x before (a timer flush
    # every 1.4 s programmed the part filled page, ~340 bytes a flush: each
    # page ~twice); now a page is programmed as it fills and the part
    # filled one only when its oldest sample is due (1.23x).
    trace = str(tmp_path / "demo25.csv")
    r = subprocess.run([sys.executable, "-m", "heeldrop.cli", "synth", "--scenario", "session", "--demo", "--seed",
                        "2026", "--rate", "25", "-o", trace], capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    for erase_ms in ("45", "400"):
        cmd = [sys.executable, "-m", "heeldrop.cli", "sim", "--trace", trace, "--speed", "max", "--flash",
               str(tmp_path / erase_ms), "--quiet", "--erase-ms", erase_ms]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=600, cwd=ROOT)
        assert r.returncode == 0, r.stderr
        logged, prog, erase, erases, stall, mx, mp, risk, span, again = [
            int(x) for x in FLASH_RE.search(r.stdout).groups()]
        n, lost, gaps, faults = [int(x) for x in END_RE.search(r.stdout).groups()]
        assert (n, lost, faults) == (9220, 0, 0), r.stdout[-400:]
        assert again == 0 and span <= 1.5 * logged and erase <= 2.0 * logged, (again, span / logged, erase / logged)
        assert prog <= 1.5 * logged, prog / logged  # the page figure (make bench)
        assert 500 < risk <= 2000, (erase_ms, risk)
        data = read_files(str(tmp_path / erase_ms))["/sessions/s0001.hdl"]
        log = LogReader(data)
        assert log.complete and log.errors == [] and len(log.samples()) == n and logged == len(data)


def test_a_littlefs_image_is_never_repartitioned(tmp_path):
    # a raw log region on an image that holds littlefs over all of it would
    # wipe its files: refused, with what to do; the files are untouched
    r = sim(tmp_path, *LFS)
    assert r.returncode == 0, r.stderr
    files = read_files(str(tmp_path))
    r2 = sim(tmp_path, "--raw-kb", "1024")
    assert r2.returncode != 0 and "would wipe its files" in r2.stderr and "Traceback" not in r2.stderr, r2.stderr
    assert read_files(str(tmp_path)) == files


@pytest.mark.parametrize("layout", ["littlefs", "raw"])
def test_no_sample_lost_through_400ms_erases_at_100hz(tmp_path, layout):
    # every erase stalls the CPU 400 ms (the datasheet maximum); every chip's
    # FIFO carries the samples over it at 100 Hz, the MPU-6500's too (42
    # samples, 420 ms): the log writes right after a read of a read period's
    # samples, with at most one erase a loop pass (never two: 806 ms). The
    # store is set up before the IMU samples, so its first erases do not
    # come out of the FIFO either; an overrun during that set-up leaves no
    # stale flag behind (the LSM6DSOX's latched one lost 257 samples).
    for imu in ("mpu6050", "mpu6500", "lsm6ds3", "lsm6dsox", "qmi8658"):
        r = sim(tmp_path / imu, "--erase-ms", "400", "--imu", imu, *(RAW if layout == "raw" else LFS))
        assert r.returncode == 0, r.stderr
        n, lost, gaps, faults = [int(x) for x in END_RE.search(r.stdout).groups()]
        logged, prog, erase, erases, stall, mx, mp, risk, span, again = [int(x) for x in FLASH_RE.search(r.stdout).groups()]
        # 7312 rows; the chip samples them at its ODR: 104 Hz LSM6DS, 112.1 Hz QMI8658
        want = {"lsm6ds3": 7605, "lsm6dsox": 7605, "qmi8658": 8197}.get(imu, 7312)
        assert (n, lost, gaps, faults) == (want, 0, 0, 0), (imu, r.stdout[-400:])
        assert mx == 400 and erases > 10 and 400 <= mp < 2 * 400, (imu, mp)
        if layout == "raw":
            assert risk <= 2000, (imu, risk)  # a 400 ms erase once a block, never in a sync's way


@pytest.mark.parametrize("layout", ["littlefs", "raw"])
def test_sigkill_mid_session_is_a_power_cut(tmp_path, layout):
    # the image is written through op by op: a killed sim leaves what the
    # chip would keep; littlefs mounts it (or the raw log's scan finds the
    # session) and the log reads to its last flush
    from heeldrop.simproc import SimProcess

    sim_ = SimProcess(TRACE, speed=2, flash=str(tmp_path),
                      extra=["--quiet"] + (list(RAW) if layout == "raw" else list(LFS))).start()
    try:
        time.sleep(6)
    finally:
        sim_.kill()
    files = read_files(str(tmp_path))
    r = LogReader(files["/sessions/s0001.hdl"])
    assert not r.complete and r.skipped_bytes == 0 and len(r.samples()) > 300
    # the next boot mounts the same flash: session 2, session 1 untouched
    r2 = sim(tmp_path)
    assert r2.returncode == 0, r2.stderr
    after = read_files(str(tmp_path))
    assert after["/sessions/s0001.hdl"] == files["/sessions/s0001.hdl"]
    assert LogReader(after["/sessions/s0002.hdl"]).complete


def test_docs_describe_the_sim_flash_as_the_littlefs_image():
    # the flash is DIR/flash.img (littlefs), no longer a folder of files (--fs dir is gone)
    for name in ("HOSTLINK.md", "DESIGN.md"):
        text = open(os.path.join(ROOT, "docs", name)).read()
        assert "--flash` folder" not in text and "--fs" not in text, name


def test_a_bad_raw_kb_is_a_clear_error(tmp_path):
    r = sim(tmp_path, "--raw-kb", "6")
    assert r.returncode != 0 and "--raw-kb: a multiple of 4, at least 8" in r.stderr and "Traceback" not in r.stderr
    r = sim(tmp_path / "big", "--raw-kb", "1408")  # no room left for littlefs
    assert r.returncode != 0 and "does not fit" in r.stderr and "Traceback" not in r.stderr, r.stderr
