"""The complexity estimator: transparent factors, whole-word matching, context, AI fallback."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from buildrunner.errors import ConfigError
from buildrunner.project import Project
from buildrunner.routing.complexity_estimator import ComplexityEstimator, minutes_for
from buildrunner.routing.cost_tracker import CostTracker
from buildrunner.routing.levels import LEVELS, level_for

HARD = (
    "Add support for composite foreign key relations across multiple database backends.\n\n"
    "The query compiler and every subclass of the abstract base need to handle both cases; "
    "should ordering on annotations be supported too? Related to #1234 and #2345. "
    "The documentation and examples need updating as well."
)
EASY = "Typo in the error message: `ValueError: invalid str value` should be fixed. Simple patch attached, python 3.11 on linux."


@pytest.fixture
def estimator(project: Project) -> ComplexityEstimator:
    return ComplexityEstimator(project, use_ai=False)


def test_result_has_the_spec_fields_and_factors_add_up(estimator: ComplexityEstimator) -> None:
    result = estimator.estimate(HARD)
    assert result.task_description == HARD.strip()
    assert result.complexity_level in {name for _, name in LEVELS}
    assert 0 <= result.complexity_score <= 100
    assert result.recommended_model in {"haiku", "sonnet", "opus"}
    assert result.estimated_cost > 0 and result.estimated_time_minutes > 0
    assert result.reasoning and all(isinstance(line, str) for line in result.reasoning)
    names = [f.name for f in result.factors]
    assert names[0] == "baseline"
    assert {"data and queries", "class hierarchy", "several entities", "new capability", "related history"} <= set(names)
    # Transparent: the weights are the score (it is only clamped to 0-100).
    assert min(100, round(sum(f.weight for f in result.factors))) == result.complexity_score


def test_harder_description_scores_higher_and_takes_longer(estimator: ComplexityEstimator) -> None:
    hard, easy = estimator.estimate(HARD), estimator.estimate(EASY)
    assert hard.complexity_score > easy.complexity_score + 20
    assert hard.estimated_time_minutes > easy.estimated_time_minutes
    assert easy.complexity_level == "simple" and easy.recommended_model == "haiku"
    assert hard.estimated_cost > easy.estimated_cost


def test_words_are_matched_as_whole_words(estimator: ComplexityEstimator) -> None:
    base = estimator.estimate("Update the mailing address label")
    assert "new capability" not in [f.name for f in base.factors]  # "address" is not "add"
    assert "new capability" in [f.name for f in estimator.estimate("Add the mailing address label").factors]
    assert "fix suggested" not in [f.name for f in estimator.estimate("Prefix and suffix handling in the parser").factors]


def test_code_blocks_do_not_count_as_prose(estimator: ComplexityEstimator) -> None:
    in_code = estimator.estimate("Crash when saving.\n```python\nclass Child(Parent):  # subclass of abstract proxy\n    pass\n```")
    assert "class hierarchy" not in [f.name for f in in_code.factors]
    assert "code in description" in [f.name for f in in_code.factors]


def test_files_count_size_and_languages(estimator: ComplexityEstimator, tmp_project: Path) -> None:
    files = []
    for name, size in (("api.py", 9000), ("ui.ts", 6000), ("schema.sql", 3000)):
        path = tmp_project / name
        path.write_text("x" * size)
        files.append(path)
    alone = estimator.estimate("Rename the status field")
    with_files = estimator.estimate("Rename the status field", files=files)
    factors = {f.name: f for f in with_files.factors}
    assert factors["files to change"].detail == "3 files"
    assert factors["code size"].detail == "18000 bytes"
    assert factors["languages"].detail == "Python, SQL, TypeScript"
    assert with_files.complexity_score > alone.complexity_score


@pytest.mark.parametrize("description", ["", "   \n\t"])
def test_empty_description_is_a_config_error(estimator: ComplexityEstimator, description: str) -> None:
    with pytest.raises(ConfigError, match="empty"):
        estimator.estimate(description)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(min_size=1, max_size=3000).filter(lambda s: s.strip()))
def test_any_text_gets_a_consistent_estimate(estimator: ComplexityEstimator, text: str) -> None:
    result = estimator.estimate(text)
    assert 0 <= result.complexity_score <= 100
    assert result.complexity_level == level_for(result.complexity_score)
    assert result.estimated_time_minutes == minutes_for(result.complexity_score)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.sampled_from(["```", "`", "\n", "foo(", "#12", "?", "add", "x" * 40, "Traceback"]), min_size=1, max_size=200))
def test_unbalanced_markup_never_breaks_the_scanner(estimator: ComplexityEstimator, parts: list[str]) -> None:
    text = " ".join(parts)
    if text.strip():
        assert 0 <= estimator.estimate(text).complexity_score <= 100


@given(st.floats(min_value=0, max_value=100), st.floats(min_value=0, max_value=100))
def test_time_grows_with_score(a: float, b: float) -> None:
    low, high = sorted((a, b))
    assert minutes_for(low) <= minutes_for(high)


def test_time_matches_the_annotation_buckets_at_the_level_edges() -> None:
    assert minutes_for(29) < 15 <= minutes_for(30)
    assert minutes_for(74) < 60 <= minutes_for(75)
    assert minutes_for(89) < 240 <= minutes_for(90)


def test_ai_requested_without_key_falls_back_with_a_note(project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    result = ComplexityEstimator(project, use_ai=True).estimate(HARD)
    assert result.source == "heuristic"
    assert "ANTHROPIC_API_KEY is not set" in result.reasoning[-1]


def test_ai_estimate_from_the_messages_api_is_used_and_its_cost_recorded(project: Project, fake_anthropic) -> None:
    result = ComplexityEstimator(project, use_ai=True).estimate(HARD)
    assert result.source == "ai"
    assert result.complexity_score == 72
    assert result.reasoning[0] == "Touches authentication"
    assert round(sum(f.weight for f in result.factors)) == 72  # the AI's delta is a factor too
    sent = fake_anthropic.requests[0]
    assert sent["path"] == "/v1/messages" and sent["body"]["model"] == "claude-haiku-4-5"
    summary = CostTracker(project).get_summary("day")
    assert summary.request_count == 1
    assert summary.total_cost == pytest.approx((250 * 1.0 + 40 * 5.0) / 1e6)


@pytest.mark.parametrize("reply", ["I think it is hard", '{"score": 140}', '{"score": "high"}'])
def test_unusable_ai_answer_falls_back(project: Project, fake_anthropic, reply: str) -> None:
    fake_anthropic.reply_text = reply
    result = ComplexityEstimator(project, use_ai=True).estimate(HARD)
    assert result.source == "heuristic"
    assert "AI estimation unavailable" in result.reasoning[-1]


def test_ai_server_error_falls_back_without_leaking_the_key(project: Project, fake_anthropic) -> None:
    fake_anthropic.status = 529
    result = ComplexityEstimator(project, use_ai=True).estimate(HARD)
    assert result.source == "heuristic"
    assert "AI estimation unavailable" in result.reasoning[-1]
    assert "0123456789abcdefghij" not in " ".join(result.reasoning)


def test_config_switch_enables_ai(write_config, tmp_project: Path, fake_anthropic) -> None:
    write_config({"routing": {"ai_estimation": True, "ai_model": "sonnet"}})
    result = ComplexityEstimator(Project(tmp_project)).estimate(EASY)
    assert result.source == "ai"
    assert fake_anthropic.requests[0]["body"]["model"] == "claude-sonnet-4-5"


@given(st.text(max_size=500))
def test_ai_answer_parser_accepts_only_what_was_asked(text: str) -> None:
    from buildrunner.errors import APIError
    from buildrunner.routing.ai_estimator import parse_answer

    try:
        score, reasons = parse_answer(text)
    except APIError:
        return
    assert 0 <= score <= 100 and len(reasons) <= 4


@given(st.integers(min_value=0, max_value=100), st.lists(st.text(max_size=300), max_size=8), st.text(max_size=50).filter(lambda s: "{" not in s))
def test_ai_answer_parser_finds_the_json_in_chatty_replies(score: int, reasons: list[str], chatter: str) -> None:
    import json

    from buildrunner.routing.ai_estimator import parse_answer

    parsed_score, parsed_reasons = parse_answer(f"{chatter}\n{json.dumps({'score': score, 'reasoning': reasons})}")
    assert parsed_score == score
    assert parsed_reasons == [r[:200] for r in reasons[:4]]


# shared/ lies beside the checkout (the project's machines and CI lay it out so).
BENCHMARK = Path(__file__).resolve().parents[3] / "shared" / "benchmarks" / "swebench-verified-difficulty.jsonl"


@pytest.mark.skipif(not BENCHMARK.is_file(), reason="calibration set not present")
def test_vocabularies_hold_no_benchmark_repository_names() -> None:
    import json

    from buildrunner.routing.complexity_estimator import SIGNALS

    rows = [json.loads(line) for line in BENCHMARK.read_text(encoding="utf-8").splitlines() if line.strip()]
    names = {part.lower() for r in rows for part in r["repo"].split("/")}
    checked = 0
    for signal in SIGNALS:
        words = getattr(signal.count, "words", frozenset())
        checked += len(words)
        assert not words & names, signal.name
    assert checked > 150
