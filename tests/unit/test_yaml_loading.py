"""Reading YAML the way a manager's typo deserves: located, explained, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from simulator.content.library import load_rubric, load_scenario
from simulator.content.yamlfile import YamlError, load_yaml_file, load_yaml_text


def test_duplicate_key_is_rejected_with_both_lines():
    with pytest.raises(YamlError) as exc:
        load_yaml_text("id: a\ntitle: one\ntitle: two\n", "s.yaml")
    assert str(exc.value) == "s.yaml:3:1: duplicate key 'title' (first defined on line 2); remove one"


def test_yes_no_stay_text_and_warn():
    loaded = load_yaml_text("lines:\n  - No\n  - 'Yes'\n  - on\nflag: true\n", "s.yaml")
    assert loaded.data == {"lines": ["No", "Yes", "on"], "flag": True}
    warned = [(w.line, w.col) for w in loaded.warnings]
    assert warned == [(2, 5), (4, 5)]  # the quoted 'Yes' is what the author meant: no warning


def test_positions_point_at_keys_and_values():
    loaded = load_yaml_text("a:\n  b: [1, 2]\n", "f")
    assert loaded.mark_for(("a", "b", 1)) == (2, 10)
    assert loaded.mark_for(("a", "b"), prefer_key=True) == (2, 3)
    assert loaded.mark_for(("a", "missing")) == (2, 3)  # nearest ancestor with a position


@pytest.mark.parametrize(
    "content, expected",
    [
        (b"", "expected a mapping of keys"),
        (b"# only a comment\n", "expected a mapping of keys"),
        (b"- a\n- b\n", "found a list"),
        (b"just text\n", "found a str"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00", "binary file"),
        (b"id: \xff\xfe\n", "not UTF-8"),
        (b"a: [1\n", "YAML syntax error"),
        (b"a: &x [*x]\n", "too much data"),
        (b"a: !!python/object:os.system {}\n", "unsupported YAML"),
    ],
)
def test_unreadable_files_become_one_located_problem(tmp_path: Path, content: bytes, expected: str):
    path = tmp_path / "broken.yaml"
    path.write_bytes(content)
    loaded = load_scenario(path)
    assert loaded.model is None
    assert len(loaded.errors) == 1
    problem = loaded.errors[0]
    assert problem.file == str(path) and problem.line >= 1 and problem.col >= 1
    assert expected in problem.message


def test_ten_megabyte_file_is_refused_quickly(tmp_path: Path):
    path = tmp_path / "huge.yaml"
    path.write_text("lines:\n" + "  - 'la la la la la la la la la'\n" * 330_000)
    with pytest.raises(YamlError) as exc:
        load_yaml_file(path)
    assert "10.9 MB" in exc.value.problem.message


def test_pydantic_errors_map_to_the_offending_line(tmp_path: Path):
    path = tmp_path / "r.yaml"
    path.write_text(
        "id: r\nname: R\ncritera: []\ncriteria:\n  - id: e\n    nam: E\n    description: d\n    levels: 3\n"
    )
    loaded = load_rubric(path)
    lines = [str(p) for p in loaded.errors]
    assert f"{path}:3:1: unknown key 'critera'; did you mean 'criteria'?" in lines
    assert f"{path}:6:5: unknown key 'nam'; did you mean 'name'?" in lines
    assert f"{path}:8:13: criteria.0.levels: Input should be a valid list" in lines
    assert any(":5:5: missing required key 'name'" in line for line in lines)
