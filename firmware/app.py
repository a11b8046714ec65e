# The device app: the main loop that turns IMU samples into cues, a session
# log and a serial stream. Every stage is an injected object, so the same
# loop runs on a board (app.run()), in the unix port on the sim board
# (firmware/sim/runner.py) and in the tests.
#
#   a = App(imu, config, settings, cues, button, store, link, ticks_ms, idle)
#   a.start(side="left")            # coaching (+ recording when a store is given)
#   a.run()                         # until stop_loop() or KeyboardInterrupt
#
# One pass of the loop (loop_once) does what is due, each task on its own
# deadline (one integer comparison when it is not due):
#   1. the FIFO read, half a sample period after the sample (by the sample
#      clock) that brings the engine's next slow tick: the engine decides
#      and emits its events on that 100 ms tick of sample time, so its cues
#      wait ~5 ms for a read, not up to a read period (a bounce, cued at
#      once by the engine, waits up to 100 ms). At most _READ_MS (100 ms)
#      apart, less when a _STALL_MS loop stall (a flash write) would not
#      fit in the FIFO on top (an MPU-6500 at 200 Hz: 50 ms), or a third of
#      the FIFO if even that cannot be (14 ms at 1 kHz). Mid-way between
#      samples the FIFO holds whole frames and the driver's loss estimate is
#      exact. The read drains the FIFO into a preallocated array('h') (up to
#      _MAXN samples; at once again if it was full); the sample clock gives
#      the samples their ticks (array('i')); the engine steps through them
#      (feed(), a viper loop), then the log and the stream take the whole
#      read as arrays (machine-code copies). Events are drained after:
#      cues, log EVENT records, EVENT frames.
#   2. the cue player when its step ends (so beeps keep their lengths).
#   3. with each read and _POLL_MS (50 ms) after it: button (debounce
#      25 ms), log.poll, link.poll; for _HOT_MS after serial input, every
#      ms, and no sleep after a pass that read some (a download goes at
#      full speed).
#   4. once a second: the STATUS frame (also sent when the phase changes,
#      which moves this deadline) and, every 10 s, the free space.
#   5. idle(ms) until the earliest deadline (board: time.sleep_ms). Nothing
#      else waits: cues are scheduled steps, never sleeps, and the board
#      sleeps between deadlines instead of spinning: at 100 Hz about 20
#      passes a second, half of them reading 10 samples (plus one per cue
#      step while a cue plays).
#
# The sample clock: the FIFO, not the loop, sets the time. Sample seq (the
# driver's count, lost samples included) has t_ms = t0 + seq * period,
# advanced incrementally (integer ms plus a remainder, so a non-integer ODR
# like 104 Hz stays exact and nothing leaves the small-int range), with
# t0 = ticks_ms() when sampling started. A stalled loop therefore changes
# nothing the engine sees: the samples come out of the FIFO later with the
# same times.
#
# Error policy (never crash, never lose data silently):
# - OSError/IMUError from the driver: cue "sensor_fault", a GAP record with
#   count 0 and the reason right away (so a power cut during the outage still
#   leaves the fault in the log), a STATUS and an ERROR frame; then
#   imu.recover() after 10, 40, 100, 250 ms and every 500 ms after that. When it returns the driver's booked gap
#   (imu.take_gap()) is logged as a GAP record with the reason and the
#   sample clock jumps over it. A transient error (the next read works) is
#   booked the same way by the driver's next read_fifo.
# - FIFO overflow (the loop stalled longer than the FIFO holds): a GAP
#   record "fifo_overflow"; coaching goes on.
# - flash low or full: cue, STATUS, the session file is closed cleanly and
#   recording stops; coaching goes on.
# - an exception in a command handler becomes an "internal" REPLY (link.py);
#   one in the engine a NOTE "engine_error ..." in the log, an ERROR frame
#   and a fresh engine (it recalibrates): coaching goes on.
# - KeyboardInterrupt (Ctrl-C on the wire) ends run() after closing the log,
#   so the REPL and mpremote take over.
#
# Memory: the per-sample path (_process) allocates nothing itself: ints from
# preallocated arrays into the engine (viper core), the log's add_samples
# (viper copy into its preallocated block) and the link's SampleBatch
# (viper copy). Events, STATUS and commands allocate (a few per second at
# most). Calls allocate too, unseen: MicroPython puts a bytecode function's
# frame on the heap when it needs more than 11 words (most methods), and a
# bound method called with more than 4 arguments copies them there; each is
# a gc_alloc whose search grows with the heap's fragmentation. So the
# methods a read goes through (loop_once, _read, _process, the driver's
# read_fifo/_read, the log's add_samples/poll, the link's stream_samples/
# send, SampleBatch.add_many, encode_frame) are @micropython.native (frames
# on the C stack; identity on CPython), the engine's feed() calls step() as a
# plain function, and small methods stay small. `make bench` reports the
# churn (firmware_heap_churn_bytes_per_sample: ~70 bytes a sample, from
# events, STATUS and the frames' memoryview slices; ~430 before).
import gc


def _load(names):
    # Each module's load leaves garbage (the .mpy reader's buffers, temporary
    # objects); collected before the next one loads, the code of all of them
    # packs together at the bottom of the heap instead of being strewn among
    # holes (on a Pico, .mpy code and data share the one heap: strewn code
    # left a 3 KB largest free block with 64 KB free). So the modules load
    # one at a time, leaves first (a module importing another loads only
    # itself then), with a collection after each: a collection only between
    # the app's own imports left the garbage of every module a nested import
    # loaded among their code (with boot()'s loads below, the Pico model's
    # largest free block after boot: 13.1 -> 14.1 KB).
    for name in names:
        __import__(name)
        gc.collect()


gc.collect()
_load(("heelcore", "heelcore.ticks", "heelcore.imath", "heelcore.events", "heelcore.config", "heelcore.reps",
       "heelcore.fusion", "heelcore.engine", "cues"))
from heelcore import VERSION  # noqa: E402
from heelcore.engine import Engine  # noqa: E402
from heelcore.events import to_json  # noqa: E402
from heelcore.ticks import ticks_add, ticks_diff  # noqa: E402
from cues import NONE  # noqa: E402

gc.collect()

try:
    import micropython
    from micropython import const
except ImportError:  # CPython: the same code, interpreted
    from heelcore.mpcompat import const, micropython, ptr32


import array

_collect = gc.collect

_MAXN = const(64)  # samples drained per pass (a 150 ms stall at 400 Hz)
_MASK = const(0x3FFFFFFF)
_RECOVER_MS = const(500)
# first retries come sooner: a transient bus error costs ~10 ms of samples,
# not half a second
_RETRY_MS = (10, 40, 100, 250)
_STATUS_MS = const(1000)
_READ_MS = const(100)  # longest FIFO read period (reads follow the engine's 100 ms tick)
_STALL_MS = const(160)  # loop stall the FIFO must absorb on top of a read period
_POLL_MS = const(50)  # button (debounce 25 ms), session log and serial input: with each read and between
_HOT_MS = const(50)  # after serial input, poll it every ms for this long
_REBASE_MS = const(1 << 27)  # loop deadlines count from an epoch moved every ~1.5 days
_LOWCHECK_MS = const(10000)
_BASE_MAX_US = const(1 << 28)  # a FIFO start older than this (4.5 min) is not trusted as the clock base

GAP_OTHER = const(0)
GAP_FIFO_OVERFLOW = const(1)
GAP_I2C_ERROR = const(2)
GAP_UNPLUGGED = const(3)
_GAP_NAMES = ("other", "fifo_overflow", "i2c_error", "sensor_unplugged")

DEVICE_SETTINGS = ("cue_style", "sample_rate_hz")


def _reason_of(e):
    # ENODEV (19) / ETIMEDOUT (110) / "gone" or "no sample": the sensor is
    # away; anything else is a bus error.
    code = e.args[0] if e.args else 0
    if code in (19, 110) or code == 5 and len(e.args) > 1:
        return GAP_UNPLUGGED
    return GAP_I2C_ERROR


def _civil(days):
    # days since 1970-01-01 -> (y, m, d) (proleptic Gregorian; H. Hinnant)
    z = days + 719468
    era = (z if z >= 0 else z - 146096) // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    y = yoe + era * 400
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + 3 if mp < 10 else mp - 9
    return (y + 1 if m <= 2 else y), m, d


def _days(y, m, d):
    y -= m <= 2
    era = (y if y >= 0 else y - 399) // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def parse_utc(s):
    """"YYYY-MM-DDTHH:MM:SS[.fff]Z" (or +00:00) -> seconds since 1970; ValueError if not."""
    if not isinstance(s, str) or len(s) < 19 or s[4] != "-" or s[7] != "-" or s[10] not in "T " \
            or s[13] != ":" or s[16] != ":":
        raise ValueError("utc must be ISO 8601 like 2026-11-24T06:40:00Z, got %r" % (s,))
    rest = s[19:]
    if rest.startswith("."):
        i = 1
        while i < len(rest) and rest[i] in "0123456789":
            i += 1
        rest = rest[i:]
    if rest not in ("Z", "", "+00:00"):
        raise ValueError("utc must be in UTC (end in Z), got %r" % (s,))
    y, mo, d = int(s[0:4]), int(s[5:7]), int(s[8:10])
    h, mi, se = int(s[11:13]), int(s[14:16]), int(s[17:19])
    if not (1 <= mo <= 12 and 1 <= d <= 31 and h < 24 and mi < 60 and se < 61):
        raise ValueError("utc out of range: %r" % (s,))
    return _days(y, mo, d) * 86400 + h * 3600 + mi * 60 + se


def format_utc(secs):
    days = secs // 86400
    r = secs - days * 86400
    y, m, d = _civil(days)
    return "%04d-%02d-%02dT%02d:%02d:%02dZ" % (y, m, d, r // 3600, (r // 60) % 60, r % 60)


@micropython.viper
def _clock_fill(tsb, n: int, t: int, q: int, r: int, num: int, frb) -> int:
    # the sample clock over n samples: their ticks into tsb[0:n] from t, the
    # first's; each period is q ms plus r/num ms (the fraction carried in
    # frb[0]); returns the next sample's tick
    ts = ptr32(tsb)
    fr = ptr32(frb)
    f = int(fr[0])
    i = 0
    while i < n:
        ts[i] = t
        t += q
        f += r
        if f >= num:
            f -= num
            t += 1
        t &= _MASK
        i += 1
    fr[0] = f
    return t


class App:
    """The main loop. imu: a configured driver (drivers.imu API) or None when
    none answered at boot (find_imu() is then retried); config: the engine's
    heelcore.config.Config; settings: dict (cue_style, sample_rate_hz,
    autostart); cues: cues.Cues; button: button.Button or None; store:
    logstore.SessionStore or None (no recording); link: link.Link or None;
    ticks_ms: clock (ms ticks, wrapping like time.ticks_ms); idle(ms): sleep
    ms (1..40) until the next deadline (board: time.sleep_ms); board, imu_name: for
    the header and HELLO; save_config(config, settings) persists config_set."""

    eng: Engine  # None until the first start() (annotated for the type check)

    def __init__(self, imu, config, settings, cues, button=None, store=None, link=None,
                 ticks_ms=None, idle=None, board="unknown", find_imu=None, save_config=None,
                 clock_us=None):
        self.imu = imu
        self.config = config
        self.settings = settings if settings is not None else {}
        self.cues = cues
        self.button = button
        self.store = store
        self.link = link
        self._ticks = ticks_ms
        self._idle = idle
        self.board = board
        self._find_imu = find_imu
        self._save_config = save_config
        self._clock_us = clock_us
        self._buf = array.array("h", bytearray(2 * 6 * _MAXN))
        self._ts = array.array("i", bytearray(4 * _MAXN))  # their ticks
        self._fr = array.array("i", bytearray(4))  # sample clock: ms fraction (of _num)
        self.eng = None  # type: ignore[assignment]
        self.running = False
        self.log = None
        self.session = None  # id of the open session log
        self.recording = False
        self.last_stop = None
        self.sensor_ok = imu is not None
        self.sampling = True  # False: the FIFO is left alone (sim: the trace ended)
        self.last_read = 0  # samples the last pass read
        self._fault_reason = GAP_UNPLUGGED
        self._next_recover = 0
        self._tries = 0
        self._overflows = 0
        self.flash_state = 0  # 0 ok, 1 low, 2 full
        self._closed_res = None  # stop result of a log closed by a full flash
        self._record = False  # the running session wants a log
        self.config_fault = None  # why the saved config was not used (STATUS)
        self.samples = 0  # samples read from the FIFO
        self.lost = 0  # samples booked lost by the driver
        self.gaps = 0
        self.faults = 0
        self.engine_errors = 0
        self._stop = False
        self._utc = None  # (seconds, tick) from set_clock
        self._phase = -1
        self._next_status = 0
        self._next_low = 0
        self._dl_house = 0  # deadlines, ms since _epoch (loop_once)
        self._dl_read = 0
        self._dl_poll = 0
        self._dl_hot = 0
        self._read_ms = _READ_MS
        self._read_off = _READ_MS
        self._io_max = 12  # a read of at most this many samples allows flash writes (_set_clock_base)
        self.free_kb = None
        self.recal_at_boot = False
        self._want_log = False
        self.hook = None  # sim/tests: hook(app, now) once a pass
        self.config_problems = []  # boot(): what load_config reported
        self.passes = 0  # loop passes (tests and the bench count them)
        self.reads = 0  # FIFO reads
        now = self.now()
        self._t0 = now
        self._epoch = now
        self._cseq = 0  # next expected seq of the sample clock
        self._tnext = now  # t_ms of sample _cseq
        self._q = 10
        self._r = 0
        self._num = 1
        self._p1000 = 1000
        if imu is not None:
            self._set_clock_base(now)

    # ------------------------------------------------------------ clock
    def now(self):
        return self._ticks() & _MASK

    def _set_clock_base(self, now):
        # period = 1000 * den / num ms, as q ms + r / num
        imu = self.imu
        num = getattr(imu, "_num", 0)
        den = getattr(imu, "_den", 1)
        if not num:
            rate = imu.rate_hz or 100
            num = int(rate * 1000 + 0.5)
            den = 1000
        p = 1000 * den
        self._p1000 = p
        self._num = num
        self._q = p // num
        self._r = p % num
        self._fr[0] = 0
        self._cseq = imu.seq
        # Sample seq arrives one period after the FIFO was emptied: when the
        # driver did it (t_start_us, by clock_us), not now. Start-up work
        # between the two (imports, opening the session store: ~650 ms on a
        # Pico) would otherwise make every stamp, read and cue that late.
        self._tnext = ticks_add(self._fifo_start(now), self._q)
        self.rate_hz = num / den
        # read the FIFO at least every _READ_MS, and often enough that a
        # _STALL_MS stall of the loop (a flash write) still fits in the
        # FIFO, or every third of its capacity if even that cannot be: in
        # whole periods, k samples a read, mid-way between two samples
        cap = getattr(imu, "FIFO_SAMPLES", 0) * 1000 * den // num
        per = self._q if self._q > 0 else 1
        ms = _READ_MS
        if cap > 0:
            fit = cap - _STALL_MS
            if fit < ms:
                ms = fit if fit >= per else cap // 3
            if ms < 1:
                ms = 1
        # k samples a read: those within ms by the exact period (the one
        # at ms included: at 104 Hz the engine's 100 ms tick falls on the
        # 11th sample, 100.96 ms on), read half a period after the k-th
        k = (ms * num + p - 1) // p
        if k < 1:
            k = 1
        j = 2 * k - 1
        self._read_ms = ms
        self._read_off = (j * self._q + j * self._r // num) >> 1
        # flash writes follow a read of a read period's samples at most: the
        # FIFO was emptied a few ms before (after a catch-up read, processing
        # the samples takes tens of ms a board's FIFO must also hold)
        self._io_max = k + 2
        n = int(self.rate_hz // 10)
        self.batch_n = 2 if n < 2 else (50 if n > 50 else n)
        if self.link is not None:
            self.link.set_batch(self.batch_n)

    def _fifo_start(self, now):
        # the ms tick at which the driver last emptied the FIFO (its
        # t_start_us, by clock_us); now when unknown
        cu = self._clock_us
        if cu is not None:
            d = ticks_diff(cu() & _MASK, getattr(self.imu, "t_start_us", 0) & _MASK)
            if 0 < d < _BASE_MAX_US:
                return ticks_add(now, -(d // 1000))
        return now

    def _advance_to(self, seq):
        # move the sample clock over samples that never arrived (a gap)
        k = seq - self._cseq
        if k <= 0:
            return
        t = self._tnext + k * self._q
        f = self._fr[0] + k * self._r
        if f >= self._num:
            t += f // self._num
            f = f % self._num
        self._tnext = t & _MASK
        self._fr[0] = f
        self._cseq = seq

    # ------------------------------------------------------------ sessions
    def header(self, side):
        imu = self.imu
        h = {
            "firmware": VERSION, "board": self.board,
            "imu": imu.name if imu is not None else None,
            "rate_hz": self.rate_hz if imu is not None else None,
            "accel_lsb_per_g": imu.accel_lsb_per_g if imu is not None else None,
            "gyro_lsb_per_dps": imu.gyro_lsb_per_dps if imu is not None else None,
            "accel_range_g": imu.accel_range_g if imu is not None else None,
            "gyro_range_dps": imu.gyro_range_dps if imu is not None else None,
            "side": side, "started": self.utc_now(), "calibration": {},
            "config": self.config.to_dict(),
            "cue_style": self.settings.get("cue_style", "full"),
        }
        return h

    def utc_now(self):
        if self._utc is None:
            return None
        secs, tick = self._utc
        return format_utc(secs + ticks_diff(self.now(), tick) // 1000)

    def set_clock(self, utc):
        secs = parse_utc(utc)
        self._utc = (secs, self.now())
        return format_utc(secs)

    def start(self, side=None, record=True):
        """Start coaching (and recording). Returns the session id or None;
        raises RuntimeError("busy") when already running."""
        if self.running:
            raise RuntimeError("busy")
        if side is None:
            side = self.config.side
        if side not in ("left", "right"):
            raise ValueError("side must be left or right, got %r" % (side,))
        from heelcore.config import Config

        cfg = Config.from_dict(self.config.to_dict())
        cfg.update({"side": side})
        imu = self.imu
        a = imu.accel_lsb_per_g if imu is not None else 8192
        g = imu.gyro_lsb_per_dps if imu is not None else 65.5
        self.eng = Engine(cfg, a, g)
        self.running = True
        self._phase = -1
        now = self.now()
        self.log = None
        self.session = None
        self.recording = False
        self._want_log = False
        self._closed_res = None
        self._record = record
        if self.flash_state and self.store is not None and self._room():
            self.flash_state = 0  # space came back (sessions downloaded and deleted)
        if record and self.store is not None and self.flash_state == 0:
            if self.imu is None:
                # no sensor yet: the log opens when one answers, so that its
                # header has the chip and its scales
                self._want_log = True
            else:
                self._open_log(side, now)
        if self.recal_at_boot:
            self.recal_at_boot = False
            self.eng.recalibrate(self._tnext)
        self.cues.on_event("session_start", now)
        self.send_status(now)
        return self.session

    def _open_log(self, side, now):
        # SessionStore.start never raises on flash trouble: it returns a
        # detached log (id None, full set) when the flash is low or the file
        # cannot be made
        log = self.store.start(self.header(side), now)
        if log.id is None or log.full:
            self._flash(2 if log.errors else 1, now)
            return
        self.log = log
        self.session = log.id
        self.recording = True

    def stop(self):
        """Stop coaching; close the session log. Returns the stop result dict
        (the last one again when not running: stop is idempotent)."""
        if not self.running:
            if self.last_stop is not None:
                return self.last_stop
            return {"session": None, "samples": 0, "bytes": 0}
        now = self.now()
        eng = self.eng
        self.running = False
        try:
            eng.finish()
            self._drain(now)
            self._event_out(eng.summary(), now, False)
        except MemoryError:
            # the log must still be closed cleanly: say what is missing
            msg = "summary lost: out of memory"
            if self.log is not None:
                self.log.add_note(eng.t_ms, msg)
            self._error(9, msg)
        res = self._close_log(now)
        # the session's objects and the close's garbage go now: what the
        # stop and the download that follows keep is then allocated low,
        # not above that garbage in the middle of the largest free block
        # (the Pico model, QMI8658, demo session: a 128-byte object kept
        # through the download split it: 15.5 KB at worst, 18.3 with this)
        _collect()
        c = self._closed_res
        if c is not None and res["samples"] == 0 and c["session"] == res["session"]:
            res = c  # the log was closed earlier (flash full): its true result
        self.cues.on_event("session_stop", now)
        self.last_stop = res
        self.send_status(now)
        return res

    def _close_log(self, now):
        log = self.log
        res = {"session": self.session, "samples": 0, "bytes": 0}
        if log is not None:
            self.log = None
            self.recording = False
            try:
                log.close(now)
            except OSError as e:
                self._error(5, "closing the session log: %s" % (e,))
            w = getattr(log, "_w", None)
            res["samples"] = w.samples_written if w is not None else 0
            res["bytes"] = log.bytes_written
            self._closed_res = res
        return res

    def _room(self):
        try:
            return self.store.has_room()
        except (OSError, AttributeError):
            return False

    def switch_side(self, side=None):
        """Switch side (the button's short press, or the side command): the
        engine switches and recalibrates, the log gets a SIDE record and the
        side event. The switch takes effect at the next sample's time, which
        is where heeldrop replay applies a recorded side switch."""
        eng = self.eng
        if eng is None:
            if side is not None:
                self.config.update({"side": side})
            return self.config.side
        if side is None:
            side = "right" if eng.side == "left" else "left"
        if side == eng.side:
            return side
        t = self._tnext
        eng.set_side(side, t)
        if self.log is not None:
            self._log_call(self.log.add_side, side, t)
        now = self.now()
        self._drain(now)
        self.send_status(now)
        return side

    def calibrate(self):
        if self.eng is not None:
            self.eng.recalibrate(self._tnext)
            self.send_status(self.now())
            return True
        self.recal_at_boot = True
        return False

    # ------------------------------------------------------------ loop
    def run(self):
        """Loop until stop_loop() or Ctrl-C; the log is closed either way."""
        self._stop = False
        # (No gc.threshold: a collection after every 4 KB allocated once
        # kept an 80-byte object out of the largest free block (LSM6DSOX,
        # 30 minutes: 16,215 -> 17,032 bytes), but since the engine's tick
        # functions left the heap it changes nothing there (17,988 either
        # way) and it made a 1 kHz session's loop 5x slower in the sim:
        # docs/DESIGN.md, RAM.)
        self.begin_sampling()
        try:
            while not self._stop:
                self.loop_once()
        finally:
            if self.running:
                try:
                    self.stop()
                except Exception as e:  # closing must not hide the cause
                    print("app: stop failed:", e)

    def stop_loop(self):
        self._stop = True

    def begin_sampling(self):
        """Empty the FIFO and take the sample clock's base now, right before
        the loop reads it (run() calls this): whatever start-up work came
        since the sensor was configured (imports, the session store, the
        log header) neither fills the FIFO (a Pico's start-up is ~650 ms, an
        MPU-6050 holds 850 ms at 100 Hz) nor shifts a timestamp. Only before
        the first sample: a second call does nothing."""
        imu = self.imu
        if imu is None or not self.sensor_ok or self.samples or self.lost:
            return
        try:
            imu.restart()
            n = self._first_sample()
        except OSError as e:
            self._fault(e, self.now())
            return
        now = self.now()
        self._set_clock_base(now)
        if n:
            # the samples that gave the phase: the sample clock starts at them
            self._cseq = imu.first_seq
            self.reads += 1
            self._process(n, now)
        # the first read as every other: mid-way after the samples it brings
        self._dl_read = ticks_diff(self._tnext, self._epoch) + self._read_off

    def _first_sample(self):
        # The FIFO was just emptied, but the chip's sample clock runs on (a
        # FIFO reset does not restart it): the next sample comes anywhere
        # within a period, not one period on, and a sample clock based on
        # the reset would put every stamp, read and cue up to a period late,
        # by a phase that depends on how long the start-up took. So poll,
        # sleeping 1 ms between reads, until a sample comes (within two
        # periods): it arrived between the starts of the last two polls,
        # which gives the phase to about a millisecond. The driver's
        # t_start_us (sample first_seq's origin, one period before it) is
        # set from that. Returns the samples read into _buf (0: none came,
        # no clock, or periods under 4 ms, where a period's error is small).
        imu = self.imu
        cu = self._clock_us
        idle = self._idle
        num = getattr(imu, "_num", 0)
        if cu is None or idle is None or not num:
            return 0
        per = 1000000 * getattr(imu, "_den", 1) // num
        if per < 4000:
            return 0
        t0 = imu.t_start_us & _MASK
        t1 = t0  # the start of the previous poll
        while True:
            t = cu() & _MASK  # before the read: the sample came before it
            n = imu.read_fifo(self._buf, _MAXN)
            if n:
                break
            if ticks_diff(t, t0) > 2 * per:
                return 0
            t1 = t
            idle(1)
        # the last of them arrived mid-way between the two polls' starts;
        # the first (n - 1) periods before it
        imu.t_start_us = ticks_add(t, -((ticks_diff(t, t1) >> 1) + n * per))
        return n

    @micropython.native
    def loop_once(self):
        # One pass: whatever is due now, then idle() until the next deadline
        # (see the module comment). Deadlines are ms since self._epoch (one
        # ticks_diff a pass, then plain integer compares; rebased daily).
        now = self._ticks() & _MASK
        el = ticks_diff(now, self._epoch)
        if el >= _REBASE_MS:
            self._epoch = now
            self._dl_read -= el
            self._dl_poll -= el
            self._dl_house -= el
            self._dl_hot -= el
            el = 0
        got = 0
        # flash writes (the log's) only right after the FIFO was emptied, or
        # with no FIFO to empty: a flash erase stalls the CPU up to 400 ms
        fresh = not self.sampling or not self.sensor_ok
        self.passes += 1
        if el >= self._dl_read:
            self._dl_read = el + self._read_ms
            if not self.sampling:
                pass
            elif self.sensor_ok:
                self.reads += 1
                got = self._read(now)
                self.last_read = got
                fresh = got <= self._io_max
                if got >= _MAXN:
                    self._dl_read = el  # more waiting (after a stall)
                elif got == 0:
                    # Nothing came (the FIFO was just emptied: a glitch, a
                    # discard, a recovery, the start): look again a read
                    # period from now by the real clock. Scheduling from the
                    # sample clock here could name a time already past, and
                    # the loop would spin on an empty FIFO.
                    self._dl_read = el + self._read_off
                else:
                    # The next read: half a period after the sample (by the
                    # sample clock) that brings the engine's next slow tick,
                    # where it decides and emits its events, so cues start
                    # without waiting for a read; at most _read_off later
                    # (the FIFO's capacity). Mid-way between samples the
                    # FIFO holds whole frames, and the driver's lost-sample
                    # estimate (elapsed periods, rounded) counts exactly.
                    w = self._read_off
                    per = self._q if self._q > 0 else 1
                    if self.running:
                        # samples to the tick (k), by the exact period
                        # (1000 den / num ms: 9.6 ms at 104 Hz), and half a
                        # period after the k-th (x ms after the next sample)
                        num = self._num
                        p1 = self._p1000
                        k = (self.eng.ms_to_tick() * num + p1 - 1) // p1
                        j = 2 * k - 1 if k > 0 else 1
                        x = (j * self._q + j * self._r // num) >> 1
                        if 0 <= x < w:
                            w = x
                    d = ticks_diff(self._tnext, now) + w
                    # never sooner than half a period by the real clock: a
                    # sample clock behind the samples must not make a spin
                    self._dl_read = el + (d if d > (per >> 1) else (per >> 1) + 1)
            elif ticks_diff(now, self._next_recover) >= 0:
                self._try_recover(now)
            if not self.sensor_ok:
                self._dl_read = el + ticks_diff(self._next_recover, now)
        c = self.cues
        if c.cue != NONE and ticks_diff(now, c.end_ms) >= 0:
            c.tick(now)
        busy = 0
        if got or el >= self._dl_poll:
            self._dl_poll = el + _POLL_MS
            b = self.button
            if b is not None:
                g = b.poll(now)
                if g is not None:
                    self._gesture(g, now)
            log = self.log
            if log is not None:
                if got > self._io_max and self.sensor_ok:
                    # a catch-up read (after a stall): its samples took tens
                    # of ms to process; empty the FIFO again before the log
                    # may write (and stall)
                    self.reads += 1
                    fresh = self._read(now) <= self._io_max
                try:
                    log.poll(now, fresh)
                except OSError as e:
                    self._error(5, "session log write failed: %s" % (e,))
                    self._flash(2, now)
                if log.full:
                    self._flash(2 if log.errors else 1, now)
            lk = self.link
            if lk is not None:
                busy = lk.poll(now)
                if busy:
                    self._dl_hot = el + _HOT_MS
                if el < self._dl_hot:
                    self._dl_poll = el + 1  # a host is talking: keep up
        if got and self.running:
            ph = self.eng.state  # the phase changes only with samples
            if ph != self._phase:
                self._phase = ph
                self.send_status(now)
        if el >= self._dl_house:
            self._house(now, el)
        h = self.hook
        if h is not None:
            h(self, now)
        idle = self._idle
        if idle is not None and not busy:
            # sleep until the next deadline: read, poll, housekeeping, cue step
            now = self._ticks() & _MASK
            el = ticks_diff(now, self._epoch)
            w = self._dl_read
            if self._dl_poll < w:
                w = self._dl_poll
            if self._dl_house < w:
                w = self._dl_house
            w -= el
            if c.cue != NONE:
                d = ticks_diff(c.end_ms, now)
                if d < w:
                    w = d
            if w > 0:
                idle(w)

    def _house(self, now, el):
        # Bytecode, once a second (as native code in loop_once, more of
        # the heap the board's code and data share).
        # housekeeping: the 1 Hz STATUS (send_status moves this deadline)
        self._dl_house = el + _STATUS_MS
        # and a collection: with the garbage of one second only, what
        # lives on is allocated low and stays together (waiting until
        # the heap is full scatters it among the holes: a Pico then
        # had 60 KB free in 2 KB pieces)
        _collect()
        if self.store is not None and ticks_diff(now, self._next_low) >= 0:
            # free space for STATUS; the log itself checks for "low" at
            # each flush (logstore), so a statvfs every 10 s is enough
            self._next_low = ticks_add(now, _LOWCHECK_MS)
            try:
                self.free_kb = self.store.free_bytes() // 1024
            except OSError:
                self.free_kb = None
            if self.flash_state and self._room():
                # space came back: STATUS says so, recording goes on
                # in a new session file
                self.flash_state = 0
                if self.running and self._record and self.log is None and self.imu is not None:
                    self._open_log(self.eng.side, now)
                self.send_status(now)
        if ticks_diff(now, self._next_status) >= 0:
            self.send_status(now)

    @micropython.native
    def _read(self, now):
        imu = self.imu
        try:
            n = imu.read_fifo(self._buf, _MAXN)
        except OSError as e:  # IMUError is an OSError
            self._fault(e, now)
            return 0
        gap = imu.take_gap()
        if gap:
            ov = imu.overflows
            reason = GAP_FIFO_OVERFLOW if ov != self._overflows else GAP_OTHER
            self._overflows = ov
            self._gap(imu.first_seq - gap, gap, reason, now)
        if n:
            self._process(n, now)
        elif imu.seq != self._cseq:
            # a gap and nothing read (a glitch, a discarded FIFO): the
            # sample clock moves over the lost samples now, so the next read
            # is scheduled from where the samples really are
            self._advance_to(imu.seq)
        return n

    @micropython.native
    def _process(self, n, now):
        # The per-sample path: allocates nothing (see module comment).
        buf = self._buf
        ts = self._ts
        seq = self.imu.first_seq
        if seq != self._cseq:
            self._advance_to(seq)
        fr = self._fr
        self._tnext = _clock_fill(ts, n, self._tnext, self._q, self._r, self._num, fr)
        self._cseq = seq + n
        self.samples += n
        pending = 0
        eng = self.eng if self.running else None
        if eng is not None:
            i = 0
            while i < n:
                try:
                    pending = eng.feed(ts, buf, i, n)
                    i = n
                except Exception as e:  # an engine bug must not stop the device
                    i = eng.fed()
                    self._engine_error(e, ts[i], now)
                    eng = self.eng
                    pending = 0
                    i += 1
        log = self.log
        if log is not None:
            log.add_samples(seq, ts, buf, n)
        lk = self.link
        if lk is not None and lk.streaming:
            lk.stream_samples(seq, ts, buf, n)
        if pending:
            self._drain(now)

    def _engine_error(self, e, t, now):
        # Keep the events so far, note the error in the log and on the link,
        # and start a fresh engine on the same side: it recalibrates.
        self.engine_errors += 1
        try:
            self._drain(now)
        except Exception:  # noqa: BLE001 - the queue may be what broke
            pass
        msg = "engine_error %s: %s" % (type(e).__name__, e)
        if self.log is not None:
            self.log.add_note(t, msg)
        self._error(9, msg)
        old = self.eng
        cfg = old.cfg
        self.eng = Engine(cfg, old.alsb, old.glsb)
        if old.side != cfg.side:
            self.eng.set_side(old.side, t)
            self.eng.pop_event()

    def _drain(self, now):
        eng = self.eng
        ev = eng.pop_event()
        while ev is not None:
            self._event_out(ev, now, True)
            ev = eng.pop_event()

    def _event_out(self, ev, now, cue):
        line = to_json(ev)
        if self.log is not None:
            self._log_call(self.log.add_event, line, ev["t_ms"])
        if cue:
            self.cues.on_engine_event(ev, now)
        lk = self.link
        if lk is not None:
            lk.send_event(line)

    def _log_call(self, fn, a, b):
        try:
            fn(a, b)
        except OSError as e:
            self._error(5, "session log write failed: %s" % (e,))
            self._flash(2, self.now())

    # ------------------------------------------------------------ faults
    def _gap(self, first, count, reason, now):
        self.gaps += 1
        self.lost += count
        lk = self.link
        if lk is not None and count:
            lk.send_gap(first, count, reason)  # the host tells these from link losses
        log = self.log
        if log is not None:
            try:
                log.add_gap(first, count, reason)
            except OSError as e:
                self._error(5, "session log write failed: %s" % (e,))
                self._flash(2, now)

    def _fault(self, e, now):
        self.sensor_ok = False
        self.faults += 1
        reason = _reason_of(e)
        self._fault_reason = reason
        self._tries = 0
        self._next_recover = ticks_add(now, _RETRY_MS[0])
        self.cues.on_event("sensor_fault", now)
        # a marker at once (count 0: the loss is known only when the sensor
        # answers again), so a power cut during the outage still shows it
        self._gap(self.imu.seq if self.imu is not None else 0, 0, reason, now)
        self.gaps -= 1
        self._error(6, "IMU: %s (%s)" % (e, _GAP_NAMES[reason]))
        self.send_status(now)

    def _try_recover(self, now):
        k = self._tries + 1
        self._tries = k
        self._next_recover = ticks_add(now, _RETRY_MS[k] if k < len(_RETRY_MS) else _RECOVER_MS)
        imu = self.imu
        try:
            if imu is None:
                if self._find_imu is None:
                    return
                imu = self._find_imu()
                self.imu = imu
                self._set_clock_base(now)
                if self.running:
                    # the engine was built with default scales: start over
                    from heelcore.config import Config

                    eng = self.eng
                    cfg = Config.from_dict(eng.cfg.to_dict())
                    cfg.update({"side": eng.side})
                    self.eng = Engine(cfg, imu.accel_lsb_per_g, imu.gyro_lsb_per_dps)
                    if self._want_log:
                        self._want_log = False
                        self._open_log(eng.side, now)
            else:
                imu.recover()
        except OSError:
            return
        self.sensor_ok = True
        gap = imu.take_gap()
        if gap:
            self._gap(imu.seq - gap, gap, self._fault_reason, now)
        floor = self._tnext
        self._advance_to(imu.seq)
        # the chip's sample grid restarted with the recovery (a power cycle
        # and a new configuration): the next sample comes a period after the
        # FIFO restarted, whatever the count estimate says; reads scheduled
        # on the old grid's phase would land on sample edges
        t = ticks_add(self._fifo_start(now), self._q)
        if ticks_diff(t, floor) >= 0:
            self._tnext = t
            self._fr[0] = 0
        self._dl_read = ticks_diff(self._tnext, self._epoch) + self._read_off
        self._overflows = imu.overflows
        self.cues.on_event("sensor_ok", now)
        self.send_status(now)

    def _flash(self, state, now):
        # flash low (1) or full (2): cue, close the log, keep coaching
        if state <= self.flash_state and self.log is None:
            return
        self.flash_state = state if state > self.flash_state else self.flash_state
        self.cues.on_event("flash_full" if state == 2 else "flash_low", now)
        if self.log is not None:
            self._close_log(now)
        self._error(11 if state == 2 else 5, "flash %s: recording stopped, coaching goes on" % (
            "full" if state == 2 else "low"))
        self.send_status(now)

    def _error(self, code, msg):
        lk = self.link
        if lk is not None:
            lk.send_error(code, msg)
        else:
            print("heeldrop:", msg)

    # ------------------------------------------------------------ button
    def _gesture(self, g, now):
        if g == "short":
            if self.running:
                self.switch_side()
        elif g == "long":
            if self.running:
                self.stop()
            else:
                self.start()

    # ------------------------------------------------------------ status
    def status(self):
        eng = self.eng
        run = self.running and eng is not None
        free = self.free_kb
        imu = self.imu
        # the link's counters are keys of the literal (0 here: link.send_status
        # sets them): two keys added to a full dict made it grow, a new table
        # each STATUS (the Pico model, 30 minutes: the largest free block
        # fell mid-session, LSM6DSOX 17,080 -> 16,136 bytes)
        return {
            "phase": eng.phase() if run else "idle",
            "side": eng.side if run else self.config.side,
            "rep": eng.rep if run else 0,
            "depth_deg": int(eng.depth_deg() * 10) / 10 if run else 0,
            "hold_s": eng.hold_ms() // 100 / 10 if run else 0,
            "recording": self.recording,
            "session": self.session if self.recording else None,
            "battery_pct": None,
            "flash_free_kb": free,
            "flash": ("ok", "low", "full")[self.flash_state],
            "config_fault": self.config_fault,
            "sensor_ok": self.sensor_ok,
            "imu": imu.name if imu is not None else None,
            "samples": self.samples,
            "lost": self.lost,
            "gaps": self.gaps,
            "tx_dropped": 0,
            "tx_dropped_samples": 0,
        }

    def send_status(self, now):
        self._next_status = ticks_add(now, _STATUS_MS)
        self._dl_house = ticks_diff(now, self._epoch) + _STATUS_MS
        lk = self.link
        if lk is not None:
            lk.send_status(self.status())

    def hello(self):
        imu = self.imu
        from heelcore.proto import MAX_PAYLOAD, PROTOCOL_VERSION

        return {
            "protocol": PROTOCOL_VERSION, "firmware": VERSION, "board": self.board,
            "imu": imu.name if imu is not None else None,
            "rate_hz": self.rate_hz if imu is not None else None,
            "accel_lsb_per_g": imu.accel_lsb_per_g if imu is not None else None,
            "gyro_lsb_per_dps": imu.gyro_lsb_per_dps if imu is not None else None,
            "max_payload": MAX_PAYLOAD,
        }

    # ------------------------------------------------------------ config
    def config_get(self, keys=None):
        d = self.config.to_dict()
        for k in DEVICE_SETTINGS:
            if k in self.settings:
                d[k] = self.settings[k]
        if keys is None:
            return d
        out = {}
        for k in keys:
            if k not in d:
                raise ValueError("unknown setting '%s'" % (k,))
            out[k] = d[k]
        return out

    def config_set(self, changes):
        """Validate every key first (heelcore.config / configstore messages),
        then apply and save. Engine settings take effect at the next session
        start; cue_style at once; sample_rate_hz at the next boot."""
        from heelcore.config import SPEC, check

        from configstore import DEVICE_SPEC, check_device

        eng_vals = {}
        dev_vals = {}
        for k in changes:
            if k in SPEC or k not in DEVICE_SPEC:
                eng_vals[k] = check(k, changes[k])  # unknown keys fail here, listing the known ones
            else:
                dev_vals[k] = check_device(k, changes[k])
        changed = []
        old = self.config.to_dict()
        for k in eng_vals:
            if old.get(k) != eng_vals[k]:
                changed.append(k)
        for k in dev_vals:
            if self.settings.get(k) != dev_vals[k]:
                changed.append(k)
        self.config.update(eng_vals)
        for k in dev_vals:
            self.settings[k] = dev_vals[k]
        if "cue_style" in dev_vals:
            self.cues.set_style(dev_vals["cue_style"])
        if changed and self._save_config is not None:
            self._save_config(self.config, self.settings)
        return changed


# ---------------------------------------------------------------- board entry


def run(board=None, config_path="/heeldrop.json", sessions="/sessions"):
    """Board entry (main.py): pick the board file, then boot() (probe the
    IMU, load the config, open the session store and the serial link,
    start coaching and recording) and loop until Ctrl-C."""
    import micropython

    if hasattr(micropython, "alloc_emergency_exception_buf"):  # not in the unix port
        micropython.alloc_emergency_exception_buf(100)
    import time

    import boards

    b = boards.load(board)
    name = b.__name__.split(".")[-1]
    parts = b.build()
    del b, boards
    _unload(("boards." + name, "boards"), None)  # the pin map is built

    def open_store():
        import os

        from logstore import SessionStore

        return SessionStore(sessions, 32 * 1024, os.statvfs, raw=_raw_log())

    a = boot(name, parts, time, config_path, open_store)
    try:
        a.run()
    except KeyboardInterrupt:
        print("heeldrop: stopped (Ctrl-C); REPL")


def _raw_log():
    # the board's raw log region (the frozen build's layout, found on the
    # flash by flashboot.py), or None: the sessions go to littlefs files
    try:
        import flashboot
    except ImportError:
        return None
    try:
        dev = flashboot.raw_device()
        return flashboot.open_raw(dev) if dev is not None else None
    except OSError as e:
        print("heeldrop: session log region:", e)
        return None
    finally:
        _unload(("flashboot",), None)


def boot(name, parts, clock, config_path, open_store, make_stream=None, rate=None, side=None):
    """The start-up shared by the board (run()) and the sim board
    (sim/runner.py), in the board's order, so that the sim's clock runs
    through the same work: load the config, the button held at power-up
    (recalibrate), probe and configure the IMU, open the session store
    (open_store(): a logstore.SessionStore; None or OSError: no
    recording), the serial link (make_stream(link_module), default its
    StdioStream), the App, HELLO, start(). Returns the App, ready for
    run() (which empties the FIFO and takes the sample clock's base).

    parts: (i2c, led, buzzer, button_pin) from a board's build(); clock:
    ticks_ms, ticks_us and sleep_ms (the time module on a board); rate:
    sample rate instead of the config's; side: the session side."""
    from button import Button
    from cues import Cues

    i2c, led, buzzer, button_pin = parts
    collect = gc.collect  # between the phases that load code (see the imports above)
    if config_path is None:  # no file system (the sim without --flash)
        from heelcore.config import Config

        cfg, settings, problems = Config(), {"cue_style": "full", "sample_rate_hz": 100}, []
    else:
        cfg, settings, problems = _load_config(config_path)
    if rate is not None:
        settings["sample_rate_hz"] = rate
    collect()
    cues = Cues(led, buzzer, settings.get("cue_style", "full"))
    button = Button(button_pin)
    ticks_ms = clock.ticks_ms
    t_end = ticks_add(ticks_ms() & _MASK, 60)
    recal = False
    while ticks_diff(t_end, ticks_ms() & _MASK) > 0 and not recal:
        recal = button.held_at_boot(ticks_ms())
        clock.sleep_ms(5)
    rate = settings.get("sample_rate_hz", 100)

    _load(("drivers",))

    def find_imu():
        from drivers import probe

        imu = probe(i2c, clock_us=clock.ticks_us)
        imu.configure(rate)
        return imu

    try:
        imu = find_imu()
    except OSError as e:
        print("heeldrop: no IMU:", e)
        imu = None
    # code the board no longer needs leaves the heap (on an RP2040 a
    # module's bytecode and machine code sit in the same 246 KB as the
    # data): the config reader (config_set imports it again). The drivers
    # of the chips that did not answer never loaded (drivers.probe() loads
    # the one it found); naming them here to unload them interned their
    # names at app's load (the Pico model: 0.6 KB less in one block with
    # the LSM6DS family's two more)
    _unload(("configstore",), None)
    collect()
    store = None
    try:
        _load(("heelcore.minijson", "heelcore.crc", "heelcore.record"))
        store = open_store()
    except (ImportError, OSError) as e:
        print("heeldrop: no session store:", e)
    collect()
    _load(("heelcore.proto", "link"))
    import link as lkmod

    stream = make_stream(lkmod) if make_stream is not None else lkmod.StdioStream()
    lk = lkmod.Link(stream, board=name)

    def save(c, s):
        from configstore import save_config

        save_config(c, s, config_path)

    a = App(imu, cfg, settings, cues, button, store, lk, ticks_ms, clock.sleep_ms, name, find_imu,
            save if config_path is not None else None, clock.ticks_us)
    lk.attach(a)
    lk.send_hello()
    if imu is None:
        a.sensor_ok = False
        a._fault(OSError(19, "no IMU answered"), a.now())
    a.recal_at_boot = recal
    a.config_problems = problems
    for p in problems:
        lk.send_error(2, "config: " + p)
    if problems:
        # remembered for STATUS (doctor and live show it) and a cue for the
        # person on the step: the device runs on its defaults
        a.config_fault = problems[0] if len(problems) == 1 else "%s (and %d more)" % (problems[0], len(problems) - 1)
        cues.on_event("config_fault", a.now())
    collect()
    a.start(side)
    return a


def _unload(names, keep):
    import sys

    for name in names:
        if name != keep and name in sys.modules:
            del sys.modules[name]
            pkg, _, attr = name.rpartition(".")
            if pkg and pkg in sys.modules and hasattr(sys.modules[pkg], attr):
                delattr(sys.modules[pkg], attr)


def _load_config(path):
    from heelcore.config import Config

    try:
        _load(("heelcore.minijson", "configstore"))
        from configstore import load_config

        r = load_config(path)
    except ImportError:
        return Config(), {"cue_style": "full", "sample_rate_hz": 100}, ["configstore missing: defaults"]
    return _split_loaded(r)


def _split_loaded(r):
    # configstore.load_config -> (Config, settings dict, problems list)
    if isinstance(r, tuple):
        cfg = r[0]
        settings = r[1] if len(r) > 1 and r[1] is not None else {}
        problems = r[2] if len(r) > 2 and r[2] is not None else []
        return cfg, dict(settings), list(problems)
    return r, {}, []
