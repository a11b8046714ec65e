"""Bad ports and bad boards: one line on stderr, no traceback, nonzero exit."""
import os
import re
import subprocess
import sys

import pytest

from heeldrop import cli
from heeldrop import transport as tp

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fakedevice import FakeDevice, make_log  # noqa: E402

HEELDROP = os.path.join(os.path.dirname(sys.executable), "heeldrop")


def run_cli(capsys, *argv):
    rc = cli.main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


def one_line(err):
    lines = [x for x in err.splitlines() if x.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


@pytest.fixture(autouse=True)
def no_env_port(monkeypatch):
    monkeypatch.delenv("HEELDROP_PORT", raising=False)


def test_no_port(monkeypatch, capsys):
    monkeypatch.setattr(tp, "list_ports", lambda: [("/dev/ttyS0", "ttyS0", None, None, None, None, False)])
    rc, out, err = run_cli(capsys, "sessions")
    assert rc == 2
    assert "no board found" in one_line(err) and "--port" in err


def test_several_ports(monkeypatch, capsys):
    monkeypatch.setattr(tp, "list_ports", lambda: [
        ("/dev/ttyACM0", "Board CDC", 0x2E8A, 5, "a", "Raspberry Pi RP2040/RP2350 (Pico)", True),
        ("/dev/ttyUSB0", "CP2102", 0x10C4, 0xEA60, "b", "Silicon Labs CP210x USB-serial (ESP32 DevKit)", True)])
    rc, out, err = run_cli(capsys, "live")
    assert rc == 2
    line = one_line(err)
    assert "2 boards found" in line and "/dev/ttyACM0" in line and "/dev/ttyUSB0" in line


def test_env_port_is_used(monkeypatch, capsys):
    monkeypatch.setenv("HEELDROP_PORT", "/dev/heeldrop-no-such-port")
    rc, out, err = run_cli(capsys, "sessions")
    assert rc == 2 and "/dev/heeldrop-no-such-port: no such port" in one_line(err)


@pytest.mark.parametrize("cmd", [["sessions"], ["download", "--all"], ["live"], ["config", "get"], ["side", "left"],
                                 ["calibrate"], ["doctor"]])
def test_wrong_port_path(capsys, cmd):
    rc, out, err = run_cli(capsys, *cmd, "--port", "/dev/heeldrop-no-such-port")
    assert rc != 0
    if cmd == ["doctor"]:
        assert "no such port" in out and "Traceback" not in out + err
    else:
        assert "no such port" in one_line(err)


def test_not_a_serial_port(capsys, tmp_path):
    f = tmp_path / "plain.txt"
    f.write_text("hello")
    rc, out, err = run_cli(capsys, "sessions", "--port", str(f))
    assert rc == 2 and "not a serial port" in one_line(err)
    rc, out, err = run_cli(capsys, "sessions", "--port", str(tmp_path))
    assert rc == 2 and one_line(err)


def test_busy_port(capsys):
    dev = FakeDevice().start()
    holder = tp.SerialTransport(dev.path)  # another program has it (exclusive lock)
    try:
        rc, out, err = run_cli(capsys, "sessions", "--port", dev.path)
        assert rc == 2 and "is busy" in one_line(err)
    finally:
        holder.close()
        dev.stop()


def test_port_that_answers_nothing(capsys):
    dev = FakeDevice(silent=True).start()
    try:
        rc, out, err = run_cli(capsys, "sessions", "--port", dev.path)
        line = one_line(err)
        assert rc == 3
        assert "no heeldrop firmware answered on %s" % dev.path in line and "heeldrop deploy" in line
    finally:
        dev.stop()


def test_port_with_a_repl_banner(capsys):
    dev = FakeDevice(repl=True, banner=b"MicroPython v1.24.1 on 2024-11-29; Raspberry Pi Pico with RP2040\r\n"
                                         b"Type \"help()\" for more information.\r\n>>> ").start()
    try:
        rc, out, err = run_cli(capsys, "config", "get", "--port", dev.path)
        line = one_line(err)
        assert rc == 3 and "no heeldrop firmware answered" in line and "MicroPython v1.24.1" in line
    finally:
        dev.stop()


@pytest.mark.parametrize("version,word", [(2, "update the host tools"), (0, "heeldrop deploy")])
def test_other_protocol_version_frames(capsys, version, word):
    dev = FakeDevice(version=version).start()
    try:
        rc, out, err = run_cli(capsys, "sessions", "--port", dev.path)
        line = one_line(err)
        assert rc == 3 and ("protocol %d" % version) in line and word in line
    finally:
        dev.stop()


@pytest.mark.parametrize("proto_v,word", [(0, "older"), (9, "newer")])
def test_hello_names_another_protocol(capsys, proto_v, word):
    dev = FakeDevice(hello={"protocol": proto_v, "firmware": "0.0.1", "board": "pico"}).start()
    try:
        rc, out, err = run_cli(capsys, "side", "left", "--port", dev.path)
        line = one_line(err)
        assert rc == 3 and word in line and "speaks protocol %d" % proto_v in line
    finally:
        dev.stop()


def test_unplug_mid_download_then_resume(capsys, tmp_path):
    log = make_log(4000)
    dev = FakeDevice(sessions={5: log}, die_after_chunks=6).start()
    try:
        rc, out, err = run_cli(capsys, "download", "--all", "--dest", str(tmp_path), "--port", dev.path)
    finally:
        dev.stop()
    assert rc == 4 and "went away" in one_line(err)
    part = tmp_path / "fake-0123abcd-5e55101d-5.hdl.part"
    assert part.exists() and part.stat().st_size == 6 * 1024
    assert log.startswith(part.read_bytes())
    dev = FakeDevice(sessions={5: log}).start()
    try:
        rc, out, err = run_cli(capsys, "download", "5", "--dest", str(tmp_path), "--port", dev.path)
        assert rc == 0, err
        assert "resumed" in out
        assert dev.chunks_sent == -(-(len(log) - 6 * 1024) // 1024)
        assert (tmp_path / "fake-0123abcd-5e55101d-5.hdl").read_bytes() == log
        assert not part.exists()
        assert (tmp_path / "fake-0123abcd-5e55101d-5.csv").read_text().count("\n") > 100
        # idempotent: nothing read again
        rc, out, err = run_cli(capsys, "download", "--all", "--dest", str(tmp_path), "--port", dev.path,
                               "--delete-after")
        assert rc == 0 and "skipped" in out
        assert dev.deleted == [5]
    finally:
        dev.stop()


def test_corrupted_chunks_are_asked_again(capsys, tmp_path):
    log = make_log(2000)
    dev = FakeDevice(sessions={1: log}, corrupt_chunks={1, 3}).start()
    try:
        rc, out, err = run_cli(capsys, "download", "1", "--dest", str(tmp_path), "--port", dev.path)
        assert rc == 0, err
        assert (tmp_path / "fake-0123abcd-5e55101d-1.hdl").read_bytes() == log
        assert "2 chunks asked for again" in out
    finally:
        dev.stop()


def test_unknown_session_and_device_refusal(capsys, tmp_path):
    dev = FakeDevice(sessions={1: make_log(500)}).start()
    try:
        rc, out, err = run_cli(capsys, "download", "9", "--dest", str(tmp_path), "--port", dev.path)
        assert rc == 1 and "no session 9" in one_line(err)
        rc, out, err = run_cli(capsys, "config", "set", "nope=1", "--port", dev.path)
        assert rc == 1 and "bad_args" in one_line(err)
        rc, out, err = run_cli(capsys, "download", "--dest", str(tmp_path), "--port", dev.path)
        assert rc == 2 and "--all" in one_line(err)
    finally:
        dev.stop()


def test_no_traceback_from_the_real_command():
    r = subprocess.run([HEELDROP, "download", "--all", "--port", "/dev/heeldrop-no-such-port"],
                       capture_output=True, text=True, timeout=60, env=dict(os.environ, HEELDROP_PORT=""))
    assert r.returncode == 2
    assert r.stdout == "" and "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_ports_marks_the_likely_boards(monkeypatch, capsys):
    monkeypatch.setattr(tp, "list_ports", lambda: [
        ("/dev/ttyACM0", "Board CDC", 0x2E8A, 5, "a", "Raspberry Pi RP2040/RP2350 (Pico)", True),
        ("/dev/ttyS0", "ttyS0", None, None, None, None, False)])
    from heeldrop import cmd_ports
    monkeypatch.setattr(cmd_ports, "list_ports", tp.list_ports)
    rc, out, err = run_cli(capsys, "ports")
    assert rc == 0 and "* /dev/ttyACM0" in out and "2E8A:0005" in out and "ttyS0" not in out


def test_usb_ids_table():
    from heeldrop.transport import USB_IDS
    ids = {(v, p) for v, p, _, _ in USB_IDS}
    assert {(0x2E8A, None), (0x303A, None), (0x10C4, 0xEA60), (0x1A86, 0x7523), (0x0403, None)} <= ids


def test_deploy_arch_and_dry_run(capsys):
    from heeldrop.cmd_deploy import arch_for
    assert arch_for("pico") == "armv6m" and arch_for("pico_w") == "armv6m" and arch_for("pico2") == "armv7emsp"
    assert arch_for("esp32_s3") == "xtensawin" and arch_for("ESP32") == "xtensawin"
    assert arch_for("RP2040") == "armv6m" and arch_for("RP2350") == "armv7emsp" and arch_for("sim") == "x64"
    rc, out, err = run_cli(capsys, "deploy", "--arch", "armv6m", "--dry-run", "--port", "/dev/unused")
    assert rc == 0, err
    assert "compiled" in out and "lib/heelcore/proto.mpy" in out and "drivers/mpu6050.mpy" in out
    assert "sim/" not in out  # the unix-port-only helpers stay home


def test_deploy_says_where_the_sessions_go(capsys):
    # A .mpy deploy runs on stock MicroPython: the sessions go to littlefs
    # files, the raw log region needs the frozen build, and converting the
    # flash is the owner's command after a download (firmware/flashboot.py,
    # hardware/README.md). deploy says so in its output and its help.
    rc, out, err = run_cli(capsys, "deploy", "--arch", "armv6m", "--dry-run", "--port", "/dev/unused")
    assert rc == 0, err
    note = out[out.index("flash layout:"):]
    assert len(note.strip().splitlines()) <= 2, note
    for what in ("littlefs", "stock MicroPython", "raw log", "frozen build", "hardware/README.md", "download",
                 'mpremote exec "import flashboot; flashboot.format_split()"', "erases"):
        assert what in note, (what, note)
    text = help_text("deploy")
    for what in ("littlefs", "raw log region", "frozen build", "flashboot.format_split()", "after a download"):
        assert what in " ".join(text.split()), what


# ------------------------------------------------------------ item 14: no traceback, documented exit codes

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PACKAGE = os.path.join(ROOT, "host", "heeldrop")
NOPORT = "/dev/heeldrop-no-such-port"


def documented_codes(text):
    """Exit codes named in the 'exit status:' paragraphs of a help text (or a doc section)."""
    codes = set()
    for para in re.findall(r"(?:exit status:|every command:)(.*?)(?:\n\s*\n|\Z)", text, re.S):
        codes |= {int(c) for c in re.findall(r"(?<![\d.])(\d{1,3})(?= [a-z(-])", para)}
    return codes


def help_text(cmd):
    r = subprocess.run([HEELDROP, cmd, "--help"], capture_output=True, text=True, timeout=60,
                       env=dict(os.environ, COLUMNS="100"))
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
    return r.stdout


def test_every_command_documents_its_exit_codes_in_help_and_docs():
    doc = open(os.path.join(ROOT, "docs", "CLI.md"), encoding="utf-8").read()
    for name in cli.COMMANDS:
        text = help_text(name)
        assert "exit status:" in text, "heeldrop %s --help names no exit codes" % name
        codes = documented_codes(text)
        assert {0, 2, 70, 130} <= codes, (name, codes)
        m = re.search(r"^\| `%s` \| ([^|]*)\|" % name, doc, re.M)
        assert m, "docs/CLI.md has no row for %s" % name
        in_doc = {int(c) for c in re.findall(r"\d+", m.group(1))}
        assert in_doc | {0, 2} == codes - {70, 130}, (name, in_doc, codes)


def test_dash_capital_v_is_version():
    a = subprocess.run([HEELDROP, "-V"], capture_output=True, text=True, timeout=60)
    b = subprocess.run([HEELDROP, "--version"], capture_output=True, text=True, timeout=60)
    assert a.returncode == 0 and a.stdout == b.stdout and a.stdout.startswith("heeldrop ")


def test_download_dest_that_cannot_be_written(capsys, tmp_path):
    """An OSError on a path the user gave is one line naming it, exit 2 (1 means a session failed its check)."""
    (tmp_path / "plain.txt").write_text("x")
    dests = [str(tmp_path / "plain.txt" / "sub"), "/proc/1/heeldrop"]
    if os.geteuid() != 0:  # root may write anywhere
        ro = tmp_path / "ro"
        ro.mkdir()
        ro.chmod(0o500)
        dests.append(str(ro))
    dev = FakeDevice(sessions={1: make_log(300)}).start()
    try:
        for dest in dests:
            rc, out, err = run_cli(capsys, "download", "--all", "--dest", dest, "--port", dev.path)
            line = one_line(err)
            assert rc == 2, (dest, rc, err)
            assert line.startswith("heeldrop download: ") and dest.split("/")[1] in line, line
            assert "Error" not in line and "Errno" not in line, line
    finally:
        dev.stop()


def test_oserror_messages_say_what_to_do(tmp_path):
    import errno
    from heeldrop.errors import describe_oserror
    m = describe_oserror(FileNotFoundError(errno.ENOENT, "No such file", str(tmp_path / "a" / "b" / "c.hdl")))
    assert "the folder %s does not exist" % (tmp_path / "a") in m
    m = describe_oserror(PermissionError(errno.EACCES, "Permission denied", "/x/y"))
    assert m.startswith("/x/y: permission denied; ")
    m = describe_oserror(OSError(errno.ENOSPC, "No space left on device", "/x/y"))
    assert "no space left" in m and "free some space" in m


def test_a_bug_is_one_line_exit_70_with_the_details_in_a_file(capsys, monkeypatch, tmp_path):
    from heeldrop import cmd_ports
    monkeypatch.setenv("HEELDROP_HOME", str(tmp_path))
    monkeypatch.delenv("HEELDROP_DEBUG", raising=False)
    monkeypatch.setattr(cmd_ports, "list_ports", lambda: 1 / 0)
    rc, out, err = run_cli(capsys, "ports")
    line = one_line(err)
    assert rc == 70 and "internal error (ZeroDivisionError" in line and "bug" in line
    crash = re.search(r"(/\S+heeldrop-crash-\S+\.txt)", line).group(1)
    assert "ZeroDivisionError" in open(crash).read() and "Traceback" in open(crash).read()


def bad_invocations(tmp):
    """(argv, cwd) per command: bad input, a missing port, a missing file."""
    with open(os.path.join(tmp, "empty.csv"), "w"):
        pass
    with open(os.path.join(tmp, "garbage.bin"), "wb") as f:
        f.write(b"\x00\xffnot a log" * 10)
    with open(os.path.join(tmp, "plain.txt"), "w") as f:
        f.write("x")
    demo = os.path.join(ROOT, "tests", "traces", "demo_session.csv")
    return {
        "replay": [["replay", "missing.csv"], ["replay", demo]],
        "evaluate": [["evaluate", "--corpus", "no-such-corpus"]],
        "demo": [["demo", "--speed", "fast"], ["demo", "--trace", "missing.csv"]],
        "live": [["live", "--port", NOPORT], ["live", "--seconds", "-1"]],
        "ports": [["ports", "--bogus"]],
        "sessions": [["sessions", "--port", NOPORT]],
        "download": [["download", "--all", "--dest", "plain.txt/sub", "--port", NOPORT]],
        "config": [["config", "set", "novalue", "--port", NOPORT]],
        "side": [["side", "up"], ["side", "left", "--port", NOPORT]],
        "calibrate": [["calibrate", "--wait", "x"], ["calibrate", "--port", NOPORT]],
        "deploy": [["deploy", "--port", NOPORT]],
        "doctor": [["doctor", "--port", NOPORT]],
        "synth": [["synth", "--scenario", "nope", "-o", "x.csv"], ["synth", "-o", "plain.txt/x.csv"]],
        "report": [["report", "empty.csv"], ["report", demo, "--html", "plain.txt/r.html"], ["report", demo]],
        "import": [["import", "no-such-dir", "--db", "h.sqlite"]],
        "history": [["history", "--db", "no-such-dir/h.sqlite"]],
        "convert": [["convert", "garbage.bin"]],
        "events": [["events", "garbage.bin"]],
        "sim": [["sim", "--trace", "missing.csv"]],
    }


def python_startup_only(err):
    """A KeyboardInterrupt raised before the first line of heeldrop ran (Python's own start-up: site,
    .pth files, compiling the console script, finding the package). No Python program can install a
    handler earlier than that. Two shapes: a traceback through importlib/site only, or, when the
    signal lands while CPython parses the script (no Python frame exists yet), the bare line
    "KeyboardInterrupt" with exit code 1. heeldrop's own code cannot print either: an interrupt in
    it unwinds through its frames (a traceback naming the package) or ends "heeldrop: interrupted"."""
    if err.strip() == "KeyboardInterrupt":
        return True
    return "Traceback" in err and PACKAGE not in err and "heeldrop/" not in err.replace(
        os.path.join(".venv", "bin", "heeldrop"), "")


def test_a_sigint_while_python_parses_the_script_counts_as_python_start_up():
    # seen under load (seed 584557002, SIGINT at 18 ms): stderr was exactly this, rc 1
    assert python_startup_only("KeyboardInterrupt\n")
    assert python_startup_only('Traceback (most recent call last):\n  File "<frozen site>", line 1\nKeyboardInterrupt\n')
    # heeldrop's own frames, or more than the bare line, are not start-up
    assert not python_startup_only('Traceback (most recent call last):\n  File "%s/cli.py", line 3\nKeyboardInterrupt\n'
                                   % PACKAGE)
    assert not python_startup_only("heeldrop: interrupted\nKeyboardInterrupt\n")


def test_no_traceback_from_any_command_on_bad_input_or_an_early_ctrl_c(tmp_path):
    """Every command, with bad inputs, run to the end and with SIGINT at random moments of its
    first 0.3 s: never a traceback from heeldrop, always an exit code its help documents."""
    import random
    import signal
    import time

    seed = int(os.environ.get("HEELDROP_SIGINT_SEED", random.randrange(1 << 30)))
    rng = random.Random(seed)
    env = dict(os.environ, HEELDROP_PORT="", HEELDROP_HOME=str(tmp_path), COLUMNS="100")
    env.pop("HEELDROP_DEBUG", None)
    startup = []
    signalled = 0
    for name, runs in bad_invocations(str(tmp_path)).items():
        codes = documented_codes(help_text(name))
        for argv in runs:
            moments = [None, rng.uniform(0.0, 0.3)]
            for at in moments:
                p = subprocess.Popen([HEELDROP] + argv, cwd=str(tmp_path), env=env, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                if at is not None:
                    time.sleep(at)
                    p.send_signal(signal.SIGINT)
                    signalled += 1
                try:
                    out, err = p.communicate(timeout=120)
                except subprocess.TimeoutExpired:
                    p.kill()
                    out, err = p.communicate()
                    pytest.fail("heeldrop %s did not end (SIGINT at %s s)" % (" ".join(argv), at))
                what = "heeldrop %s (SIGINT at %s s, seed %d): rc %d\n%s" % (
                    " ".join(argv), "%.3f" % at if at is not None else "-", seed, p.returncode, err[-1500:])
                if at is not None and python_startup_only(err):
                    startup.append(at)
                    continue
                assert "Traceback" not in err + out and "Exception ignored" not in err, what
                rc = 130 if p.returncode == -signal.SIGINT else p.returncode
                assert rc in codes, what
                if at is not None and p.returncode == 130:
                    assert err.strip().splitlines()[-1].endswith("interrupted"), what
                if rc not in (0, 130) and not (name == "doctor"):
                    assert len([x for x in err.splitlines() if x.strip()]) == 1 or "usage:" in err, what
    # Python's own start-up is a few ms of the 300 ms (more on a loaded machine): most moments reach
    # heeldrop's code, which is what this test is about
    assert len(startup) <= signalled // 2, "%d of %d SIGINTs landed before heeldrop's first line: %s" % (
        len(startup), signalled, startup)
