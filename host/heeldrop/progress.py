"""Progress on stderr for work that takes a while (reading a big trace, drawing figures).

    with Progress("replay big.csv", total=size_in_bytes, unit="bytes") as p:
        ...
        p.update(done)              # cheap: call it as often as you like

Nothing is shown unless stderr is a terminal and the work has already taken
DELAY_S (2 s): short runs, pipes, CI logs and tests see no progress at all.
The bar (rich) is transient: it disappears when the work ends, so the
command's own output is all that stays. HEELDROP_PROGRESS_DELAY sets the
delay in seconds (0: at once, e.g. to see it on a small file).
"""
import os
import sys
import time

DELAY_S = 2.0


def _delay():
    try:
        return max(0.0, float(os.environ.get("HEELDROP_PROGRESS_DELAY", DELAY_S)))
    except ValueError:
        return DELAY_S


class Progress:
    def __init__(self, label, total=None, unit="", stream=None):
        self.label = label
        self.total = total
        self.unit = unit
        self.stream = stream if stream is not None else sys.stderr
        self.t0 = time.monotonic()
        self.delay = _delay()
        self.done = 0
        self._bar = None
        self._task = None
        self._next_check = 0.0
        try:
            self.enabled = bool(self.stream.isatty())
        except (AttributeError, ValueError, OSError):
            self.enabled = False

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def update(self, done=None, total=None, label=None):
        if done is not None:
            self.done = done
        if total is not None:
            self.total = total
        if label is not None:
            self.label = label
        if not self.enabled:
            return
        now = time.monotonic()
        if now < self._next_check:
            return
        self._next_check = now + 0.1
        if self._bar is None:
            if now - self.t0 < self.delay:
                return
            self._start()
        if self._bar is not None:
            self._bar.update(self._task, completed=self.done, total=self.total, description=self.label)

    def _start(self):
        try:
            from rich.console import Console
            from rich.progress import (BarColumn, DownloadColumn, Progress as Bar, TaskProgressColumn,
                                       TextColumn, TimeElapsedColumn, TimeRemainingColumn)
        except ImportError:
            self.enabled = False
            return
        cols = [TextColumn("{task.description}"), BarColumn(), TaskProgressColumn()]
        if self.unit == "bytes":
            cols.append(DownloadColumn())
        cols += [TimeElapsedColumn(), TextColumn("left"), TimeRemainingColumn()]
        self._bar = Bar(*cols, console=Console(file=self.stream), transient=True, refresh_per_second=8)
        self._task = self._bar.add_task(self.label, total=self.total, completed=self.done)
        self._bar.start()

    def close(self):
        if self._bar is not None:
            try:
                self._bar.stop()
            finally:
                self._bar = None


class tracked:
    """A trace (a heeldrop.traceio.TraceStream, or a Trace in memory) whose
    samples move a Progress as heeldrop.replay reads them, block by block;
    after_block() is called once the engine has been through each block."""

    STEP = 65536

    def __init__(self, trace, progress, after_block=None):
        self.trace = trace
        self.meta = trace.meta
        self.progress = progress
        self.after_block = after_block or (lambda: None)

    def __getattr__(self, name):
        return getattr(self.trace, name)

    def blocks(self):
        tr, p = self.trace, self.progress
        if hasattr(tr, "blocks"):
            for b in tr.blocks():
                yield b
                self.after_block()
                p.update(tr.pos, tr.size)
            return
        cols = (tr.t_ms, tr.ax, tr.ay, tr.az, tr.gx, tr.gy, tr.gz)
        n = len(tr.t_ms)
        for i in range(0, n, self.STEP):
            yield tuple(c[i:i + self.STEP] for c in cols)
            self.after_block()
            p.update(min(n, i + self.STEP), n)
