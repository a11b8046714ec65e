"""The report in a real browser: headless Chromium (Debian's `chromium`, installed by `make browser`).

The page's own script sets data-figures-ok on <html> after checking that every
<img> decoded (complete and naturalWidth > 0), records script errors in
data-errors and the page's scroll width in data-page-width; --dump-dom gives
the DOM after load. Console messages come from --enable-logging=stderr (lines
with CONSOLE); the report logs nothing, so any is a failure. A 390 px wide
screenshot is kept in out/report-390.png.
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
OUT = os.path.join(ROOT, "out")
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
    scroll, inner = (int(x) for x in attrs["data-page-width"].split("/"))
    assert scroll <= inner, "the page is wider than a 390 px phone screen: %d > %d" % (scroll, inner)
    shot = str(tmp_path / "report-390.png")
    run_chromium(["--screenshot=%s" % shot, "file://" + page], tmp_path)
    w, h = png_size(shot)
    assert (w, h) == (390, 2000)
    shutil.copyfile(page, os.path.join(OUT, "report.html"))
    kept = os.path.join(OUT, "report-390.png")
    shutil.copyfile(shot, kept + ".tmp")
    os.replace(kept + ".tmp", kept)  # whole file, even with another test run writing it


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
