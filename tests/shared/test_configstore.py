# Shared tests: plain functions run by pytest (CPython) and tests/run_unix.py
# (MicroPython unix port). The settings file on flash (firmware/configstore.py):
# defaults, bad JSON, bad keys keep their defaults with a message, atomic save.
import os

from configstore import (
    DEVICE_SPEC, check_device, config_text, device_defaults, load_config, save_config, set_setting,
)
from heelcore.config import Config, ConfigError
from heelcore.minijson import loads


def tmpdir(tag):
    rnd = "".join(["%02x" % b for b in os.urandom(4)])
    path = "/tmp/hd_configstore_%s_%s" % (rnd, tag)
    os.mkdir(path)
    return path


def cleanup(d):
    for n in os.listdir(d):
        os.remove(d + "/" + n)
    os.rmdir(d)


def write(path, data):
    if isinstance(data, str):
        data = data.encode()
    with open(path, "wb") as f:
        f.write(data)


def read(path):
    with open(path, "rb") as f:
        return f.read()


def test_missing_file_gives_defaults_and_no_problem():
    d = tmpdir("missing")
    cfg, dev, problems = load_config(d + "/heeldrop.json")
    assert problems == []
    assert cfg.to_dict() == Config().to_dict()
    assert dev == {"cue_style": "full", "sample_rate_hz": 100} == device_defaults()
    cleanup(d)


def test_good_file_applies_every_key():
    d = tmpdir("good")
    p = d + "/heeldrop.json"
    write(p, '{"hold_target_s": 20, "reps_per_side": 12, "depth_target_deg": 18.5,\n'
             ' "fast_descent_dps": 25, "side": "right", "cue_style": "quiet", "sample_rate_hz": 200}\n')
    cfg, dev, problems = load_config(p)
    assert problems == []
    assert cfg.hold_target_s == 20.0 and isinstance(cfg.hold_target_s, float)
    assert cfg.reps_per_side == 12 and cfg.depth_target_deg == 18.5 and cfg.fast_descent_dps == 25.0
    assert cfg.side == "right"
    assert dev == {"cue_style": "quiet", "sample_rate_hz": 200}
    cleanup(d)


def test_invalid_json_gives_defaults_and_one_problem():
    d = tmpdir("badjson")
    p = d + "/heeldrop.json"
    for text in ('{"hold_target_s": 20,\n "reps_per_side" 12}', "{", "", "hold_target_s=20", b"\xff\xfe{}"):
        write(p, text)
        cfg, dev, problems = load_config(p)
        assert cfg.to_dict() == Config().to_dict() and dev == device_defaults()
        assert len(problems) == 1, problems
        assert problems[0].startswith("heeldrop.json: not valid JSON"), problems
        assert problems[0].endswith("; using defaults"), problems
    write(p, '{"hold_target_s": 20,\n "reps_per_side" 12}')
    assert "at line 2 column 18" in load_config(p)[2][0], load_config(p)[2]
    write(p, "[1, 2]")
    cfg, dev, problems = load_config(p)
    assert len(problems) == 1 and "expected a JSON object" in problems[0] and "using defaults" in problems[0]
    cleanup(d)


def test_each_bad_key_keeps_its_default_with_a_message():
    d = tmpdir("badkey")
    p = d + "/heeldrop.json"
    write(p, '{"hold_target_s": 500, "reps_per_side": 12, "depth_target_deg": "deep",'
             ' "side": "up", "cue_style": "loud", "sample_rate_hz": 10, "bogus": 1,'
             ' "snap_up_dps": 60, "still_time_s": true}')
    cfg, dev, problems = load_config(p)
    # the good keys apply
    assert cfg.reps_per_side == 12 and cfg.snap_up_dps == 60.0
    # the bad ones keep their defaults
    assert cfg.hold_target_s == 30.0 and cfg.depth_target_deg == 20.0 and cfg.side == "left"
    assert cfg.still_time_s == Config().still_time_s
    assert dev == {"cue_style": "full", "sample_rate_hz": 100}
    assert len(problems) == 7, problems
    by_key = {}
    for m in problems:
        assert m.startswith("heeldrop.json: "), m
        for k in ("hold_target_s", "depth_target_deg", "side", "cue_style", "sample_rate_hz", "bogus", "still_time_s"):
            if k in m:
                by_key[k] = m
    assert len(by_key) == 7, problems
    assert "500" in by_key["hold_target_s"] and "5.0..120.0" in by_key["hold_target_s"]
    assert "default 30.0" in by_key["hold_target_s"]
    assert "'deep'" in by_key["depth_target_deg"] and "5.0..45.0" in by_key["depth_target_deg"]
    assert "'up'" in by_key["side"] and "left/right" in by_key["side"]
    assert "'loud'" in by_key["cue_style"] and "full/quiet/minimal" in by_key["cue_style"]
    assert "default 'full'" in by_key["cue_style"]
    assert "10" in by_key["sample_rate_hz"] and "25..1000" in by_key["sample_rate_hz"]
    assert "default 100" in by_key["sample_rate_hz"]
    assert "unknown setting 'bogus'" in by_key["bogus"] and "ignored" in by_key["bogus"]
    assert "True" in by_key["still_time_s"] and "0.5..10.0" in by_key["still_time_s"]
    cleanup(d)


def test_device_spec_validation():
    assert check_device("sample_rate_hz", 25) == 25 and check_device("sample_rate_hz", 1000.0) == 1000
    for bad in (24, 1001, 100.5, True, "100", None, float("nan")):
        try:
            check_device("sample_rate_hz", bad)
            assert False, bad
        except ConfigError as e:
            assert "sample_rate_hz" in str(e)
    for style in ("full", "quiet", "minimal"):
        assert check_device("cue_style", style) == style
    assert sorted(DEVICE_SPEC) == ["cue_style", "sample_rate_hz"]
    cfg = Config()
    dev = device_defaults()
    set_setting(cfg, dev, "reps_per_side", 10)
    set_setting(cfg, dev, "cue_style", "minimal")
    assert cfg.reps_per_side == 10 and dev["cue_style"] == "minimal"
    try:
        set_setting(cfg, dev, "nope", 1)
        assert False
    except ConfigError as e:
        assert "unknown setting 'nope'" in str(e) and "cue_style" in str(e) and "hold_target_s" in str(e)


def test_save_then_load_round_trip():
    d = tmpdir("save")
    p = d + "/heeldrop.json"
    cfg = Config(hold_target_s=45, reps_per_side=8, side="right")
    save_config(cfg, p, {"cue_style": "quiet", "sample_rate_hz": 250})
    assert sorted(os.listdir(d)) == ["heeldrop.json"]  # no temp file left
    cfg2, dev2, problems = load_config(p)
    assert problems == [] and cfg2.to_dict() == cfg.to_dict()
    assert dev2 == {"cue_style": "quiet", "sample_rate_hz": 250}
    text = read(p).decode()
    assert text == config_text(cfg, dev2) and text.count("\n") == len(loads(text)) + 2
    # the other argument order: (cfg, device, path)
    save_config(cfg, {"cue_style": "minimal"}, p)
    assert load_config(p)[1] == {"cue_style": "minimal", "sample_rate_hz": 100}
    # a second save replaces the first
    save_config(Config(), p)
    cfg3, dev3, problems = load_config(p)
    assert problems == [] and cfg3.to_dict() == Config().to_dict() and dev3 == device_defaults()
    # a bad device setting is refused and the file stays as it was
    before = read(p)
    for bad in ({"cue_style": "loud"}, {"volume": 3}):
        try:
            save_config(cfg, p, bad)
            assert False
        except ConfigError:
            pass
        assert read(p) == before and sorted(os.listdir(d)) == ["heeldrop.json"]
    cleanup(d)


def test_a_cut_save_never_leaves_half_a_config():
    # power cut while the temp file was written: the old file is still whole
    d = tmpdir("cut")
    p = d + "/heeldrop.json"
    save_config(Config(reps_per_side=9), p)
    new = config_text(Config(reps_per_side=4), {"cue_style": "minimal"}).encode()
    for n in (0, 1, len(new) // 2, len(new) - 1):
        write(p + ".tmp", new[:n])
        cfg, dev, problems = load_config(p)
        assert problems == [] and cfg.reps_per_side == 9 and dev["cue_style"] == "full", n
    # a complete temp file with the old one gone (rename without replace, cut
    # between remove and rename): the new settings are read
    os.remove(p)
    write(p + ".tmp", new)
    cfg, dev, problems = load_config(p)
    assert problems == [] and cfg.reps_per_side == 4 and dev["cue_style"] == "minimal"
    # a half temp file and nothing else: defaults, quietly (the first save was cut)
    write(p + ".tmp", new[:10])
    cfg, dev, problems = load_config(p)
    assert problems == [] and cfg.reps_per_side == 15
    # the next save clears it
    save_config(cfg, p, dev)
    assert sorted(os.listdir(d)) == ["heeldrop.json"]
    cleanup(d)


def test_unreadable_path_never_raises():
    d = tmpdir("dir")
    os.mkdir(d + "/heeldrop.json")  # a folder where the file should be
    cfg, dev, problems = load_config(d + "/heeldrop.json")
    assert cfg.to_dict() == Config().to_dict() and dev == device_defaults()
    assert len(problems) == 1 and "heeldrop.json" in problems[0] and "using defaults" in problems[0]
    os.rmdir(d + "/heeldrop.json")
    cleanup(d)


# -- on a real littlefs (the boards' filesystem), unix port only --

try:
    import vfs
except ImportError:  # CPython: these tests pass without checking
    vfs = None


class RamFlash:
    """A littlefs block device in RAM; with snap set, the image is saved
    before every program or erase (a power cut at that moment)."""

    def __init__(self, block_size=512, blocks=32):
        self.bs = block_size
        self.data = bytearray(block_size * blocks)
        self.snap = False
        self.snaps = []

    def readblocks(self, block, buf, off=0):
        a = block * self.bs + off
        buf[:] = self.data[a:a + len(buf)]

    def writeblocks(self, block, buf, off=0):
        if self.snap:
            self.snaps.append(bytes(self.data))
        a = block * self.bs + off
        self.data[a:a + len(buf)] = buf

    def ioctl(self, op, arg):
        if op == 4:
            return len(self.data) // self.bs
        if op == 5:
            return self.bs
        if op == 6:
            if self.snap:
                self.snaps.append(bytes(self.data))
            a = arg * self.bs
            for i in range(a, a + self.bs):
                self.data[i] = 0xFF
        return 0


def test_power_cut_during_save_on_littlefs():
    if vfs is None or not hasattr(vfs, "VfsLfs2"):
        return
    flash = RamFlash()
    spare = RamFlash()
    vfs.VfsLfs2.mkfs(flash)
    point = "/hdcfg_%s" % "".join(["%02x" % b for b in os.urandom(3)])
    vfs.mount(vfs.VfsLfs2(flash), point)
    p = point + "/heeldrop.json"
    try:
        save_config(Config(reps_per_side=9), p)
        flash.snap = True
        save_config(Config(reps_per_side=4, side="right"), p, {"cue_style": "quiet"})
        flash.snap = False
        flash.snaps.append(bytes(flash.data))  # a cut just after save_config returned
    finally:
        vfs.umount(point)
    assert len(flash.snaps) >= 3
    seen = set()
    for image in flash.snaps:
        spare.data[:] = image
        vfs.mount(vfs.VfsLfs2(spare), point)
        try:
            cfg, dev, problems = load_config(p)
        finally:
            vfs.umount(point)
        assert problems == [], problems
        old = cfg.reps_per_side == 9 and cfg.side == "left" and dev["cue_style"] == "full"
        new = cfg.reps_per_side == 4 and cfg.side == "right" and dev["cue_style"] == "quiet"
        assert old or new, (cfg.to_dict(), dev)
        seen.add(new)
    assert False in seen, seen  # cuts before the rename keep the old file
    assert True in seen, seen


class _RenameFails:
    """os for configstore whose rename fails with errno (ENOSPC: a full littlefs)."""

    def __init__(self, errno):
        self.errno = errno
        self.calls = 0

    def rename(self, a, b):
        self.calls += 1
        raise OSError(self.errno)

    def __getattr__(self, name):
        return getattr(os, name)


def test_a_failed_rename_never_deletes_the_old_config():
    # issue 13.5: ENOSPC (or EIO) from os.rename: the old file stays, exactly
    import configstore

    d = tmpdir("renamefail")
    path = d + "/heeldrop.json"
    cfg = Config()
    cfg.update({"hold_target_s": 45})
    save_config(cfg, path)
    old = read(path)
    for errno in (28, 5):
        cfg2 = Config()
        cfg2.update({"hold_target_s": 20})
        configstore.os = _RenameFails(errno)
        try:
            save_config(cfg2, path)
            assert False, "the failure must reach the caller"
        except OSError as e:
            assert e.args[0] == errno
        finally:
            configstore.os = os
        assert read(path) == old
        c, dev, problems = load_config(path)
        assert c.hold_target_s == 45 and problems == []
    cleanup(d)
