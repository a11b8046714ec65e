"""Downloads trust content, never names or sizes (issue 13, items 1, 2, 3, 15).

Against tests/host/fakedevice.py (the protocol on a pty); the same checks on
the virtual device running the real firmware are in test_e2e_pty.py."""
import os
import sys
import hashlib

import pytest

from heeldrop import cli
from heeldrop import transport as tp

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fakedevice import FakeDevice, make_log  # noqa: E402


@pytest.fixture(autouse=True)
def _no_env_port(monkeypatch):
    monkeypatch.delenv("HEELDROP_PORT", raising=False)


def run(capsys, dev, dest, *extra):
    try:
        rc = cli.main(["download", "--dest", str(dest), "--port", dev.path] + list(extra))
    finally:
        dev.stop()
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return rc, out, err


def test_resume_never_splices_another_boards_part(capsys, tmp_path):
    # the repro of issue 13.1: board A's session 1 cut mid-download leaves a
    # .part; board B (same name, its own session 1, no identity: older
    # firmware, so the names collide) is then downloaded with --delete-after
    a = make_log(3000, board="pico A")
    b = make_log(2600, board="pico B")
    assert a[:5 * 1024] != b[:5 * 1024]
    dev = FakeDevice(sessions={1: a}, die_after_chunks=5, board="pico", uid_prefix=None).start()
    rc, out, err = run(capsys, dev, tmp_path, "--all")
    assert rc == 4
    part = tmp_path / "pico-s1.hdl.part"
    assert part.stat().st_size == 5 * 1024 and part.read_bytes() == a[:5 * 1024]
    dev_b = FakeDevice(sessions={1: b}, board="pico", uid_prefix=None)
    dev_b.start()
    rc, out, err = run(capsys, dev_b, tmp_path, "--all", "--delete-after")
    assert rc == 0, err
    assert (tmp_path / "pico-s1.hdl").read_bytes() == b  # B's file, not A's head on B's tail
    assert "was not the start of this session" in out and "damaged" not in out
    assert dev_b.deleted == [1] and not part.exists()


def test_same_size_copy_with_a_flipped_byte_is_neither_skipped_nor_overwritten(capsys, tmp_path):
    log = make_log(2000)
    bad = bytearray(log)
    bad[len(bad) // 2] ^= 0x01
    name = tmp_path / "fake-0123abcd-5e55101d-7.hdl"
    name.write_bytes(bytes(bad))
    dev = FakeDevice(sessions={7: log})
    dev.start()
    rc, out, err = run(capsys, dev, tmp_path, "--all", "--delete-after")
    assert rc == 0, err
    assert name.read_bytes() == bytes(bad)  # never overwritten
    other = tmp_path / "fake-0123abcd-5e55101d-7~2.hdl"
    assert other.read_bytes() == log and "holds a different file" in out
    assert dev.deleted == [7]  # deleted only after the verified copy


def test_two_boards_never_overwrite_each_others_copies(capsys, tmp_path):
    # every Pico is "pico" and ids restart at 1: the identity keeps them apart
    a, b = make_log(1500), make_log(1700)
    for log, prefix in ((a, "e661385283-aaaa0001-"), (b, "e661385283-bbbb0002-")):
        dev = FakeDevice(sessions={1: log}, board="pico", uid_prefix=prefix)
        dev.start()
        rc, out, err = run(capsys, dev, tmp_path, "--all")
        assert rc == 0, err
    assert (tmp_path / "pico-e661385283-aaaa0001-1.hdl").read_bytes() == a
    assert (tmp_path / "pico-e661385283-bbbb0002-1.hdl").read_bytes() == b
    # again: both already here, by content
    dev = FakeDevice(sessions={1: b}, board="pico", uid_prefix="e661385283-bbbb0002-")
    dev.start()
    rc, out, err = run(capsys, dev, tmp_path, "--all")
    assert "already here" in out


def test_a_deleted_copy_is_never_deleted_on_the_device(capsys, tmp_path):
    from heeldrop.download import delete_verified, download_session
    log = make_log(1000)
    dev = FakeDevice(sessions={3: log}).start()
    try:
        with tp.SerialTransport(dev.path) as t:
            t.connect()
            s = t.command("list_sessions")["sessions"][0]
            res = download_session(t, s, str(tmp_path))
            with open(res.path, "r+b") as f:  # the copy changes on disk before the delete
                f.seek(100)
                f.write(b"\x00")
            assert not delete_verified(t, res)
            assert dev.deleted == []
            res.sha256 = hashlib.sha256(open(res.path, "rb").read()).hexdigest()  # a caller that lies: the device checks
            assert not delete_verified(t, res)
            assert dev.deleted == [] and 3 in dev.sessions
    finally:
        dev.stop()


def test_cut_sessions_are_downloaded(capsys, tmp_path):
    # issue 13.3: a session without END (power cut) is finished, not "recording"
    whole = make_log(1200)
    cut = whole[:len(whole) - 300]
    dev = FakeDevice(sessions={1: whole, 2: cut, 3: make_log(900)}, states={2: "cut", 3: "recording"})
    dev.start()
    rc, out, err = run(capsys, dev, tmp_path, "--all")
    assert rc == 0, err
    assert (tmp_path / "fake-0123abcd-5e55101d-2.hdl").read_bytes() == cut
    assert "session 2: note: no END record: the session was cut" in out
    assert not (tmp_path / "fake-0123abcd-5e55101d-3.hdl").exists()
    assert "session 3: still being recorded" in out


def test_damaged_frames_are_asked_again_at_once_and_counted(capsys, tmp_path):
    # issue 13.15: a chunk whose frame arrives damaged is asked for again as
    # soon as the damage is seen (no timeout: t.timeouts stays 0), and the
    # count printed is the number of chunks asked for again
    from heeldrop.download import download_session
    log = make_log(3000)
    dev = FakeDevice(sessions={1: log}, corrupt_frames={2, 5}, corrupt_chunks={7}).start()
    try:
        with tp.SerialTransport(dev.path) as t:
            t.connect()
            s = t.command("list_sessions")["sessions"][0]
            res = download_session(t, s, str(tmp_path))
            assert open(res.path, "rb").read() == log
            assert t.timeouts == 0 and t.rerequests == 3 and t.stats()["bad_frames"] == 2
    finally:
        dev.stop()
    dev = FakeDevice(sessions={1: log}, corrupt_frames={2, 5}, corrupt_chunks={7})
    dev.start()
    rc, out, err = run(capsys, dev, tmp_path / "again", "1")
    assert rc == 0 and "2 damaged frames, 3 chunks asked for again" in out
