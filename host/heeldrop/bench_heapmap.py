"""Where the board's heap is free: the free runs of the heap maps the sim
prints with HEELDROP_HEAP_MAP=1 (firmware/sim/runner.py, BoardHeap.map).

    HEELDROP_HEAP_MAP=1 heeldrop sim --trace T.csv --speed max --quiet \\
        --board-ram pico > out.txt
    python -m heeldrop.bench_heapmap out.txt

One line a map (after boot, then at each new minimum of the largest free
block): the free bytes, the largest free run, then every free run of at
least 512 bytes as ADDRESS:BYTES. Runs below the largest are holes: what
was freed among objects that stay (temporaries of long-lived objects,
code unloaded, garbage of a module's load under the next module's code).
Only the board's part of the port's heap is read: the sim fills the rest
with ballast, so the free blocks of all maps bound it.
"""
import re
import sys

BLOCK = 16  # bytes of a GC block on a 32-bit port


def parse(text):
    """[(title, {block index: map character})] of each map in text."""
    maps = []
    for chunk in text.split("sim: heapmap ")[1:]:
        lines = chunk.splitlines()
        cells = {}
        end = 0
        for line in lines[1:]:
            m = re.match(r"^([0-9a-f]{8}): (.*)$", line)
            if m:
                a = int(m.group(1), 16) // BLOCK
                for i, c in enumerate(m.group(2)):
                    cells[a + i] = c
                end = a + len(m.group(2))
            elif "lines all free" in line:
                n = int(re.search(r"\((\d+) lines", line).group(1)) * 64
                for i in range(n):
                    cells[end + i] = "."
                end += n
            elif line.startswith("sim: "):
                break
        maps.append((lines[0], cells))
    return maps


def runs(cells, lo, hi):
    """[(start block, length in blocks)] of the free runs in lo..hi."""
    out = []
    start = None
    for k in range(lo, hi + 2):
        if k <= hi and cells.get(k) == ".":
            if start is None:
                start = k
        elif start is not None:
            out.append((start, k - start))
            start = None
    return out


def summary(text, min_run=512):
    maps = parse(text)
    free = [k for _t, cells in maps for k, c in cells.items() if c == "."]
    if not free:
        return []
    lo, hi = min(free), max(free)
    lines = []
    for title, cells in maps:
        rs = runs(cells, lo, hi)
        total = sum(n for _s, n in rs) * BLOCK
        big = max((n for _s, n in rs), default=0) * BLOCK
        shown = " ".join("%x:%d" % (s * BLOCK, n * BLOCK) for s, n in rs if n * BLOCK >= min_run)
        lines.append("%-28s free=%d largest=%d runs>=%d: %s" % (title[:28], total, big, min_run, shown))
    return lines


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: python -m heeldrop.bench_heapmap SIM_OUTPUT (heeldrop sim ... --board-ram pico with "
              "HEELDROP_HEAP_MAP=1)", file=sys.stderr)
        return 2
    with open(argv[0]) as f:
        lines = summary(f.read())
    if not lines:
        print("no heap maps in %s (HEELDROP_HEAP_MAP=1 and --board-ram)" % argv[0], file=sys.stderr)
        return 1
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
