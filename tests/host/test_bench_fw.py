"""The firmware bench (`make bench`'s firmware_* lines) runs and reports
what it claims: a smoke test on a short trace, no timing asserted (speed
goals live in `make bench`, not in tests)."""
import os
import subprocess

from heeldrop.replay import FIRMWARE_LIB, ROOT, micropython_bin
from heeldrop.traceio import read_trace

TRACE = os.path.join(ROOT, "tests", "traces", "mixed_faults_right.csv")


def test_firmware_bench_reports_every_figure():
    env = dict(os.environ, MICROPYPATH=FIRMWARE_LIB + ":" + os.path.join(ROOT, "firmware"))
    r = subprocess.run([micropython_bin(), "-X", "heapsize=64m", os.path.join(ROOT, "firmware", "sim", "bench_fw.py"),
                        TRACE], capture_output=True, text=True, env=env, timeout=600, cwd=ROOT)
    assert r.returncode == 0, r.stderr[-2000:]
    vals = dict(line.split("=", 1) for line in r.stdout.splitlines() if "=" in line)
    n = len(read_trace(TRACE).t_ms)
    assert int(vals["firmware_samples"]) == n  # every sample went through the loop
    for k in ("firmware_us_per_sample", "firmware_madgwick_us_per_sample", "firmware_to_madgwick_time_ratio",
              "firmware_driver_us_per_sample", "firmware_engine_us_per_sample",
              "firmware_log_codec_us_per_sample", "firmware_stream_us_per_sample"):
        assert float(vals[k]) > 0, k
    assert 0 < int(vals["firmware_peak_heap_bytes"]) < 96 * 1024
    # Heap churn (every allocation, freed or not; micropython.mem_total, a
    # count, not a timing): the read path is native code and calls nothing
    # that puts a frame or an argument copy on the heap. It was ~430 bytes a
    # sample when it did, ~90 on this trace since (events, STATUS and frame
    # slices); a heap frame back on the per-read path shows here. The once-a-
    # tick (10 Hz) bytecode methods whose frames are over the VM's 11 words
    # on the C stack take theirs from the heap and free it on return (the
    # rep machine's, Engine._run_tick: machine code out of the board's heap,
    # docs/DESIGN.md RAM): ~20 bytes a sample each on this 64-bit port, 191
    # with the rep machine's alone, 214 with _run_tick (a frame on the
    # per-read path adds ~300 more).
    assert 0 <= float(vals["firmware_heap_churn_bytes_per_sample"]) < 300
    assert float(vals["firmware_stream_bytes_per_sample"]) > 12  # 12 bytes of counts a sample, framed
    assert int(vals["firmware_reps"]) >= 1
    # the app's schedule: about 20 FIFO reads a second at 100 Hz, plus cue steps
    assert 15 < float(vals["firmware_passes_per_second"]) < 60
