"""Property-based tests of the gap analysis' parsers: comment markers, duplicate windows, requirement lines."""

from __future__ import annotations

import keyword
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from buildrunner.gaps.checks import _markers, inspect_file
from buildrunner.gaps.dependencies import Declared, normalize
from buildrunner.gaps.duplicates import find_duplicates, windows
from buildrunner.quality.sources import SourceFile

words = st.from_regex(r"[a-z][a-z0-9_]{2,10}", fullmatch=True).filter(lambda w: not keyword.iskeyword(w))
markers = st.sampled_from(["TODO", "FIXME", "XXX", "HACK"])
note = st.text(alphabet=st.characters(whitelist_categories=("Ll", "Lu", "Nd"), whitelist_characters=" .,:"), max_size=30)


@given(name=words, marker=markers, text=note, blank_lines=st.integers(0, 3))
def test_marker_in_a_comment_is_found_on_its_line(name: str, marker: str, text: str, blank_lines: int) -> None:
    source = "\n" * blank_lines + f"{name} = 1  # {marker}: {text}\n"
    found = _markers("m.py", source)
    assert [(g.line, g.severity) for _, _, g in found] == [(blank_lines + 1, "low" if marker == "TODO" else "medium")]


@given(marker=st.sampled_from(["todo", "Todo", "fixme", "Fixme", "hack"]), sep=st.sampled_from([":", " -", "(alice)"]), text=note)
def test_a_marker_in_lower_case_counts_when_it_introduces_a_note(marker: str, sep: str, text: str) -> None:
    """`# todo: ...` and `# Fixme - ...` were not reported; a comment about a to-do list is not a marker."""
    found = _markers("m.py", f"x = 1  # {marker}{sep} {text}\ny = 2  # the {marker} list view\n")
    assert [(g.line, g.severity) for _, _, g in found] == [(1, "low" if marker.lower() == "todo" else "medium")]


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])  # the file is rewritten each time
@given(name=words, marker=markers, text=note)
def test_marker_inside_a_string_is_not_a_finding_but_one_after_it_is(tmp_path: Path, name: str, marker: str, text: str) -> None:
    source = (
        f'"""Module.\n\n# {marker} in the docstring\n"""\n{name} = "# {marker} {text}"\n'
        f'{name}_table = {{"k": """\n# {marker} in a data string\n"""}}  # {marker} after the string\n'
    )
    path = tmp_path / "m.py"
    path.write_text(source)
    result = inspect_file((SourceFile(path, "m.py", "m", False, False), 6))
    assert [g.line for g in result.gaps if g.category == "todo"] == [8]  # only the real comment after the string


@settings(max_examples=50)
@given(names=st.lists(words, min_size=6, max_size=12, unique=True), prefix=st.lists(words, max_size=5, unique=True))
def test_a_copied_block_is_found_in_both_files(names: list[str], prefix: list[str]) -> None:
    block = "".join(f"value_{n} = compute_something_long({n!r}, other_argument)\n" for n in names)
    head = "".join(f"unique_{p}_{i} = {i}\n" for i, p in enumerate(prefix))
    per_file = {"a.py": windows(block, 6), "b.py": windows(head + block, 6)}
    found = find_duplicates(per_file)
    assert {d.path for d in found} == {"a.py", "b.py"}
    copy = next(d for d in found if d.path == "b.py")
    assert (copy.first, copy.last) == (len(prefix) + 1, len(prefix) + len(names))


@settings(max_examples=50)
@given(names=st.lists(words, min_size=6, max_size=12, unique=True))
def test_distinct_lines_are_never_duplicates(names: list[str]) -> None:
    first = "".join(f"left_{n} = compute_something_long({n!r}, other_argument)\n" for n in names)
    second = "".join(f"right_{n} = compute_something_long({n!r}, other_argument)\n" for n in names)
    assert find_duplicates({"a.py": windows(first, 6), "b.py": windows(second, 6)}) == []


@given(
    name=st.from_regex(r"[A-Za-z][A-Za-z0-9]{0,5}([-_.][A-Za-z0-9]{1,5}){0,2}", fullmatch=True),
    version=st.from_regex(r"[0-9]{1,3}(\.[0-9]{1,3}){0,2}", fullmatch=True),
    marker=st.sampled_from(["", " ; python_version >= '3.8'"]),
)
def test_requirement_lines_give_normalised_name_and_pin(name: str, version: str, marker: str) -> None:
    declared = Declared()
    declared.add(f"{name}=={version}{marker}", "requirements.txt")
    req = declared.requirements[normalize(name)]
    assert req.pinned == version
    assert declared.covers(name.upper().replace("-", "_"))
    ranged = Declared()
    ranged.add(f"{name}>={version}{marker}", "pyproject.toml")
    assert ranged.requirements[normalize(name)].pinned is None
