"""The cue table of docs/CUES.md, generated from firmware/cues.py.

firmware/cues.py holds the patterns (steps, colours, priorities, event map);
this module turns them into Markdown and adds the words (what each cue means,
what to do). docs/CUES.md carries the generated block between two markers;
tests/host/test_cues_doc.py fails when the block differs from render().

    python -m heeldrop.cuesdoc            # print the block
    python -m heeldrop.cuesdoc --write    # rewrite the block in docs/CUES.md
    python -m heeldrop.cuesdoc --check    # exit 1 if docs/CUES.md is stale
"""
import importlib.util
import os
import sys

from heeldrop import resources

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CUES_PY = os.path.join(resources.firmware_dir(), "cues.py")  # the checkout's, or the installed package's copy
DOC = os.path.join(ROOT, "docs", "CUES.md")
# every file that carries the generated block (the README shows the table too)
DOCS = (DOC, os.path.join(ROOT, "README.md"))
BEGIN = "<!-- BEGIN generated cue table: python -m heeldrop.cuesdoc --write (from firmware/cues.py) -->"
END = "<!-- END generated cue table -->"

# cue name -> (meaning, what to do)
TEXT = {
    "ready": (
        "Calibrated, or steady at the top after a rep: the next rep can start.",
        "Let the heel sink slowly when you are balanced.",
    ),
    "rep_start": (
        "The heel has begun to drop below level: a rep has started.",
        "Keep the descent slow and straight down.",
    ),
    "hold": (
        "The heel has settled at the bottom: the hold has begun.",
        "Stay still at the bottom, breathe out, no bouncing.",
    ),
    "hold_tick": (
        "One more whole second held.",
        "Keep holding; count along.",
    ),
    "hold_target": (
        "The hold reached the target time.",
        "Press the forefoot down and rise smoothly back to level.",
    ),
    "too_fast": (
        "The heel dropped faster than the limit.",
        "Next rep, lower over 2-3 s; a slow descent stretches better.",
    ),
    "bounce": (
        "A rebound at the bottom.",
        "Settle and hold still; shorten the drop if you cannot stay still.",
    ),
    "roll_out": (
        "The ankle rolled outward (onto the little-toe side) past the limit.",
        "Keep the heel moving straight down, weight over the ball of the foot.",
    ),
    "twist": (
        "The foot twisted about the vertical past the limit.",
        "Keep the foot square on the step; use the hand support for balance.",
    ),
    "snap_up": (
        "The rise was faster than the limit.",
        "Rise back to level in a smooth line, no snapping up.",
    ),
    "no_hold": (
        "The rep ended without a real pause at the bottom.",
        "Pause at the bottom: hold the stretch for a controlled count.",
    ),
    "rep_done": (
        "Back at level: the rep is complete and counted.",
        "Reset your balance at the top before the next rep.",
    ),
    "side": (
        "The working side was switched (short button press).",
        "Put the other foot on the step; stand still to start.",
    ),
    "sensor_fault": (
        "The heel sensor does not answer (I2C error, cable unplugged).",
        "Check the cable and plugs at the heel; the cue stops when the sensor is back.",
    ),
    "calibration_failed": (
        "The device could not calibrate: the foot never stayed still for 1.5 s (sway is fine), "
        "or no clear heel drop followed; the event's reason says what it saw.",
        "Stand on the step as still as you can for 2 s, then let the heel sink at least 10 deg and hold it.",
    ),
    "flash_low": (
        "The session log is nearly full.",
        "Copy the sessions to the computer soon (heeldrop import).",
    ),
    "flash_full": (
        "The session log is full; new reps are no longer stored.",
        "Copy the sessions to the computer and clear the log.",
    ),
    "session_start": (
        "A session has started (long button press).",
        "Stand still at level on the step to calibrate.",
    ),
    "session_stop": (
        "The session has stopped (long button press).",
        "Rest; start a new session with another long press.",
    ),
    "config_fault": (
        "At power-up the saved settings could not be read: the device runs on its defaults "
        "(your hold target and reps may differ).",
        "Run heeldrop doctor on the computer to see the fault, then set the settings again "
        "(heeldrop config set KEY=VALUE).",
    ),
}

# base state name -> (plain LED, description)
BASE_TEXT = {
    "off": "no session, or the heel is moving",
    "idle": "session running, ready for a rep",
    "holding": "holding at the bottom",
    "fault": "sensor fault until the sensor answers again",
}


def load_cues():
    """firmware/cues.py as a module (imported by path: it is firmware, not host)."""
    spec = importlib.util.spec_from_file_location("heeldrop_firmware_cues", CUES_PY)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _runs(steps, key):
    # Merge consecutive steps with the same key(step): [(key, ms)].
    out = []
    for st in steps:
        k = key(st)
        if out and out[-1][0] == k:
            out[-1][1] += st[3]
        else:
            out.append([k, st[3]])
    return out


def led_plain(steps):
    return ", ".join("%s %d" % ("on" if k else "off", ms) for k, ms in _runs(steps, lambda s: s[0])) + " ms"


def led_neopixel(steps, colour):
    return ", ".join("%s %d" % (colour if k else "off", ms) for k, ms in _runs(steps, lambda s: s[0])) + " ms"


def passive(steps):
    parts = []
    for (hz, loud), ms in _runs(steps, lambda s: (s[1], s[2])):
        if hz == 0:
            parts.append("rest %d ms" % ms)
        else:
            parts.append("%d Hz %d ms%s" % (hz, ms, " (soft)" if loud == 1 else ""))
    return ", ".join(parts)


def active(steps):
    return ", ".join(
        "%s %d" % ("beep" if k else "gap", ms) for k, ms in _runs(steps, lambda s: 1 if s[1] else 0)
    ) + " ms"


def rows(mod=None):
    """One Markdown table row per cue, in cue id order."""
    m = mod or load_cues()
    out = []
    for cid, (name, prio, colour, essential, steps) in enumerate(m.CUES):
        events = [e for e in m.EVENTS if m.EVENTS[e][0] == cid]
        meaning, todo = TEXT[name]
        out.append("| `%s` | %s | %d%s | %s | %s | %s | %s | %s | %s |" % (
            name, ", ".join("`%s`" % e for e in events) or "(cue id only)", prio,
            " *" if essential else "", led_plain(steps), led_neopixel(steps, m.colour_name(colour)),
            passive(steps), active(steps), meaning, todo,
        ))
    return out


def render(mod=None):
    """The generated block of docs/CUES.md, markers included."""
    m = mod or load_cues()
    lines = [BEGIN, ""]
    lines.append("| cue | events | priority | LED (plain) | NeoPixel | passive buzzer | active buzzer | meaning | what to do |")
    lines.append("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    lines.extend(rows(m))
    lines.append("")
    lines.append("Priority: higher cuts in over lower; `*` = still sounds in the `minimal` style.")
    lines.append("")
    lines.append("Between cues the LED shows the base state, set by these events:")
    lines.append("")
    lines.append("| base state | plain LED | NeoPixel | set by | means |")
    lines.append("| --- | --- | --- | --- | --- |")
    for bid, (bname, lit, rgb) in enumerate(m.BASES):
        events = [e for e in m.EVENTS if m.EVENTS[e][1] == bid]
        lines.append("| %s | %s | %s | %s | %s |" % (
            bname, "on" if lit else "off", m.colour_name(rgb),
            ", ".join("`%s`" % e for e in events), BASE_TEXT[bname],
        ))
    lines.append("")
    lines.append("Queue: %d cues; a cue that waited over %d ms is dropped." % (m.QUEUE_DEPTH, m.STALE_MS))
    lines.append("")
    lines.append(END)
    return "\n".join(lines) + "\n"


def current_block(text):
    a = text.find(BEGIN)
    b = text.find(END)
    if a < 0 or b < 0:
        return None
    return text[a:b + len(END)] + "\n"


def write(path=DOC):
    text = open(path, encoding="utf-8").read()
    a = text.index(BEGIN)
    b = text.index(END) + len(END) + 1
    new = text[:a] + render() + text[b:]
    if new != text:
        with open(path, "w", encoding="utf-8") as f:
            f.write(new)
        return True
    return False


def main(argv):
    if "--write" in argv:
        for path in DOCS:
            print("%s %s" % (os.path.relpath(path, ROOT), "updated" if write(path) else "already current"))
        return 0
    if "--check" in argv:
        bad = [p for p in DOCS if current_block(open(p, encoding="utf-8").read()) != render()]
        for p in DOCS:
            print("%s is %s" % (os.path.relpath(p, ROOT), "stale: run python -m heeldrop.cuesdoc --write" if p in bad else "current"))
        return 1 if bad else 0
    sys.stdout.write(render())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
