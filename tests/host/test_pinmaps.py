"""The hardware guide's pin maps and the wiring diagrams agree with the board files.

hardware/README.md has one table per firmware/boards/*.py under a heading
"### `name`: ..." with rows "| signal | `key` | value | where |"; the value
column must equal PINS[key] (none = None) and every PINS key must have a row.
The SVG diagrams label pins in <text data-board="b1 b2" data-key="key"> elements;
each label's GPn / GPIOn number (or the string, for a named pin like "LED") must
equal PINS[key] of every board it names, and every wired pin of each board the
diagram covers (its root data-boards) must be labelled.
"""
import os
import re
import xml.etree.ElementTree as ET

import boards

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HW = os.path.join(ROOT, "hardware")
README = os.path.join(HW, "README.md")
SVGS = ("wiring-pico.svg", "wiring-esp32.svg")
SVG_NS = "{http://www.w3.org/2000/svg}"
GPIO_RE = re.compile(r"\bGP(?:IO)?(\d+)\b")


def parse_value(cell):
    v = cell.strip().strip("`").strip()
    if v.lower() in ("none", "-", "—", ""):
        return None
    if re.fullmatch(r"\d+", v):
        return int(v)
    return v


def readme_tables():
    """{board name: {key: (value, where)}} from the pin-map section."""
    text = open(README, encoding="utf-8").read()
    assert "## Pin maps" in text
    section = text.split("## Pin maps", 1)[1].split("\n## ", 1)[0]
    tables = {}
    current = None
    for line in section.splitlines():
        m = re.match(r"^### `([a-z0-9_]+)`", line)
        if m:
            current = m.group(1)
            assert current not in tables, "two tables for board %s" % current
            tables[current] = {}
            continue
        if current and line.startswith("|"):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if len(cells) != 4 or cells[0] in ("signal",) or set(cells[0]) <= set("- "):
                continue
            key = cells[1].strip("`")
            assert key not in tables[current], "%s: key %s twice" % (current, key)
            tables[current][key] = (parse_value(cells[2]), cells[3])
    return tables


def wired_keys(pins):
    keys = ["sda", "scl", "buzzer", "button"]
    keys.append("led" if pins["led"] is not None else "neopixel")
    return keys


def test_every_board_file_has_a_table():
    tables = readme_tables()
    assert sorted(tables) == sorted(boards.NAMES)


def test_tables_match_board_files():
    tables = readme_tables()
    for name in boards.NAMES:
        pins = boards.load(name).PINS
        table = tables[name]
        assert sorted(table) == sorted(pins), "%s: README keys %s, PINS keys %s" % (name, sorted(table), sorted(pins))
        for key, (value, where) in table.items():
            assert value == pins[key], "hardware/README.md %s %s = %r, board file says %r" % (name, key, value, pins[key])
            # the "where" column names the same GPIO when it names one
            m = GPIO_RE.search(where)
            if m and isinstance(pins[key], int) and key != "freq":
                assert int(m.group(1)) == pins[key], "%s %s: where %r" % (name, key, where)


def test_svgs_are_well_formed_and_referenced():
    text = open(README, encoding="utf-8").read()
    for svg in SVGS:
        root = ET.parse(os.path.join(HW, svg)).getroot()
        assert root.tag == SVG_NS + "svg", svg
        assert root.get("viewBox"), svg
        assert svg in text, "hardware/README.md does not link %s" % svg


def svg_labels(svg):
    root = ET.parse(os.path.join(HW, svg)).getroot()
    covered = root.get("data-boards", "").split()
    labels = []
    for el in root.iter(SVG_NS + "text"):
        if el.get("data-key"):
            labels.append((el.get("data-board", "").split(), el.get("data-key"), "".join(el.itertext())))
    return covered, labels


def test_svg_pin_labels_match_board_files():
    seen = set()
    for svg in SVGS:
        covered, labels = svg_labels(svg)
        assert covered, svg + ": no data-boards on the root"
        found = {b: set() for b in covered}
        for names, key, text in labels:
            assert names, "%s: label %r names no board" % (svg, text)
            for name in names:
                assert name in covered, "%s: label for %s, not in data-boards" % (svg, name)
                pins = boards.load(name).PINS
                assert key in pins, "%s: unknown key %s" % (svg, key)
                value = pins[key]
                if isinstance(value, int):
                    m = GPIO_RE.search(text)
                    assert m, "%s: label %r has no GP/GPIO number" % (svg, text)
                    assert int(m.group(1)) == value, "%s: %s %s labelled %r, board file says %r" % (
                        svg, name, key, text, value)
                else:
                    assert value is not None and value in text, "%s: %s %s labelled %r, board file says %r" % (
                        svg, name, key, text, value)
                found[name].add(key)
        for name in covered:
            missing = set(wired_keys(boards.load(name).PINS)) - found[name]
            assert not missing, "%s: %s pins not labelled: %s" % (svg, name, sorted(missing))
            seen.add(name)
    # every real board appears in some diagram
    assert seen == set(boards.NAMES) - {"sim"}, seen


def test_parser_catches_a_mismatch():
    # guard against a parser that silently reads nothing
    assert parse_value("`25`") == 25 and parse_value("none") is None and parse_value("LED") == "LED"
    tables = readme_tables()
    assert tables["pico"]["sda"][0] == 4
    assert tables["esp32_s3"]["neopixel"][0] == 48
