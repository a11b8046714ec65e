"""The repository stands on its own: its docs, links, formats and test data.

- every relative link in every .md file resolves to a file inside the
  repository, and no .md, code or test file points at a folder beside it;
- the formats the project defines are specified in its own docs/ and name
  what the code declares (event types and fields, trace columns and keys);
- each vendored data set in tests/data has its licence and attribution.
"""
import os
import re

import pytest

from heeldrop.replay import ROOT

SKIP_DIRS = {".git", ".venv", "build", "out", "dist", "__pycache__", ".pytest_cache", ".hypothesis", "typings"}
LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
REF = re.compile(r"^\s*\[[^\]]+\]:\s*(\S+)", re.M)
HTML_LINK = re.compile(r"""(?:href|src)\s*=\s*["']([^"']+)["']""")
EXTERNAL = ("http://", "https://", "mailto:", "#")


def repo_files(exts):
    out = []
    for dirpath, dirnames, filenames in os.walk(ROOT):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS and not d.endswith(".egg-info"))
        out += [os.path.join(dirpath, f) for f in sorted(filenames) if f.endswith(exts) or f in exts]
    return out


MD = repo_files((".md",))


def rel(p):
    return os.path.relpath(p, ROOT)


def links(text):
    return LINK.findall(text) + REF.findall(text) + HTML_LINK.findall(text)


def test_there_are_docs_to_check():
    names = {rel(p) for p in MD}
    assert {"README.md", "docs/PROTOCOL.md", "docs/TRACE-CSV.md", "docs/EVENTS.md", "docs/EXERCISE.md",
            "hardware/README.md", "tests/data/README.md"} <= names


@pytest.mark.parametrize("path", MD, ids=[rel(p) for p in MD])
def test_every_link_resolves_inside_the_repository(path):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    bad = []
    for target in links(text):
        if target.startswith(EXTERNAL):
            continue
        if "://" in target:
            bad.append("%s: a link of another scheme" % target)
            continue
        file_part = target.split("#", 1)[0]
        resolved = os.path.realpath(os.path.join(os.path.dirname(path), file_part))
        if not (resolved == ROOT or resolved.startswith(os.path.realpath(ROOT) + os.sep)):
            bad.append("%s: points outside the repository" % target)
        elif not os.path.exists(resolved):
            bad.append("%s: no such file" % target)
    assert not bad, "%s:\n  %s" % (rel(path), "\n  ".join(bad))


def test_the_link_checker_catches_dead_and_outside_links(tmp_path):
    text = "[a](../shared/contracts/events.md) [b](docs/NOPE.md) [ok](https://example.org) [c](#top)\n[r]: ../x.md\n"
    found = links(text)
    assert "../shared/contracts/events.md" in found and "docs/NOPE.md" in found and "../x.md" in found
    assert [t for t in found if not t.startswith(EXTERNAL)] == ["../shared/contracts/events.md", "docs/NOPE.md",
                                                                "../x.md"]


# folders beside the repository: ../shared and the like; tests/shared is the repo's own
BESIDE = re.compile(r"""\.\./shared|/work/shared|\.\.[/\\]+\.\.|dirname\(ROOT\)|["']\.\.["']\s*,\s*["']shared["']""")


@pytest.mark.parametrize("path", [p for p in MD], ids=[rel(p) for p in MD])
def test_no_doc_mentions_a_folder_beside_the_repository(path):
    with open(path, encoding="utf-8") as f:
        hits = [(i + 1, line.strip()) for i, line in enumerate(f) if re.search(r"\.\./shared|/work/shared", line)]
    assert not hits, "%s mentions a folder outside the repository: %s" % (rel(path), hits)


def test_no_code_or_test_reads_beside_the_repository():
    files = repo_files((".py", ".toml", ".cfg", ".json", ".sh", "Makefile", "run"))
    assert len(files) > 100
    hits = []
    for p in files:
        with open(p, encoding="utf-8", errors="replace") as f:
            for i, line in enumerate(f):
                if BESIDE.search(line) and rel(p) != "tests/host/test_docs.py":
                    hits.append("%s:%d: %s" % (rel(p), i + 1, line.strip()))
    assert not hits, "paths outside the repository:\n" + "\n".join(hits)


def test_the_grep_catches_the_old_ways():
    for line in ('DATA = os.path.join(ROOT, "..", "shared", "data")',
                 'GUIDE = os.path.join(os.path.dirname(ROOT), "shared", "EXERCISE.md")',
                 '# see ../shared/DOMAIN.md'):
        assert BESIDE.search(line), line
    assert not BESIDE.search('SHARED = glob.glob(os.path.join(ROOT, "tests", "shared", "test_*.py"))')


# ------------------------------------------------------------ the format specs name what the code declares


def read(relpath):
    with open(os.path.join(ROOT, relpath), encoding="utf-8") as f:
        return f.read()


def emitted_by_engine():
    """{event type: set of fields} from the engine's event calls: out("type",
    field=...) / _emit("type", field=...) keyword calls, and _out({"type":
    "...", "field": ...}) dicts, in every module of the engine."""
    out = {}
    for mod in ("engine", "reps", "fusion"):
        path = "firmware/lib/heelcore/%s.py" % mod
        if not os.path.exists(os.path.join(ROOT, path)):
            continue
        src = read(path)
        for m in re.finditer(r'(?:_emit|\bout)\(\s*"(\w+)"|_out\(\{"type": "(\w+)"', src):
            depth, i = 1, src.index("(", m.start()) + 1
            while depth:
                depth += {"(": 1, ")": -1}.get(src[i], 0)
                i += 1
            call = src[m.start():i]
            fields = set(re.findall(r"[,(]\s*(\w+)\s*=(?!=)", call)) | set(re.findall(r'"(\w+)":', call))
            fields.discard("type")
            fields.discard("t_ms")
            out.setdefault(m.group(1) or m.group(2), set()).update(fields)
    return out


def test_events_doc_names_every_type_and_field_the_engine_declares_or_emits():
    from heelcore.events import FIELDS
    doc = read("docs/EVENTS.md")
    emitted = emitted_by_engine()
    assert {"rep_end", "hold_start", "calibrated", "rep_cancel"} <= set(emitted)
    types = set(FIELDS) | set(emitted)
    missing_types = sorted(t for t in types if "`%s`" % t not in doc)
    fields = set()
    for t in types:
        fields |= set(FIELDS.get(t, ())) | emitted.get(t, set())
    fields -= {"rep"}
    missing_fields = sorted(f for f in fields if "`%s`" % f not in doc)
    assert not missing_types and not missing_fields, (
        "docs/EVENTS.md does not name: types %s, fields %s" % (missing_types, missing_fields))


def test_trace_csv_doc_names_every_column_and_known_key():
    from heeldrop import traceio
    doc = read("docs/TRACE-CSV.md")
    for name in traceio.COLUMNS + traceio.META_KEYS + ("side_switch_ms", "accel_lsb_per_g", "gyro_lsb_per_dps"):
        assert "`%s`" % name in doc, name


def test_readme_points_at_the_projects_own_format_specs():
    readme = read("README.md")
    for doc in ("docs/TRACE-CSV.md", "docs/EVENTS.md", "docs/PROTOCOL.md", "LICENSE", "tests/data/README.md"):
        assert "(%s)" % doc in readme, doc


# ------------------------------------------------------------ vendored data: licence and attribution


def test_each_vendored_data_set_keeps_its_licence_and_attribution():
    data = os.path.join(ROOT, "tests", "data")
    sets = sorted(d for d in os.listdir(data) if os.path.isdir(os.path.join(data, d)))
    assert sets == ["ipol-foot-gait", "uci-pt-exercises"]
    uci = read("tests/data/uci-pt-exercises/LICENSE.md")
    assert "CC BY 4.0" in uci and "Yurtman" in uci and "10.24432/C5JK60" in uci
    agpl = read("tests/data/ipol-foot-gait/LICENSE.txt")
    assert agpl.lstrip().startswith("GNU AFFERO GENERAL PUBLIC LICENSE") and "Version 3" in agpl
    assert "Voisard" in read("tests/data/ipol-foot-gait/README.md")
    for d in sets:
        assert "licen" in read("tests/data/%s/README.md" % d).lower()
    readme = read("README.md")
    assert "AGPL-3.0" in readme and "CC BY 4.0" in readme and "test fixture" in readme


def test_vendored_data_is_what_the_tests_read_and_nothing_else():
    """Trimmed: every data file in tests/data is named by a test."""
    data = os.path.join(ROOT, "tests", "data")
    tests = read("tests/host/test_importers.py") + read("tests/host/test_real_data.py")
    unread = []
    for dirpath, _, filenames in os.walk(data):
        for f in filenames:
            if f.endswith((".txt", ".json")) and f != "LICENSE.txt":
                stem = f.rsplit(".", 1)[0]
                if f not in tests and stem not in tests and not (f.endswith(".json") and stem + "_lf" in tests):
                    unread.append(os.path.relpath(os.path.join(dirpath, f), data))
    assert not unread, unread


# ------------------------------------------------------------ the domain reference the code cites

# "docs/DOMAIN.md §7(b)", "DOMAIN.md section 3.3", "[DOMAIN.md](DOMAIN.md) §7(a)",
# "docs/DOMAIN.md §1.2-1.5, §2, §7(b)", "docs/DOMAIN.md sections 5, 7(b)"
_SEC = r"\d+(?:\.\d+)?(?:\([a-z]\)|[a-z](?![a-z]))?"
CITE = re.compile(r"DOMAIN(?:\.md)?(?:\]\([^)]*\))?\s+(?:§\s*|sections?\s+)?(%s(?:\s*(?:,|and|-|–)\s*§?\s*%s)*)"
                  % (_SEC, _SEC))
BARE = re.compile(r"\bDOMAIN\b(?!\.md|\]\()")  # a link label [DOMAIN](...) is fine
# the sections of the domain reference, numbered as the reference the project started from
DOMAIN_SECTIONS = {"1", "1.1", "1.2", "1.3", "1.4", "1.5", "2", "2.1", "2.2", "2.3", "2.4", "2.5", "3", "3.1", "3.2",
                   "3.3", "3.4", "4", "5", "6", "7", "7(a)", "7(b)", "8"}


def domain_sections():
    heads = re.findall(r"^#{2,3} (\d+\([a-z]\)|\d+(?:\.\d+)?)[.\s]", read("docs/DOMAIN.md"), re.M)
    return set(heads)


def cited_sections(line):
    out = []
    for m in CITE.finditer(line):
        for ref in re.findall(_SEC, m.group(1)):
            out.append(re.sub(r"^(\d+)([a-z])$", r"\1(\2)", ref))
    return out


def test_the_citation_grep_reads_every_form_in_use():
    assert cited_sections("# (docs/DOMAIN.md sections 5, 7(b)), which turns") == ["5", "7(b)"]
    assert cited_sections("habits (docs/DOMAIN.md §1.2-1.5, §2, §7(b)).") == ["1.2", "1.5", "2", "7(b)"]
    assert cited_sections("The flags follow [DOMAIN.md](DOMAIN.md) §7(a) (`x`)") == ["7(a)"]
    assert cited_sections("model (docs/DOMAIN.md §7(b) and §3.2): bias") == ["7(b)", "3.2"]
    assert cited_sections("(<= 25 deg, docs/DOMAIN.md section 1.3)") == ["1.3"]
    assert cited_sections("old style (DOMAIN 7b: coupling)") == ["7(b)"]
    assert cited_sections("the conventions of docs/DOMAIN.md):") == []
    assert BARE.search("(DOMAIN 7(a))") and BARE.search("beyond what DOMAIN documents")
    assert not BARE.search("see docs/DOMAIN.md §7(a)")


def test_domain_reference_keeps_the_section_numbers_the_code_cites():
    assert domain_sections() == DOMAIN_SECTIONS | {"9"}  # 9: the list of sources
    doc = read("docs/DOMAIN.md")
    # it restates its sources, it does not send the reader elsewhere for them
    for source in ("Weinert-Aplin", "Baumbach", "Powden", "MPU-6000 and MPU-6050 Product Specification", "ACSM",
                   "Bandy", "Ryan", "Lysdal", "Alfredson", "Madgwick"):
        assert source in doc, source


def test_every_domain_citation_names_a_section_of_docs_domain_md():
    """Code, tests and docs cite the domain reference as docs/DOMAIN.md §N
    (DOMAIN.md §N inside docs/), and every N is a section it has."""
    sections = domain_sections()
    files = repo_files((".py", ".md", ".toml", ".cfg", ".json", ".sh", ".txt", "Makefile"))
    skip = {"tests/host/test_docs.py", "docs/DOMAIN.md"}
    bad, cited = [], 0
    for p in files:
        if rel(p) in skip or rel(p).startswith("tests/data/"):
            continue
        with open(p, encoding="utf-8", errors="replace") as f:
            for i, line in enumerate(f):
                if "DOMAIN" not in line:
                    continue
                where = "%s:%d: %s" % (rel(p), i + 1, line.strip())
                if BARE.search(line):
                    bad.append("%s (cite docs/DOMAIN.md)" % where)
                elif p.endswith(".py") and re.search(r"(?<!docs/)DOMAIN\.md", line):
                    bad.append("%s (cite it by its path, docs/DOMAIN.md)" % where)
                for ref in cited_sections(line):
                    cited += 1
                    if ref not in sections:
                        bad.append("%s (no section %s in docs/DOMAIN.md)" % (where, ref))
    assert cited >= 15
    assert not bad, "\n".join(bad)
