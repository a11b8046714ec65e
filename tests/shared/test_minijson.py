# Shared tests: plain functions run by pytest (CPython) and tests/run_unix.py
# (MicroPython unix port). The small JSON codec used by log headers and the
# serial protocol.
from heelcore.minijson import dumps, loads


def test_round_trip_and_sorted_keys():
    v = {"b": [1, 2.5, -3e-07, True, False, None], "a": 'x"y\\z\n\u00e9\u0001', "c": {"z": {}}, "e": []}
    s = dumps(v)
    assert s.startswith('{"a": ') and s.index('"b"') < s.index('"c"')
    assert loads(s) == v
    assert dumps(8192) == "8192" and dumps(65.5) == "65.5" and dumps(2.0) == "2.0"
    assert dumps(float("nan")) == "null" and dumps(float("inf")) == "null"


def test_parse_standard_json():
    assert loads(' {"q" : "\\u00e9\\n" , "n": -12, "f": 1E+2, "l": [ ], "t": true} ') == {
        "q": "\u00e9\n", "n": -12, "f": 100.0, "l": [], "t": True}
    assert loads(b'{"a": 1}') == {"a": 1}
    assert loads("0") == 0 and loads("-0.5e-3") == -0.0005


def test_rejects_malformed():
    for bad in ("", "{", '{"a" 1}', "[1,]", "tru", '"abc', "1 2", '{"a":1,}', "01", "+1", ".5", "1.",
                "2e", "[1,-]", "{1: 2}", '"\\x"', '"a\nb"', "nan"):
        try:
            loads(bad)
            assert False, bad
        except ValueError:
            pass
