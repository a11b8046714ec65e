# A small JSON reader and writer in the MicroPython subset (no imports).
#
# The session log header and the serial protocol's CMD/REPLY payloads are
# JSON; heelcore may not import json (DESIGN.md: math, array, struct,
# micropython.const only), so this module carries the little that is needed.
#     dumps({"rate_hz": 100, "side": None}) -> '{"rate_hz": 100, "side": null}'
#     loads('{"a": [1, 2.5, true]}')         -> {'a': [1, 2.5, True]}
# dumps sorts dict keys (MicroPython dicts have no stable order) so both
# interpreters write the same text for ints, strings, bools, None, lists and
# dicts; floats use repr(), which is exact on CPython and the unix port and
# about 7 digits on single-precision boards. NaN and infinities become null.
# loads raises ValueError("json: ... at N") on malformed input.


def _str(s):
    out = ['"']
    for ch in s:
        if ch == '"' or ch == "\\":
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ord(ch) < 32:
            out.append("\\u%04x" % ord(ch))
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def dumps(v):
    """JSON text of v (dict, list, tuple, str, int, float, bool, None)."""
    if v is None:
        return "null"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, str):
        return _str(v)
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if v != v or v in (float("inf"), float("-inf")):
            return "null"
        s = repr(v)
        if "." not in s and "e" not in s and "n" not in s:
            s += ".0"
        return s
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join([dumps(x) for x in v]) + "]"
    if isinstance(v, dict):
        keys = sorted(v)
        return "{" + ", ".join([_str(str(k)) + ": " + dumps(v[k]) for k in keys]) + "}"
    raise ValueError("json: cannot encode %s" % type(v).__name__)


_WS = " \t\r\n"
_ESC = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}


def _err(msg, i):
    raise ValueError("json: %s at %d" % (msg, i))


def _skip(s, i):
    n = len(s)
    while i < n and s[i] in _WS:
        i += 1
    return i


def _parse(s, i, depth):
    if depth > 32:
        _err("nested too deep", i)
    i = _skip(s, i)
    if i >= len(s):
        _err("unexpected end", i)
    c = s[i]
    if c == "{":
        d = {}
        i = _skip(s, i + 1)
        if i < len(s) and s[i] == "}":
            return d, i + 1
        while True:
            i = _skip(s, i)
            if i >= len(s) or s[i] != '"':
                _err("expected a key", i)
            k, i = _string(s, i)
            i = _skip(s, i)
            if i >= len(s) or s[i] != ":":
                _err("expected ':'", i)
            v, i = _parse(s, i + 1, depth + 1)
            d[k] = v
            i = _skip(s, i)
            if i < len(s) and s[i] == ",":
                i += 1
                continue
            if i < len(s) and s[i] == "}":
                return d, i + 1
            _err("expected ',' or '}'", i)
    if c == "[":
        a = []
        i = _skip(s, i + 1)
        if i < len(s) and s[i] == "]":
            return a, i + 1
        while True:
            v, i = _parse(s, i, depth + 1)
            a.append(v)
            i = _skip(s, i)
            if i < len(s) and s[i] == ",":
                i += 1
                continue
            if i < len(s) and s[i] == "]":
                return a, i + 1
            _err("expected ',' or ']'", i)
    if c == '"':
        return _string(s, i)
    for word, val in (("true", True), ("false", False), ("null", None)):
        if s.startswith(word, i):
            return val, i + len(word)
    return _number(s, i)


def _string(s, i):
    # s[i] is the opening quote
    out = []
    i += 1
    n = len(s)
    start = i
    while True:
        if i >= n:
            _err("unterminated string", start - 1)
        c = s[i]
        if c == '"':
            out.append(s[start:i])
            return "".join(out), i + 1
        if c == "\\":
            out.append(s[start:i])
            if i + 1 >= n:
                _err("bad escape", i)
            e = s[i + 1]
            if e == "u":
                h = s[i + 2:i + 6]
                if len(h) != 4:
                    _err("bad \\u escape", i)
                try:
                    cp = int(h, 16)
                except ValueError:
                    _err("bad \\u escape", i)
                i += 6
                if 0xD800 <= cp < 0xDC00 and s[i:i + 2] == "\\u":
                    try:
                        lo = int(s[i + 2:i + 6], 16)
                    except ValueError:
                        lo = 0
                    if 0xDC00 <= lo < 0xE000:
                        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00)
                        i += 6
                out.append(chr(cp))
            elif e in _ESC:
                out.append(_ESC[e])
                i += 2
            else:
                _err("bad escape", i)
            start = i
            continue
        if ord(c) < 32:
            _err("control character in string", i)
        i += 1


def _digits(s, j):
    n = len(s)
    k = j
    while k < n and "0" <= s[k] <= "9":
        k += 1
    return k


def _number(s, i):
    # JSON grammar: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
    j = i
    if j < len(s) and s[j] == "-":
        j += 1
    k = _digits(s, j)
    if k == j or (s[j] == "0" and k > j + 1):
        _err("bad number", i)
    j = k
    is_float = False
    if j < len(s) and s[j] == ".":
        k = _digits(s, j + 1)
        if k == j + 1:
            _err("bad number", i)
        j = k
        is_float = True
    if j < len(s) and s[j] in "eE":
        j += 1
        if j < len(s) and s[j] in "+-":
            j += 1
        k = _digits(s, j)
        if k == j:
            _err("bad number", i)
        j = k
        is_float = True
    text = s[i:j]
    return (float(text) if is_float else int(text)), j


def loads(s):
    """Parse JSON text (str, bytes or bytearray) into Python values."""
    if not isinstance(s, str):
        s = bytes(s).decode()
    v, i = _parse(s, 0, 0)
    if _skip(s, i) != len(s):
        _err("extra data", i)
    return v
