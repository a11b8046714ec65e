"""docs/CUES.md is the single source of the cue table: its generated block must
match firmware/cues.py (regenerate with `python -m heeldrop.cuesdoc --write`)."""
import os

from heeldrop import cuesdoc

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DOC = os.path.join(ROOT, "docs", "CUES.md")


def doc_text():
    with open(DOC, encoding="utf-8") as f:
        return f.read()


def test_every_cue_has_words():
    m = cuesdoc.load_cues()
    names = [row[0] for row in m.CUES]
    assert sorted(names) == sorted(cuesdoc.TEXT), "cuesdoc.TEXT and firmware/cues.py CUES disagree"
    assert sorted(b[0] for b in m.BASES) == sorted(cuesdoc.BASE_TEXT)


def test_every_cue_row_is_in_the_doc():
    text = doc_text()
    m = cuesdoc.load_cues()
    rows = cuesdoc.rows(m)
    assert len(rows) == len(m.CUES)
    for row in rows:
        assert row in text, "docs/CUES.md lacks or has a stale row (run python -m heeldrop.cuesdoc --write):\n" + row


def test_generated_block_is_current():
    block = cuesdoc.current_block(doc_text())
    assert block is not None, "docs/CUES.md lost its generated-block markers"
    assert block == cuesdoc.render(), "docs/CUES.md is stale: run python -m heeldrop.cuesdoc --write"


def test_descriptions_follow_the_steps():
    # the describers are what makes the doc "the same pattern": check them on a known cue
    steps = ((1, 440, 2, 100), (0, 0, 0, 60), (1, 440, 2, 100), (1, 660, 1, 50))
    assert cuesdoc.led_plain(steps) == "on 100, off 60, on 150 ms"
    assert cuesdoc.led_neopixel(steps, "amber") == "amber 100, off 60, amber 150 ms"
    assert cuesdoc.passive(steps) == "440 Hz 100 ms, rest 60 ms, 440 Hz 100 ms, 660 Hz 50 ms (soft)"
    assert cuesdoc.active(steps) == "beep 100, gap 60, beep 150 ms"


def test_readme_carries_the_same_cue_table():
    readme = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()
    block = cuesdoc.current_block(readme)
    assert block is not None, "README.md lost its generated cue-table markers"
    assert block == cuesdoc.render(), "README.md's cue table is stale: run python -m heeldrop.cuesdoc --write"
