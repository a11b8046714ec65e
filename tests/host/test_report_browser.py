"""The report in a real browser: headless Chromium (Debian's `chromium`, installed by `make browser`).

The page's own script sets data-figures-ok on <html> after checking that every
<img> decoded (complete and naturalWidth > 0), records script errors in
data-errors and the page's scroll width in data-page-width; --dump-dom gives
the DOM after load. Console messages come from --enable-logging=stderr (lines
with CONSOLE); the report logs nothing, so any is a failure.

Phone and desktop widths: headless Chromium will not make a window narrower
than 500 px, so the page is loaded in two iframes, 390 and 1280 px wide, of a
harness page whose own script (not the report's) measures, in each: the
tables' boxes that must scroll sideways, the table cells not wholly inside the
frame (cut off), and whether the page itself is wider than the frame.
Screenshots at both widths are kept in build/test-out/.
"""
import os
import re
import shutil
import struct
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))
from reportkit import kinematic_trace  # noqa: E402

from heeldrop.cli import main  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "build", "test-out")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars", "--window-size=390,2000"]


def chromium():
    exe = "/usr/bin/chromium" if os.path.exists("/usr/bin/chromium") else shutil.which("chromium")
    if not exe:
        pytest.fail("headless Chromium is not installed: run 'make browser' (it runs apt-get update && "
                    "apt-get install -y chromium as root), then run the tests again")
    return exe


def run_chromium(args, tmp_path):
    ud = tmp_path / ("profile-%d" % len(os.listdir(tmp_path)))
    cmd = [chromium()] + FLAGS + ["--user-data-dir=%s" % ud] + args
    r = subprocess.run(cmd, capture_output=True, timeout=180)
    assert r.returncode == 0, "chromium failed (%d): %s" % (r.returncode, r.stderr.decode(errors="replace")[-2000:])
    return r.stdout.decode(errors="replace"), r.stderr.decode(errors="replace")


HARNESS = """<!DOCTYPE html><html><head><script>
window.addEventListener('load', function(){
  var root = document.documentElement, frames = document.querySelectorAll('iframe');
  for (var i = 0; i < frames.length; i++) {
    var w = frames[i].getAttribute('width'), doc = frames[i].contentDocument, win = frames[i].contentWindow;
    var over = [], boxes = doc.querySelectorAll('table');
    for (var j = 0; j < boxes.length; j++) { var b = boxes[j].parentElement;
      if (b.scrollWidth > b.clientWidth + 1) over.push(b.getAttribute('data-name') || ('table' + j)); }
    var cells = doc.querySelectorAll('td,th'), out = 0, shown = 0;
    for (var k = 0; k < cells.length; k++) { var r = cells[k].getBoundingClientRect();
      if (r.width > 0) { shown++; if (r.left < -1 || r.right > win.innerWidth + 1) out++; } }
    root.setAttribute('w' + w + '-overflow', over.join(' '));
    root.setAttribute('w' + w + '-cells', shown + '/' + cells.length);
    root.setAttribute('w' + w + '-cells-outside', String(out));
    root.setAttribute('w' + w + '-page', doc.documentElement.scrollWidth + '/' + win.innerWidth);
    root.setAttribute('w' + w + '-figures-ok', doc.documentElement.getAttribute('data-figures-ok') || 'none');
  }
});
</script></head><body>%s</body></html>"""


def measure_widths(page, tmp_path, widths=(390, 1280)):
    """{width: {overflow, cells, cells-outside, page, figures-ok}} of the report in frames that wide."""
    h = tmp_path / "harness.html"
    h.write_text(HARNESS % "".join('<iframe width="%d" height="3000" src="%s"></iframe>' % (w, "file://" + page)
                                   for w in widths))
    dom, _err = run_chromium(["--allow-file-access-from-files", "--window-size=1400,2000",
                              "--virtual-time-budget=10000", "--dump-dom", "file://" + str(h)], tmp_path)
    m = re.search(r"<html([^>]*)>", dom)
    attrs = dict(re.findall(r'([\w-]+)="([^"]*)"', m.group(1)))
    return {w: {k[len("w%d-" % w):]: v for k, v in attrs.items() if k.startswith("w%d-" % w)} for w in widths}


def load_page(path, tmp_path):
    """(html attributes of the loaded page, console lines)."""
    dom, err = run_chromium(["--enable-logging=stderr", "--v=0", "--virtual-time-budget=10000",
                             "--dump-dom", "file://" + os.path.abspath(path)], tmp_path)
    m = re.search(r"<html([^>]*)>", dom)
    assert m, "no <html> in the dumped DOM: %r" % dom[:300]
    attrs = dict(re.findall(r'([\w-]+)="([^"]*)"', m.group(1)))
    console = [ln for ln in err.splitlines() if ":CONSOLE" in ln or "Uncaught" in ln]
    return attrs, console


def real_traces(tmp_path):
    """Committed corpus traces (a two-sided session and a faulty set) through the real engine;
    two traces drawn here only if the corpus is not there."""
    corpus = [os.path.join(ROOT, "tests", "traces", n) for n in ("demo_session.csv", "mixed_faults_right.csv")]
    have = [p for p in corpus if os.path.exists(p)]
    if have:
        return have
    return [kinematic_trace(str(tmp_path / "left.csv"), [(24, 3, 12, 1.5)] * 6, side="left", seed=3),
            kinematic_trace(str(tmp_path / "right.csv"), [(19, 3, 12, 1.5), (19, 0.8, 2, 0.4)] * 3,
                            side="right", seed=4)]


def png_size(path):
    with open(path, "rb") as f:
        head = f.read(24)
    assert head[:8] == b"\x89PNG\r\n\x1a\n", "%s is not a PNG" % path
    return struct.unpack(">II", head[16:24])


def test_report_renders_in_headless_chromium(tmp_path, capsys):
    os.makedirs(OUT, exist_ok=True)
    page = str(tmp_path / "report.html")
    traces = real_traces(tmp_path)
    assert main(["report"] + traces + ["--html", page]) == 0
    text = capsys.readouterr().out
    assert "left/right" in text
    attrs, console = load_page(page, tmp_path)
    assert not console, "console messages:\n" + "\n".join(console)
    assert "data-errors" not in attrs, attrs.get("data-errors")
    assert attrs.get("data-figures-ok") == "yes", attrs
    assert int(attrs["data-figures"]) == len(traces) + 1
    os.makedirs(OUT, exist_ok=True)
    for w in (390, 1280):
        shot = str(tmp_path / ("report-%d.png" % w))
        run_chromium(["--screenshot=%s" % shot, "--window-size=%d,2000" % w, "file://" + page], tmp_path)
        assert png_size(shot) == (w, 2000)
        kept = os.path.join(OUT, "report-%d.png" % w)
        shutil.copyfile(shot, kept + ".tmp")
        os.replace(kept + ".tmp", kept)  # whole file, even with another test run writing it
    shutil.copyfile(page, os.path.join(OUT, "report.html"))


def test_every_table_cell_is_on_screen_on_a_phone_and_a_desktop(tmp_path, capsys):
    """At 390 and 1280 px: no table has to scroll sideways, no cell is cut off, the page is no wider
    than the screen (before: the per-side table's 17 columns were cut at both widths, 4-6 columns
    of either table showed on a phone). The per-rep table is also written beside the page."""
    import csv
    import json

    page = str(tmp_path / "report.html")
    traces = real_traces(tmp_path)
    assert main(["report"] + traces + ["--html", page]) == 0
    capsys.readouterr()
    got = measure_widths(page, tmp_path)
    for w, m in got.items():
        assert m["figures-ok"] == "yes", (w, m)
        assert m["overflow"] == "", "tables that must scroll sideways at %d px: %s" % (w, m["overflow"])
        assert m["cells-outside"] == "0", "table cells cut off at %d px: %s of %s" % (w, m["cells-outside"], m["cells"])
        shown, total = (int(x) for x in m["cells"].split("/"))
        assert total > 100 and shown >= total - 40, (w, m)  # only the header row is hidden (cards)
        scroll, inner = (int(x) for x in m["page"].split("/"))
        assert scroll <= inner, (w, m)
    rows = list(csv.DictReader(open(str(tmp_path / "report-reps.csv"), encoding="utf-8")))
    data = json.load(open(str(tmp_path / "report-reps.json"), encoding="utf-8"))["reps"]
    assert len(rows) == len(data) == 18 and rows[0]["side"] == data[0]["side"] == "left"
    assert float(rows[3]["depth_deg"]) == data[3]["depth_deg"] and isinstance(data[3]["faults"], list)


def test_the_browser_check_catches_broken_figures_and_script_errors(tmp_path):
    from heeldrop import report

    bad = tmp_path / "bad.html"
    bad.write_text("<!DOCTYPE html><html><head><script>%s</script></head><body>"
                   '<img alt="broken" src="data:image/png;base64,iVBORw0KGgoAAAA=">'
                   "<script>notDefined();</script></body></html>" % report.CHECK_JS)
    attrs, console = load_page(str(bad), tmp_path)
    assert attrs.get("data-figures-ok") == "no: broken"
    assert "notDefined" in attrs.get("data-errors", "")
    assert any("Uncaught" in ln for ln in console)
