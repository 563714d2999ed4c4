"""Signals are data: the shipped file is complete, bad entries are clear errors, and matching follows the file's rules."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from buildrunner.errors import ConfigError
from buildrunner.routing.complexity_estimator import ComplexityEstimator, ComplexityResult
from buildrunner.routing.signals import Hit, features, hits, misspellings, parse_signals, shipped_signals


def _fired(text: str) -> set[str]:
    """The names of the shipped signals that fire on `text`."""
    return {h.signal.name for h in hits(shipped_signals(), text)}


def _hits_of(text: str, name: str) -> list[Hit]:
    """The hits of one shipped signal on `text` (none when it does not fire)."""
    return [h for h in hits(shipped_signals(), text) if h.signal.name == name]


def _estimate(text: str) -> ComplexityResult:
    return ComplexityEstimator().estimate(text)


def _tier(text: str) -> str:
    return _estimate(text).recommended_model


def test_every_shipped_signal_says_why_and_where_its_weight_came_from() -> None:
    signals = shipped_signals()
    assert signals.base_source and 0 < signals.base < 100
    assert len(signals.signals) >= 20
    for signal in signals.signals:
        assert signal.why and signal.source and signal.label, signal.name
        assert signal.weight != 0, signal.name
    assert any(s.weight < 0 for s in signals.signals) and any(s.weight > 0 for s in signals.signals)


def test_no_verb_counts_as_evidence_of_an_easy_task() -> None:
    easy_words = {w for s in shipped_signals().signals if s.weight < 0 for w in s.words}
    assert {"fix", "fixed", "fixes", "change", "update", "replace"}.isdisjoint(easy_words)


def _one(spec: str) -> str:
    return f'base = 10\ntopic_words = 40\n[[signal]]\nname = "s"\nwhy = "w"\nweight = 8\nsource = "t"\n{spec}\n'


def test_words_phrases_and_stems() -> None:
    signals = parse_signals(_one('words = ["race condition", "deprecat*", "api"]'), "test.toml")
    found = hits(signals, "A race\n  condition in the deprecated API, and in RAPID apis")
    assert [h.words for h in found] == [("api", "deprecated", "race condition")]
    assert found[0].points == pytest.approx(8 * 2)  # three distinct hits: weight x log2(1 + 3)


def test_patterns_count_in_their_region() -> None:
    spec = 'pattern = \'\'\'\\bfoo\\(\'\'\'\nin = "code"\ncount = "matches"'
    signals = parse_signals(_one(spec), "test.toml")
    assert hits(signals, "foo( in prose") == []
    assert hits(signals, "text\n```\nfoo(1)\nfoo(2)\n```")[0].count == 2


@pytest.mark.parametrize(
    ("spec", "needle"),
    [
        ('words = ["a"]\npattern = "b"', "exactly one of words, pattern or vocabulary"),
        ('pattern = "("', "signal 's'"),
        ('words = ["a"]\nin = "code"', "word lists and vocabularies read the prose"),
        ('pattern = "a"\ncount = "lines"', "count='lines'"),
        ('words = ["a"]\nrole = "easy"', "role='easy'"),
        ('pattern = "a"\nneeds = "("', "signal 's'"),
    ],
)
def test_bad_signal_entries_are_config_errors_naming_the_signal(spec: str, needle: str) -> None:
    with pytest.raises(ConfigError, match="test.toml") as err:
        parse_signals(_one(spec), "test.toml")
    assert needle in str(err.value)


def test_duplicate_names_and_bad_toml_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="appears twice"):
        parse_signals(_one('words = ["a"]') + '[[signal]]\nname = "s"\nweight = 1\nwords = ["b"]\n', "test.toml")
    with pytest.raises(ConfigError, match="invalid TOML"):
        parse_signals("base = = 1", "test.toml")


ROLES = """base = 36
small_change_topic_factor = 0.5
[[signal]]
name = "oauth"
weight = 20
role = "topic"
words = ["oauth"]
[[signal]]
name = "docs"
weight = -16
role = "small change"
words = ["broken link"]
[[signal]]
name = "other"
weight = 4
words = ["guide"]
"""


def test_a_small_change_counts_its_topic_at_the_files_factor() -> None:
    """A broken link in the OAuth guide is a docs fix: the topic counts half; signals without a role are untouched."""
    signals = parse_signals(ROLES, "test.toml")
    alone = {h.signal.name: h.points for h in hits(signals, "OAuth guide: add the PKCE flow")}
    fix = {h.signal.name: h.points for h in hits(signals, "OAuth guide: fix the broken link")}
    assert alone == {"oauth": 20, "other": 4}
    assert fix == {"oauth": 10, "docs": -16, "other": 4}
    # The features the weights are fitted on carry the same factor, so base + weights . features is the score.
    assert features(signals, "OAuth guide: fix the broken link") == [0.5, 1.0, 1.0]


ASKED = """base = 36
past_change = '''(?i)\\b(?:after|since)\\b[^.,;\\n]{0,40}$'''
[[signal]]
name = "bump"
weight = -12
asked_only = true
words = ["bump"]
[[signal]]
name = "plain"
weight = 3
words = ["bump"]
"""


@pytest.mark.parametrize(
    ("text", "asked"),
    [
        ("Bump the SDK to 4.2", True),
        ("CI is red after the SDK bump", False),  # the bump is done: it is what broke, not the work
        ("Since our bump yesterday the app crashes", False),
        ("After that lands, bump the SDK", True),  # another clause: the bump is asked for
        ("The pipeline broke after release. Bump the SDK", True),
    ],
)
def test_an_asked_only_signal_skips_a_change_already_made(text: str, asked: bool) -> None:
    found = {h.signal.name for h in hits(parse_signals(ASKED, "test.toml"), text)}
    assert ("bump" in found) is asked
    assert "plain" in found  # a signal without asked_only counts the word wherever it is


OTHER_SENSE = """base = 36
[[signal]]
name = "bump"
weight = -12
unless_followed_by = '''\\s+(?:the\\s+)?\\w+\\s+count\\b'''
words = ["bump"]
"""


@pytest.mark.parametrize(("text", "counted"), [("Bump the SDK to 4.2", True), ("bump the partition count to 48", False), ("BUMP THE REPLICA COUNT", False)])
def test_a_hit_followed_by_another_sense_of_the_word_does_not_count(text: str, counted: bool) -> None:
    assert ("bump" in {h.signal.name for h in hits(parse_signals(OTHER_SENSE, "test.toml"), text)}) is counted


def test_an_unreadable_other_sense_pattern_names_the_signal() -> None:
    with pytest.raises(ConfigError, match="signal 'bump'"):
        parse_signals(OTHER_SENSE.replace("count\\b", "count("), "test.toml")


def test_a_failure_after_a_routine_change_is_not_the_routine_change() -> None:
    """A bump or a rename that already happened and broke something is a regression to chase, not a one-liner."""
    estimator = ComplexityEstimator()
    pairs = [
        ("Bump the terraform AWS provider to 5.31", "terraform plan wants to destroy and recreate the database after the AWS provider bump"),
        ("Rename the `cfg` package to `settings`", "Half the plugins fail to load since we renamed the `cfg` package to `settings`"),
    ]
    for routine, broken in pairs:
        asked, regression = estimator.estimate(routine), estimator.estimate(broken)
        assert regression.complexity_score > asked.complexity_score, broken
        assert regression.recommended_model != "haiku", broken
    # A routine change asked for after a change, with nothing broken, is still routine: the docs after a release.
    assert estimator.estimate("Update the README after the v2 release").recommended_model == "haiku"


@pytest.mark.parametrize("value", ["1.5", "-0.1", '"half"'])
def test_the_small_change_factor_is_a_number_between_0_and_1(value: str) -> None:
    with pytest.raises(ConfigError, match="small_change_topic_factor"):
        parse_signals(ROLES.replace("small_change_topic_factor = 0.5", f"small_change_topic_factor = {value}"), "test.toml")


def test_calibrated_weights_replace_shipped_ones_by_name() -> None:
    signals = shipped_signals()
    changed = signals.with_weights({"concurrency": 5.0}, base=30.0)
    assert changed.base == 30.0
    assert next(s for s in changed.signals if s.name == "concurrency").weight == 5.0
    assert next(s for s in signals.signals if s.name == "concurrency").weight != 5.0
    with pytest.raises(ConfigError, match="unknown signal 'no such signal'"):
        signals.with_weights({"no such signal": 1.0})


@given(st.text(max_size=2000))
def test_any_text_is_measured_without_error(text: str) -> None:
    for hit in hits(shipped_signals(), text):
        assert hit.count != 0 and hit.points == pytest.approx(hit.signal.points(hit.count))


def test_hidden_parts_and_listings_are_not_prose() -> None:
    spec = 'words = ["deadlock"]\n'
    text = (
        'hidden = [\'\'\'(?s)<!--.*?(?:-->|\\Z)\'\'\']\n'
        'listing = [\'\'\'(?m)^>>> .*$\'\'\', \'\'\'(?m)^\\w+: \\d[\\w.]*$\'\'\']\n'
    )
    signals = parse_signals(text + _one(spec), "test.toml")
    assert len(signals.listings) == 2 and len(signals.hidden) == 1
    report = "Saving hangs.\n<!-- Does it deadlock? Describe it here. -->\n>>> save(deadlock=True)\nlibdeadlock: 1.2\n"
    assert hits(signals, report) == []
    parsed = signals.text(report)
    assert "save(deadlock=True)" in parsed.code and "libdeadlock: 1.2" in parsed.code
    assert "Describe it" not in parsed.prose and "Describe it" not in parsed.code
    assert [h.words for h in hits(signals, report + "It looks like a deadlock between the two writers.")] == [("deadlock",)]


def test_a_bad_hidden_or_listing_pattern_is_a_config_error() -> None:
    for key in ("hidden", "listing", "dismissed"):
        with pytest.raises(ConfigError, match=f"test.toml: {key}"):
            parse_signals(f'{key} = ["("]\n' + _one('words = ["a"]'), "test.toml")


def test_fitted_weights_name_their_data_and_held_out_check() -> None:
    signals = shipped_signals().signals
    fitted = [s for s in signals if s.fitted and s.vocabulary is None]
    assert fitted and len(fitted) < len(signals) / 2  # most weights are judgement; a few shape signals are fitted
    for signal in fitted:
        assert "half A" in signal.source and "half B" in signal.source, signal.name
        assert not signal.words, signal.name  # fitted signals read a description's shape, not a vocabulary


OTHER_SENSES = r"""base = 36
[[signal]]
name = "locking"
weight = 36
other_senses = ['\block\s+(?:icon|file)\b', '\bcomment\s+threads?\b']
words = ["lock", "thread"]
"""


@pytest.mark.parametrize(
    ("text", "words"),
    [("Take the lock before the refill", ("lock",)), ("Add a lock icon to the comment thread", ()),
     ("Add a lock icon; each thread holds the lock", ("lock", "thread")), ("Regenerate the lock file", ())],
)
def test_a_hit_inside_another_sense_of_the_word_does_not_count(text: str, words: tuple[str, ...]) -> None:
    found = [h for h in hits(parse_signals(OTHER_SENSES, "test.toml"), text) if h.signal.name == "locking"]
    assert (found[0].words if found else ()) == words


INSIDE = r"""base = 36
past_change = '(?i)\bafter\s+$'
[[signal]]
name = "target"
weight = -14
inside = ["upgrade"]
pattern = '\bfrom\s+\S+\s+to\s+\d[\d.]*'

[[signal]]
name = "upgrade"
weight = 24
asked_only = true
pattern = '(?i)\bupgrad\w*\s+(?:\w+\s+){0,2}?from\s+\d+\.\d+\s+to\s+\d+'

[[signal]]
name = "words"
weight = 5
words = ["electron"]
"""


@pytest.mark.parametrize(
    ("text", "fired"),
    [("Change the limit from 5 to 15", {"target"}), ("Upgrade electron from 22.3 to 28", {"upgrade", "words"}),
     ("After upgrading from 22.3 to 28 the window is blank", set())],
)
def test_a_hit_inside_another_signals_phrase_is_that_signals(text: str, fired: set[str]) -> None:
    """`inside`: the same words read as what the other signal reads, whether or not it counts them itself (an upgrade
    already made is no target value either)."""
    assert {h.signal.name for h in hits(parse_signals(INSIDE, "test.toml"), text)} == fired


@pytest.mark.parametrize("inside", ['["nothing"]', '["words"]', '"upgrade"'])
def test_inside_must_name_pattern_signals_of_the_file(inside: str) -> None:
    with pytest.raises(ConfigError, match="signal 'target': inside"):
        parse_signals(INSIDE.replace('inside = ["upgrade"]', f"inside = {inside}"), "test.toml")


def test_other_senses_must_be_a_list_of_patterns() -> None:
    with pytest.raises(ConfigError, match="signal 'locking'.*other_senses"):
        parse_signals(OTHER_SENSES.replace("other_senses = [", "other_senses = 3 #["), "test.toml")


@pytest.mark.parametrize(
    ("everyday", "hard"),
    [
        ("Add a lock icon to the comment thread header", "Add a mutex around the cache refill"),
        ("Regenerate the lock file after bumping lodash", "Two workers refill the cache at the same time and one write is lost"),
        ("Rotate the company logo on the landing page", "Rotate the signing keys for the payment service"),
        ("Show the session schedule on the conference page", "Sessions are not invalidated after a password change"),
        ("Update the yarn lock file", "Use a PID lock file to stop two deploys running concurrently"),  # a lock file as a mutex is not a lockfile
        ("Rotate the banner image on the home page", "Rotate the device certificates before they expire"),
        ("Show the battery charge level in the status bar", "Customers are charged twice when they retry the checkout"),
        ("Change the default port 8080 to 9090 in the dev server config", "Port the payment service from Python 2 to Python 3"),
        ("Increase the font size of the Balance column in the statements table", "Interest on the account balance is rounded twice"),
    ],
)
def test_an_everyday_sense_of_a_hard_topics_word_is_not_that_topic(everyday: str, hard: str) -> None:
    """A reviewer's tickets: a padlock icon, a comment thread and a lock file went to opus as concurrency work. (Until
    2026-12-07 the everyday one was also held under 40, inside the sonnet band: with the vocabulary on 6,100 descriptions
    the battery gauge reads 44 on "level" and "charge", still sonnet; the tier is what routes it.)"""
    estimator = ComplexityEstimator()
    low, high = estimator.estimate(everyday), estimator.estimate(hard)
    assert high.complexity_score > low.complexity_score
    assert low.recommended_model != "opus"
    topics = {s.name for s in shipped_signals().signals if s.role == "topic"}
    low_topics, high_topics = ({f.name: f.weight for f in r.factors if f.name in topics} for r in (low, high))
    assert sum(high_topics.values()) > sum(low_topics.values()), (low_topics, high_topics)  # the hard sense counts as the topic


def test_a_race_named_in_shorthand_is_concurrency_and_an_unreproduced_bug_is_no_reproducible_report() -> None:
    estimator = ComplexityEstimator()
    assert estimator.estimate("Fix the race in the lock-free queue").complexity_level in ("complex", "critical")
    fired = _fired("We have not been able to reproduce it locally")
    assert "cause unknown" in fired and "reproducible report" not in fired


def test_a_documentation_file_as_the_work_is_simple_and_as_a_reference_is_not() -> None:
    """A new user's tickets: "Document the retry settings in docs/retries.md" went to sonnet (a path is code to a word
    list) while "in the docs" went to haiku; a docs section explaining the locking design went to opus."""
    estimator = ComplexityEstimator()
    easy_scores = []
    for easy in ("Document the retry settings in docs/retries.md", "Fix the broken links in README.md", "Update CHANGELOG.md for the 2.3 release"):
        result = estimator.estimate(easy)
        assert result.complexity_level == "simple", easy
        easy_scores.append(result.complexity_score)
    for hard in ("Fix the deadlock described in docs/design.md", "Implement the consensus protocol specified in docs/raft.md"):
        result = estimator.estimate(hard)
        assert result.complexity_level != "simple" and "documentation file" not in {f.name for f in result.factors}, hard
        assert result.complexity_score >= max(easy_scores) + 40, hard
    docs_section = estimator.estimate("can you add a section to docs/architecture.md explaining how our distributed locking avoids race conditions? no code changes")
    assert docs_section.complexity_level not in ("complex", "critical")


def test_a_rename_others_depend_on_is_not_a_mechanical_rename() -> None:
    """Renaming the fields of a public response that partners parse breaks them: it needs versioning or a deprecation
    period (a new user's ticket went to haiku as a mechanical rename)."""
    estimator = ComplexityEstimator()
    public = estimator.estimate("Rename the JSON fields in the public /v1/users response; partners depend on it")
    local = estimator.estimate("Rename the local variable tmp to total in the report builder")
    assert local.complexity_level == "simple" and public.complexity_level != "simple"


SETTLED = """base = 36
small_change_topic_factor = 0.5
settled_topic_factor = 0.25
resolved = '''(?i)\\broot cause:'''
[[signal]]
name = "race"
role = "topic"
weight = 30
words = ["race"]
[[signal]]
name = "unknown"
weight = 20
until_resolved = true
words = ["intermittent"]
[[signal]]
name = "target"
weight = -14
states_change = true
words = ["set it to"]
[[signal]]
name = "other"
weight = 4
words = ["cache"]
"""


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # the cause found and the change stated: the topic counts a quarter, what was unknown nothing, the rest as it is
        ("Intermittent race in the cache? Root cause: the TTL is 30. Set it to 5.", {"race": 7.5, "unknown": 0, "target": -14, "other": 4}),
        ("Intermittent race in the cache? Set it to 5.", {"race": 30, "unknown": 20, "target": -14, "other": 4}),  # no cause found
        ("Intermittent race in the cache. Root cause: two writers share the entry.", {"race": 30, "unknown": 20, "other": 4}),  # no change stated
    ],
)
def test_a_report_whose_cause_is_found_and_change_stated_counts_what_it_feared_less(text: str, expected: dict[str, float]) -> None:
    signals = parse_signals(SETTLED, "test.toml")
    found = hits(signals, text)
    assert {h.signal.name: h.points for h in found} == expected
    scaled = [h.detail for h in found if h.scale != 1.0]
    assert all(d.endswith("the cause is found ('root cause:') and the change stated") for d in scaled)
    # the features the weights are fitted on carry the same scales
    assert sum(w * f for w, f in zip((30, 20, -14, 4), features(signals, text))) == pytest.approx(sum(expected.values()))


INCIDENT = """SEV-1: checkout requests timing out for every customer since this morning, card payments failing,
on-call suspects a DDoS or a deadlock in the connection pool and wants to roll back the whole cluster.
Error rate is around 40 % and we cannot reproduce it on staging.
{diff}
Need someone on this now."""
ONE_VALUE = """The only change in last night's deploy of services/checkout/values-prod.yaml:
```
 database:
-  maxPoolSize: 50
+  maxPoolSize: 5
```"""


def test_a_pasted_one_value_diff_does_not_settle_a_report_the_stated_change_does() -> None:
    """A diff in a report is as often the trigger of the work asked after it (revert it, then recover what was lost) as
    the fix: a review's "Root cause: a config typo" reports with a recovery to do went to haiku when it settled them."""
    estimator = ComplexityEstimator()
    trigger = estimator.estimate(INCIDENT.format(diff="Root cause: " + ONE_VALUE + "\nRevert it, then re-create the orders we lost without charging anyone twice."))
    fixed = estimator.estimate(INCIDENT.format(diff="Root cause: " + ONE_VALUE + "\nSet maxPoolSize back to 50."))
    open_ = estimator.estimate(INCIDENT.format(diff="The only change in last night's deploy was to services/checkout/values-prod.yaml."))
    assert open_.complexity_level == trigger.complexity_level == "critical"
    assert "one value changed" in {f.name for f in trigger.factors}
    assert not any("the cause is found" in f.detail for f in trigger.factors)
    # with the change stated in words, what it feared counts a little (a value in the payment path is deployed with care)
    assert fixed.complexity_level != "critical" and fixed.complexity_score <= open_.complexity_score - 20
    settled = {f.name for f in fixed.factors if "the cause is found ('root cause:') and the change stated" in f.detail}
    assert {"concurrency", "money", "cause unknown"} <= settled


@pytest.mark.parametrize(
    "diff",
    [
        "-    if retries > 3:\n+    if retries >= 3 and not cancelled:",  # code rewritten, not a value
        "- pool: 20 max: 5\n+ pool: 10 max: 6",  # two values
        "- maxPoolSize: 50\n+ maxPoolSize: 50",  # nothing changed
        "- apples: red\n+ pears: green",  # a different setting
        "- item one: first\n- item two: second",  # a list, not a diff
    ],
)
def test_a_diff_that_is_not_one_value_changed_does_not_settle_a_report(diff: str) -> None:
    fired = _fired(f"Payments failing for every customer.\n```\n{diff}\n```")
    assert "one value changed" not in fired


def test_a_bad_resolved_pattern_is_a_config_error_naming_the_key() -> None:
    with pytest.raises(ConfigError, match="resolved"):
        parse_signals(SETTLED.replace("root cause:", "root (cause:"), "test.toml")


@pytest.mark.parametrize(
    ("text", "fires"),
    [
        ("Make the payout job retry when the bank's API times out", True),
        ("Resubmit rejected orders automatically after a minute", True),
        ("If the call to the capture endpoint times out we call it again", True),
        ("Re-run the nightly payout job for the days it failed last week", True),
        ("Charges that fail with a network error should be tried again by the worker", True),
        ("The Retry button on the orders page is misaligned on mobile", False),
        ("Add a --retry flag to the refunds export command", False),
        ("Replay the recorded commands in the terminal demo at 2x speed", False),
        ("The order summary page should let you try again if the map tile fails to load", False),
        ("Retry the flaky checkout test three times in CI", False),
        ("Return 429 with a Retry-After header when the order API is rate limited", False),
        ("After the retry storm last week, orders are slow to load", False),
        ("Retry loading the avatar image when the CDN times out", False),
    ],
)
def test_retrying_an_action_that_must_not_happen_twice_is_its_own_difficulty(text: str, fires: bool) -> None:
    assert ("retried side effects" in _fired(text)) is fires


def test_a_guess_at_the_effort_is_not_a_target_value() -> None:
    """ "this should take an hour" is how long the requester thinks the work takes, not a value to set; a bare "should
    be 1 hour" is as often a setting's new value ("Token expiry is 24h, should be 1 hour") and stays one."""
    for guess in ("Swap the payment provider's base URL. This should take 10 minutes.", "Should be a 5-minute fix: rotate the key",
                  "Make the payout job safe to re-run; it should take 2h at most"):
        assert "target given" not in _fired(guess), guess
    for target in ("The cache TTL should be 5 min, not 30.", "Set the session timeout back to 30 min; it should be 5 min for admins",
                   "Token expiry is 24h, should be 1 hour.", "Debounce is 500ms; should be 2 seconds"):
        assert "target given" in _fired(target), target


LARGER = """base = 36
larger_task = '''(?i)(?:^|(?<=[.;]\\s)|(?<=\\band\\s))(?P<work>(?:implement|(?P<weak>add|make))\\b[^.,;\\n]+?)(?=\\s*(?:[,;]|[.](?:\\s|$)|\\n|\\band\\b))'''
larger_task_topics = ["speed"]
larger_task_small_objects = ["favicon"]
[[signal]]
name = "docs"
weight = -16
role = "small change"
words = ["readme", "docstring"]
[[signal]]
name = "plain"
weight = 3
words = ["readme"]
[[signal]]
name = "speed"
weight = 18
role = "topic"
words = ["faster"]
"""


@pytest.mark.parametrize(
    ("text", "small"),
    [
        ("Implement per-tenant rate limiting and describe the limits in the README", False),  # the docs are one step of the work
        ("Make the site ten times faster. Document it in the README.", False),  # a weak verb with a topic: other work
        ("Update the README and implement the export", False),  # a step before the work
        ("Add a favicon and update the README", True),  # a weak verb adding a small object: the README is the task
        ("Add a dark mode toggle and update the README", False),  # a weak verb opening the description adds a thing: other work
        ("Fix the crash. Add a dark mode toggle and update the README", True),  # a weak verb without a topic, not opening it
        ("Update the README", True),
        ("Add a section to the README on the proxy settings", True),  # the README is the object of the work itself
        ("Add a docstring and fix the link in the README", True),  # the first clause is a small change too
    ],
)
def test_a_small_change_after_a_request_for_other_work_is_a_step_of_that_work(text: str, small: bool) -> None:
    found = {h.signal.name for h in hits(parse_signals(LARGER, "test.toml"), text)}
    assert ("docs" in found) is small
    assert "plain" in found  # only "small change" signals read it


def test_a_larger_task_pattern_needs_its_work_group_and_its_topics_must_be_signals() -> None:
    with pytest.raises(ConfigError, match="larger_task_small_objects must be a list"):
        parse_signals(LARGER.replace('larger_task_small_objects = ["favicon"]', 'larger_task_small_objects = "favicon"'), "test.toml")
    with pytest.raises(ConfigError, match="larger_task.*'work'"):
        parse_signals(LARGER.replace("?P<work>", ""), "test.toml")
    with pytest.raises(ConfigError, match="larger_task_topics.*'sped'"):
        parse_signals(LARGER.replace('larger_task_topics = ["speed"]', 'larger_task_topics = ["sped"]'), "test.toml")


def test_hard_work_that_also_updates_the_docs_is_not_sent_to_haiku() -> None:
    """A new user's ticket (2026-12-05): the rate limiting went to haiku as a docs task, then further on its words."""
    estimator = ComplexityEstimator()
    for text in ("Implement per-tenant rate limiting in gateway/ratelimit.py and describe the limits in the README",
                 "Add end-to-end encryption of attachments; update the docs page on storage as well"):
        assert estimator.estimate(text).recommended_model != "haiku", text
    assert estimator.estimate("Fix the broken link in the README").recommended_model == "haiku"


def test_a_diff_of_many_settings_is_not_one_value_changed() -> None:
    """A pasted diff that changes ten settings is a reconfiguration; each pair had counted as one more small value (-34.6)."""
    one = "Lower the idle timeout:\n```\n- workerIdleTimeout: 30m\n+ workerIdleTimeout: 5m\n```"
    many = "Apply the new limits:\n```\n" + "\n".join(f"- limit_{n}: {n}\n+ limit_{n}: {n * 2}" for n in range(1, 11)) + "\n```"
    fired = lambda text: {h.signal.name: h.points for h in hits(shipped_signals(), text)}  # noqa: E731
    assert fired(one)["one value changed"] < 0
    assert "one value changed" not in fired(many)


@pytest.mark.parametrize(
    "text",
    [
        "Update the checkout footer so it no longer loads the script that has been exfiltrating card numbers",
        "An attacker can replay the webhook from the logs",
        "Our build server was compromised last night; find what the backdoor touched",
    ],
)
def test_an_attack_in_progress_is_security_work(text: str) -> None:
    assert "security and cryptography" in _fired(text)


@pytest.mark.parametrize(
    "text",
    [
        "Make the whole site ten times faster and update the README.",
        "Make the checkout page accept Apple Pay, Google Pay and PayPal, then change the button colour to green.",
        "Make sure we never lose a customer's order even if a data centre burns down; update the runbook afterwards.",
    ],
)
def test_a_side_step_after_hard_work_leaves_the_work_hard(text: str) -> None:
    """A review's tickets (2026-12-06): each went to haiku (0 or 12) on its last clause, or lost a level to it."""
    assert ComplexityEstimator().estimate(text).recommended_model != "haiku"
    assert not {"documentation only", "visual tweak"} & _fired(text)


def test_a_colour_change_of_a_page_element_is_still_a_visual_tweak() -> None:
    assert "visual tweak" in _fired("Change the button colour on the login page to green")
    assert "documentation only" in _fired("The install steps are wrong. Update the README.")


@pytest.mark.parametrize(
    ("text", "signal", "counted"),
    [
        ("Set up GitHub Actions CI that runs lint and tests on every PR.", "solution given", False),  # when CI runs
        ("Set up GitHub Actions CI that runs lint and tests on every PR.", "mechanical fix", False),  # new tooling
        ("PR attached: it fixes the off-by-one in the pager", "solution given", True),
        ("Fix the lint warnings in utils.py", "mechanical fix", True),
        ("Critical: the 'Transfer funds' page title has an extra space at the end.", "production risk", False),  # how it was filed
        ("This is critical: payments fail for every customer in production", "production risk", True),
        ("Run the backup job every night at 2am", "cause unknown", False),  # a schedule
        ("The export fails every night and nobody knows why", "cause unknown", True),
    ],
)
def test_words_that_say_how_or_when_are_not_what_the_work_is(text: str, signal: str, counted: bool) -> None:
    """A review's tickets (2026-12-06): CI on every PR went to haiku as a given fix and a lint fix; a severity label
    made a trailing space production work."""
    assert (signal in _fired(text)) is counted



@pytest.mark.parametrize(
    ("text", "major"),
    [
        ("Bump kafka-clients from 2.8.1 to 3.7.0 in the four consumer services.", True),
        ("chore(deps): bump psycopg2-binary 2.9 -> psycopg 3.1 in settlement-service", True),
        ('Bump engine_version on module.db from "13.14" to "16.3"', True),
        ("Upgrade the ORM to its next major version", True),
        ("can we just bump react/react-dom 17 → 18? should be a package.json change", True),  # a companion package named with it
        ("Bump node and npm 18 -> 20 in the CI image", True),
        ("Bump the SDK from 4.2.0 to 4.3.1", False),  # a minor release
        ("Bump the aws provider constraint from ~> 5.31 to ~> 5.40", False),
        ("Update the weight from 1.5 to 2.5 in config.yaml", False),  # a setting's value
        ("Increase the pool from 10 to 20", False),
    ],
)
def test_a_major_version_upgrade_is_not_a_version_bump(text: str, major: bool) -> None:
    """Held out, seven of the training corpus's thirteen complex or critical descriptions that scored simple were major
    upgrades written as a bump: the bump is one line, the work is what the new major version moved."""
    assert ("major version upgrade" in _fired(text)) is major
    if major:
        assert ComplexityEstimator().estimate(text).recommended_model != "haiku"


@pytest.mark.parametrize(
    ("bumped", "upgraded"),
    [("chore: bump express from 4.18.2 to 5.0.1", "Upgrade express from 4.18.2 to 5.0.1"),
     ("bump react-native from 0.71.8 to 0.74.1", "Upgrade react-native from 0.71.8 to 0.74.1")],
)
def test_a_new_major_version_is_complex_work_bumped_or_upgraded(bumped: str, upgraded: str) -> None:
    """Blind sets 112-119 (2026-12-07): "just bump Django from 3.2 to 4.2" scored 33 where "upgrade" scored 85 (a bump
    had read as a one-line version bump beside the new major version, the same words read two ways)."""
    estimator = ComplexityEstimator()
    for text in (bumped, upgraded):
        estimate = estimator.estimate(text)
        assert estimate.recommended_model == "opus", (text, estimate.complexity_score)
        assert "version bump" not in {f.name for f in estimate.factors}, text
    assert "version bump" in _fired("chore: bump express from 4.18.2 to 4.19.0")  # a minor release still is one


@pytest.mark.parametrize(
    "text",
    ["Appointment reminders for the Perth clinic arrive one hour early since October",
     "shift start times in the rota export are off by an hour for the Lisbon stores, only some weeks"],
)
def test_times_an_hour_off_are_a_time_zone_question(text: str) -> None:
    """Blind sets 116-118 (2026-12-07): "class times an hour off since March" is the symptom of a time zone or daylight
    saving bug (stored offsets, recurring series), though it names neither."""
    assert "time and clocks" in _fired(text)
    assert "time and clocks" not in _fired("Send the reminder email 24 hours before the appointment")


@pytest.mark.parametrize(
    ("text", "turned_on"),
    [("Switch SELinux on the build hosts from permissive to enforcing", True),
     ("one line: move the managed WAF rules on the storefront to blocking mode", True),
     ("Set the DMARC record for mail.example.org to p=reject", True),
     ("Flip fraud_action from review to auto for orders over $500", False),  # review is no watching mode of its own
     ("Change the flagging rule from warn -> block for new accounts", True),
     ("Add a dark mode toggle to the settings page", False),
     ("We moved to p=reject in March; the runbook still says p=none", False)],  # a change already made
)
def test_a_control_moved_from_watching_to_acting(text: str, turned_on: bool) -> None:
    """Blind set 121 (2026-12-07): "flip containment_mode from recommend to auto" and "DMARC -> p=reject, one-line TXT
    change" read as one-liners; what such a switch stops is the work."""
    assert ("enforcement turned on" in _fired(text)) is turned_on


@pytest.mark.parametrize(
    ("text", "rename"),
    [("Rename symbol should also update the imports in test files. Right now renaming `load_rows` in io.py leaves tests/test_io.py "
      "importing the old name", False),
     ("renaming a tag in the admin breaks every saved filter that uses it", False),
     ("Rename `load_rows` to `read_rows` in io.py", True)],
)
def test_a_rename_that_breaks_something_is_the_problem_not_the_work(text: str, rename: bool) -> None:
    """Blind set 112 (2026-12-07): a language server's rename that left a re-export behind went to haiku as a rename."""
    assert ("rename or move" in _fired(text)) is rename
    if not rename:
        assert ComplexityEstimator().estimate(text).recommended_model != "haiku"


def test_typos_the_users_make_are_no_typo_fix() -> None:
    """Blind set 128 (2026-12-07): "let techs edit entries in the controlled drug log when they make a typo" went to haiku
    as a typo fix; editing what a regulated log keeps is the work."""
    text = "can we let nurses edit signed medication records when they make a typo? support keeps fixing them in the DB"
    assert "typo or wording" not in _fired(text)
    assert ComplexityEstimator().estimate(text).recommended_model != "haiku"
    assert "typo or wording" in _fired("Fix the typo on the medication records page header")


@pytest.mark.parametrize(
    ("text", "counted"),
    [
        ("upgrade tokio to 0.3, we are still on 0.2", True),
        ("Bump sqlx to v0.7 (we're currently on 0.5) so the new pool options work", True),
        ("bump ruff to 0.6.9 (we're on 0.6.4)", False),  # the same 0.x series
        ("Bump the timeout to 0.5 seconds (we're on 0.2 today)", False),  # a value with its unit
        ("Bump the discount to 0.15 for gold members (we're on 0.10)", False),  # a value by its name
        ("bump the discount from 0.10 to 0.15", False),
    ],
)
def test_a_release_before_1_0_asked_for_beside_the_one_we_are_on_is_a_new_major(text: str, counted: bool) -> None:
    """Set 145 at its first score (2026-12-07): an operator's framework bumped three 0.x releases ahead, told as the
    target and then the one in use, went to haiku as a plain bump; before 1.0 each minor release may break (0.71 to
    0.74 already read so when told from-to). These tickets are written here, not taken from it."""
    assert ("major version upgrade" in _fired(text)) is counted


def test_a_constants_value_bumped_is_no_major_version() -> None:
    assert "major version upgrade" not in _fired("Design wants JUMP_VELOCITY in PlayerController bumped from 7.5 to 8.2, jump feels floaty")
    assert "major version upgrade" in _fired("MIN_SDK_VERSION bumped from 21.0 to 26.0")


def test_wording_to_keep_is_a_constraint_on_other_work_not_a_wording_change() -> None:
    """From the training corpus, held out: a CLI migration that must keep "the same error wording" and "the same help
    text" scored 0 on those words."""
    migration = ("Migrate envrun's CLI from argparse to clique without changing behaviour: same exit codes, same error wording "
                 "(people grep it), same help text as far as possible.")
    assert "typo or wording" not in _fired(migration)
    assert ComplexityEstimator().estimate(migration).recommended_model != "haiku"
    assert "typo or wording" in _fired("Fix the wording of the help text for --verbose")


@pytest.mark.parametrize(
    ("text", "signal", "counted"),
    [
        ("CI fails on a lint error in utils.py", "mechanical fix", True),
        ("Add an ignore for the linter on generated files", "mechanical fix", True),
        ("Update the existing help text for --verbose", "typo or wording", True),
        ("Use the same wording as the web app for the error", "typo or wording", True),
        ("The importer dies every night at 2am", "cause unknown", True),
        ("Priority: Critical\nThe page title has a trailing space", "production risk", False),
        ("**Critical**: the page title has a trailing space", "production risk", False),
        ("Change the button colour on the v2.0 settings page to green", "visual tweak", True),
        ("Upgrade the free plan's storage quota from 1.5 to 2.5 gigs", "major version upgrade", False),
        ("Bump the price from $9.99 to $12.99", "major version upgrade", False),
        ("Bump react-native 0.71 → 0.74 so we can use the new camera lib", "major version upgrade", True),
        ("Upgrade Postgres 13 to 16", "major version upgrade", True),
        ("Migrate from Vue 2 to Vue 3", "major version upgrade", True),
        ("Upgrade the workers from 4 to 8", "major version upgrade", False),
        ("Bump kafka-clients to 3.7 (we're on 2.8)", "major version upgrade", True),
        ("Bump the SDK to 4.3 (we're on 4.2)", "major version upgrade", False),
        ("Upgrade the primary database cluster from 12 to 16", "major version upgrade", True),  # whole numbers, not a count
        ("Upgrade the consumer group from 4 to 8 partitions", "major version upgrade", False),
        ("Just bump electron from 22.3 to 28 so we get the newer Chromium", "target given", False),  # a new major version's target
        ("After upgrading from 15 to 16, IN-list queries switched to a sequential scan", "target given", False),
        ("Bump the retry count from 3 to 5", "target given", True),
        ("Let customers pay in instalments and update the docs.", "documentation only", False),  # a step of the money work
    ],
)
def test_a_second_review_of_the_new_senses(text: str, signal: str, counted: bool) -> None:
    """A second review (2026-12-06) found each of these read the wrong way by the first version of the rules above."""
    assert (signal in _fired(text)) is counted


def test_a_small_change_before_other_work_is_a_step_of_it_and_a_plain_one_is_still_small() -> None:
    estimator = ComplexityEstimator()
    assert estimator.estimate("Change the logo colour and move session storage to Redis").recommended_model != "haiku"
    for small in ("Add a favicon and update the README", "Remove the unused import and update the changelog"):
        assert estimator.estimate(small).recommended_model == "haiku", small


def test_larger_task_topics_must_be_a_list_of_names() -> None:
    with pytest.raises(ConfigError, match="larger_task_topics must be a list"):
        parse_signals(LARGER.replace('larger_task_topics = ["speed"]', 'larger_task_topics = "speed"'), "test.toml")


@pytest.mark.parametrize(
    "text",
    ["Add user authentication with JWT tokens", "Fix the race condition in the payment ledger under concurrent refunds", "Lower the timeout",
     "Refactor the config module into smaller modules", "Update the README"],
)
def test_the_learned_words_listed_add_up_to_the_points_shown(text: str) -> None:
    """A new user added the parts of the learned factor and got -4.2 for a factor shown as -4.3."""
    import re

    (learned,) = [h for h in hits(shipped_signals(), text) if h.signal.vocabulary is not None]
    assert round(sum(float(x) for x in re.findall(r"[+-]\d+\.\d", learned.detail)), 1) == round(learned.points, 1)


@pytest.mark.parametrize(
    ("text", "signal", "counted"),
    [
        ("Bump the heartbeat interval from 30 s to 10 s on every gateway", "version bump", False),  # a setting, not a version
        ("bump the poll frequency to 2 min", "version bump", False),
        ("Bump the export delay from 5 mins to 1 min", "version bump", False),
        ("Bump urllib3 to 2.2.2", "version bump", True),
        ("Set org.gradle.workers.max to 8 in gradle.properties; the CI runners have 8 cores now", "concurrency", False),  # a machine's size
        ("Run the image resize on all cores with a process pool", "concurrency", True),
        ("Collapse empty DOM nodes before rendering the preview", "distributed systems", False),
        ("Highlight the selected nodes in the workflow editor", "distributed systems", False),
        ("When two of the five nodes lose the network, the cluster elects two leaders", "distributed systems", True),
        ("Rotate the webhook secret after the credentials leak in a support ticket", "measured performance", False),  # a secret, not memory
        ("The PDF worker has a memory leak: RSS grows 50 MB per job", "measured performance", True),
        ("Fix the link to the install guide in docs/quickstart.mdx", "documentation file", True),
        ("Please fix the links on the FAQ page, they point at the old domain", "documentation only", True),
    ],
)
def test_a_setting_a_machine_a_tree_or_a_leaked_secret_is_not_the_hard_topic(text: str, signal: str, counted: bool) -> None:
    """Set 42 at its first score (2026-12-06): raising a report interval "from 15 min to 5 min" for every field device
    went to haiku as a version bump; "the nodes have 16 cores", said in passing, made a one-value change concurrency and
    distributed-systems work; a leaked credential read as a memory leak. These tickets are written here, not taken from it."""
    assert (signal in _fired(text)) is counted


def test_raising_how_often_every_device_reports_is_not_a_haiku_task() -> None:
    text = "just bump the GPS ping interval from 2 min to 30 secs on the buses, it's `ping_every` in the device profile"
    assert ComplexityEstimator().estimate(text).recommended_model != "haiku"


@pytest.mark.parametrize(
    ("text", "cheap"),
    [
        ("Just a wording change: make the marketing consent checkbox on signup pre-ticked for EU users", False),
        ("Just a copy change: make the Delete account button delete immediately, without the confirm dialog", False),
        ("Just a typo fix: 'recieve' should be 'receive' in the signup email", True),  # the quoted text bears the label out
        ("Quick wording change: the Save button should say 'Save changes'", True),
        ("Tiny wording fix: the checkbox should say 'I agree to share my data with partners' and be checked by default", False),  # a default changed
    ],
)
def test_the_requesters_own_label_is_not_the_change_unless_a_quoted_text_bears_it_out(text: str, cheap: bool) -> None:
    """A review's tickets (2026-12-06): "Just a wording change:" sent a consent default and an account deletion to haiku."""
    assert (_tier(text) == "haiku") is cheap


@pytest.mark.parametrize(
    ("text", "bump"),
    [("Bump the Stripe API version to 2024-06-20", False), ("Bump the GitHub API version header to 2022-11-28", False),
     ("Bump requests to 2.32.3", True)],
)
def test_a_remote_apis_version_is_not_a_pinned_library(text: str, bump: bool) -> None:
    """A dated API version changes how a service we call behaves; a library pin is checked by the tests."""
    assert ("version bump" in _fired(text)) is bump
    assert (_tier(text) == "haiku") is bump


def test_a_document_cited_as_the_specification_of_code_to_change_is_not_a_docs_task() -> None:
    """A review's ticket: "the README says ... make the server enforce" asks for a server change."""
    assert _tier("The README says uploads are limited to 10 MB but the server accepts 100 MB; make the server enforce the 10 MB limit.") != "haiku"
    assert _tier("The README says to run make setup, which doesn't exist; update the README to say make install") == "haiku"


def test_larger_task_objects_must_be_a_list_of_words() -> None:
    with pytest.raises(ConfigError, match="larger_task_objects must be a list"):
        parse_signals(LARGER.replace('larger_task_topics = ["speed"]', 'larger_task_topics = ["speed"]\nlarger_task_objects = "the server"'), "test.toml")


ALARMED_RUNBOOK = ("The cluster deployment runbook is wrong and it caused an outage last quarter when someone followed it: step 4 says "
                   "`kubectl apply -f prod/` with no server-side dry run first. Add a line to the runbook before step 4 telling people "
                   "to run `kubectl apply -f prod/ --dry-run=server` first.")
ALARMED_LINK = ("Our on-call runbook for the payments cluster failover has a broken link to the Grafana dashboard. This runbook is used "
                "during sev1 production incidents when the primary database fails over to the replica in the second region, so a broken "
                "link there costs us minutes during an outage. Please fix the link.")


@pytest.mark.parametrize("text", [ALARMED_RUNBOOK, ALARMED_LINK])
def test_a_long_alarmed_ticket_that_opens_and_ends_on_a_docs_change_is_that_change(text: str) -> None:
    """A review's tickets (2026-12-06): past 40 words the topics of an outage story counted in full, and a broken link
    in a runbook went to opus."""
    assert len(text.split()) > 40
    factors = {f.name: f for f in _estimate(text).factors}
    assert "distributed systems" in factors and "x0.5" in factors["distributed systems"].detail
    assert _tier(text) != "opus"


def test_a_long_report_that_only_opens_on_a_small_change_word_keeps_its_topics() -> None:
    report = ("The export paragraph counter double counts when two workers write the same report at the same time. We see it on "
              "every busy night: the totals drift and the audit job flags them. The counter lives in reports/count.py and the "
              "workers share one connection pool; nobody has looked at the locking since the 2022 rewrite.")
    concurrency = next(f for f in _estimate(report).factors if f.name == "concurrency")
    assert "x0.5" not in concurrency.detail


@pytest.mark.parametrize(
    ("text", "signal", "counted"),
    [
        ("Remove the commented-out mutex and thread pool code at the bottom of worker.c", "mechanical fix", True),
        ("Let's have the field app keep working when the phone has no reception", "state kept in step", True),
        ("the app should still work in airplane mode and upload everything when it reconnects", "state kept in step", True),
        ("Fix the signal handler: there is no signal mask set", "state kept in step", False),
        ("let the bot refund customers itself instead of asking support", "unattended action", True),
        ("stop asking a human to approve payouts under 500 EUR, just send them", "unattended action", True),
        ("Send the weekly report to the team instead of the channel", "unattended action", False),
        ("Change user_id from integer to UUID in every table", "plain values", False),  # the type a stored key becomes
        ("Return None instead of an empty string from parse_name", "plain values", True),
    ],
)
def test_a_third_review_of_plain_words_for_hard_work(text: str, signal: str, counted: bool) -> None:
    """A review's tickets (2026-12-06): no reception, airplane mode, a bot acting itself, an approval no longer asked,
    dead commented-out code, and an id's new type were read as nothing (or as a local value)."""
    assert (signal in _fired(text)) is counted


@pytest.mark.parametrize(
    ("text", "signal", "counted"),
    [
        ("Client.close() raises AttributeError when called twice. At first I suspected a race between the two threads, but it is "
         "not thread-related at all: it happens every time, whenever `close()` is called twice.", "concurrency", False),
        ("Nothing is written, so there is no risk to the production database, no data loss and no schema change; the command "
         "just dies before producing a file.", "production data change", False),
        ("Backfill the new column in batches and make sure there is no risk to the production database while it runs.",
         "production data change", True),  # a requirement, not a denial
        ("It looks like a race between the two workers when both poll the queue at once.", "concurrency", True),  # a lead, not ruled out
        ("We first thought it was a deadlock. It turned out the worker had simply exited.", "concurrency", False),
        ("DST has nothing to do with it: the offset is applied twice.", "time and clocks", False),
        ("The invoice totals were off by a cent, which made us worry about a race between the two billing workers. We checked: "
         "the ledger rows are correct. The PDF template rounds each line with round().", "concurrency", False),
        ("The invoice totals were off by a cent, which made us worry about a race between the two billing workers. We checked "
         "the logs and both workers wrote the same invoice twice.", "concurrency", True),  # the worry borne out
        ("We considered whether the schema migration dropped the index. It did not: the planner picks a seq scan because the "
         "statistics are stale.", "production data change", False),
    ],
)
def test_a_suspicion_the_report_rules_out_is_not_its_subject(text: str, signal: str, counted: bool) -> None:
    """A review's 42 open-source reports (2026-12-06): six one-line fixes went to opus on the guesses their reporters
    made on the way and then ruled out."""
    assert (signal in _fired(text)) is counted


SETTLED_REPORT = """read_csv(nrows=0) raises ZeroDivisionError in the progress estimate

We use `nrows=0` to read only the header of very large CSV files (our benchmark suite loads the schema of about 3,000
files, each 2-4 GB, to keep memory usage down). Since 2.2.0 this raises ZeroDivisionError. I labelled it a performance
regression because our benchmark went from 40 s to failing, and the workaround is noticeably slower. But the bug itself
is just the division in the new chunk-size heuristic added in #56530.

A guard such as `if not nrows: return self._empty_frame()` before the division would restore the old behaviour."""


def test_a_report_that_names_its_cause_and_the_code_change_is_settled() -> None:
    fired = _fired(SETTLED_REPORT)
    assert "fix stated" in fired
    performance = next(f for f in _estimate(SETTLED_REPORT).factors if f.name == "measured performance")
    assert "the cause is found" in performance.detail
    assert _tier(SETTLED_REPORT) != "opus"
    assert "fix stated" not in _fired("The cache refill loses writes under load; a fix probably needs locking around the refill.")
    assert _tier("Clamp the retry count in `retry.py`; `max(0, n)` fixes it") != "haiku"  # never simple by itself


@pytest.mark.parametrize(
    ("text", "signal", "counted"),
    [
        ("Since upgrading from 4.2 to 5.0, makemigrations crashes with a KeyError", "major version upgrade", False),  # the trigger
        ("Since upgrading from 4.2 to 5.0, makemigrations crashes with a KeyError", "regression after a change", True),
        ("Upgrade Django from 4.2 to 5.0", "major version upgrade", True),
        ("**What did you do?**\nOpened a file.\n**What did you expect to happen?**\nIt opens.", "open questions", False),  # a template
        ("Can we shard the events table?", "open questions", True),
        ("The other typo in that message could be fixed at the same time.", "concurrency", False),  # in the same change
        ("Two editors saved the same page at the same time and one edit was lost.", "concurrency", True),
        ("Make the sum of boolean arrays an int64: the default integer is int32 on Windows but int64 on Linux.", "plain values", False),
        ("Make the sum of boolean arrays an int64: the default integer is int32 on Windows but int64 on Linux.", "reproducible report", False),
        ("Return None instead of an empty string from parse_name", "plain values", True),
    ],
)
def test_a_fourth_review_of_long_open_source_reports(text: str, signal: str, counted: bool) -> None:
    """A review's 42 open-source reports (2026-12-06): the upgrade that triggered a bug counted as the work, bold
    template questions as open questions, an idiom as concurrency, and a library's types and platforms as a report's detail."""
    assert (signal in _fired(text)) is counted


@pytest.mark.parametrize(
    ("text", "signal"),
    [
        # None says "typo" or "spelling": a quoted word and its correction one letter apart say it for them.
        ('The order confirmation email reads "Thank you for your bussiness", it should be "Thank you for your business"', "misspelling corrected"),
        ("Error message says `Invalid adress` instead of `Invalid address`", "misspelling corrected"),
        ("Settings screen: the toggle is labelled 'Notifcations', please make it 'Notifications'", "misspelling corrected"),
        ("The export's header row has “Quanitty” where the import template expects “Quantity”.", "misspelling corrected"),
        # No "typo" or "wording": the quoted prose and its replacement say it.
        ("Change 'Continue to payment' to 'Review order' on the checkout button", "quoted text replaced"),
        ('The empty-state message should say "No invoices yet" instead of "Nothing here"', "quoted text replaced"),
        ("Please update the page title from 'My Account' to 'Account settings'", "quoted text replaced"),
        # A change a tool checks again.
        ("Add .idea/ and *.swp to .gitignore", "mechanical fix"),
        ("Remove the console.log calls left in the cart drawer", "mechanical fix"),
        ("Fix the flake8 E501 warnings in cli/main.py", "lint findings"),
        ("Clean up what eslint flags in src/widgets", "lint findings"),
        ("Fix the mypy errors in reports/export.py", "lint findings"),
    ],
)
def test_a_small_change_said_without_its_usual_words_is_seen_and_sent_to_haiku(text: str, signal: str) -> None:
    assert signal in _fired(text)
    assert _tier(text) == "haiku", text


@pytest.mark.parametrize(
    "text",
    [
        "Rename the `wspace` argument to `hspace` in the grid layout",  # a first letter changed: another word
        "The US site should say 'meter' where the UK one says 'metre'",  # the last letters swapped: a locale's word
        'Searching for "Zurich" must also find "Zürich"',  # an accent dropped: collation work
        "Rename the `status` field of the public Order API to `state`",  # two letters apart: another word
        'Change "form" to "from" in the email subject',  # too short to tell a misspelling from a word
    ],
)
def test_words_one_letter_apart_at_an_end_with_an_accent_or_short_are_not_a_misspelling(text: str) -> None:
    assert "misspelling corrected" not in _fired(text)


def test_a_misspelling_corrected_beside_other_work_is_a_step_of_that_work() -> None:
    """The correction is a small change like a typo: beside a request for other work it does not make the task simple."""
    text = ('Add per-tenant rate limiting to the public API gateway with a shared quota in Redis, and fix the '
            'error text "Rate limt exceeded" to "Rate limit exceeded"')
    assert _estimate(text).complexity_level != "simple"


_LETTERS = st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=5, max_size=12)


@given(_LETTERS, st.data())
def test_one_inner_edit_of_a_word_is_found_whichever_text_comes_first(word: str, data: st.DataObject) -> None:
    i = data.draw(st.integers(1, len(word) - 2), label="inner position")
    letter = data.draw(st.sampled_from("abcdefghijklmnopqrstuvwxyz"), label="letter")
    edits = [word[:i] + word[i + 1 :], word[:i] + letter + word[i:], word[:i] + letter + word[i + 1 :]]
    if i + 1 < len(word) - 1:
        edits.append(word[:i] + word[i + 1] + word[i] + word[i + 2 :])
    for edited in edits:
        if edited == word or len(edited) < 5:
            continue
        said, correct = f"the {edited} button", f"the {word} button"
        expected = [" / ".join(sorted((edited, word)))]
        assert misspellings([said, correct]) == misspellings([correct, said]) == expected


@given(_LETTERS, st.sampled_from("abcdefghijklmnopqrstuvwxyz"))
def test_an_edit_of_a_words_first_or_last_letter_or_of_two_words_is_not_a_misspelling(word: str, letter: str) -> None:
    at_ends = []
    if letter != word[0]:
        at_ends += [letter + word[1:], letter + word]
    if letter != word[-1]:
        at_ends += [word[:-1] + letter, word + letter]
    for edited in at_ends:
        assert misspellings([word, edited]) == [], edited
    inner = word[:2] + word[3:]
    assert misspellings([f"{word} {word}", f"{inner} {inner}"]) == []  # two words changed: not one misspelt
    assert misspellings([word, word]) == []


@pytest.mark.parametrize(
    ("text", "major"),
    [
        ("Dockerfile: bump node:16 -> node:20", True),
        ("upgrade postgres:13 to postgres:16 in docker-compose.yml", True),
        ("Bump ghcr.io/acme/base:1.4 to ghcr.io/acme/base:2.0", True),
        ("Bump redis:7.0 to redis:7.2 in docker-compose.yml", False),  # the same major: a version bump
        ("Move the proxy from localhost:8080 to localhost:9090", False),  # a port, not a tag
        ("Update the channel's destination from 10.40.1.22:6661 to 10.40.2.15:6661", False),  # an address
    ],
)
def test_an_image_tags_new_major_number_is_a_major_upgrade(text: str, major: bool) -> None:
    """A base image's tag names the runtime everything in it runs on: node:16 to node:20 is a major upgrade told as a bump."""
    assert ("major version upgrade" in _fired(text)) is major


def test_a_rename_users_are_to_be_able_to_do_is_a_feature_not_a_code_rename() -> None:
    for feature in ("Allow users to rename their playlists", "Let package owners rename their packages from the settings page",
                    "Add an option to rename a saved search", "Admins should be able to rename a workspace"):
        assert "rename or move" not in _fired(feature), feature
        assert _estimate(feature).complexity_level != "simple", feature
    assert "rename or move" in _fired("Rename the getUser helper to fetchUser")


@pytest.mark.parametrize(
    ("text", "signal", "counted"),
    [
        ("see Dana's comment in the thread: the nightly job is fine, only the label is wrong", "concurrency", False),
        ("Ops replied in thread: the export ran fine", "concurrency", False),
        ("Move the upload to a separate thread", "concurrency", True),
        ("The batch runs in a background thread and two threads write the same row", "concurrency", True),
        ("typo in the scoring: a DNF should score starters + 1, not entrants + 1", "typo or wording", False),
        ("Typo in the late-fee calculation: it charges 0.5% per day where the contract says 0.05%", "typo or wording", False),
        ("Typo in the pricing page heading: 'Anual plan' should read 'Annual plan'", "typo or wording", True),
        ("Typo in the totals column header of the export", "typo or wording", True),
    ],
)
def test_a_chat_thread_is_no_concurrency_and_a_wrong_rule_called_a_typo_is_no_wording_change(text: str, signal: str, counted: bool) -> None:
    """Set 46, read after its blind score: "reply in thread" made a dashboard's default range concurrency work, and "typo in
    the scoring" (a DNF scored from the wrong count) a wording change sent to haiku."""
    assert (signal in _fired(text)) is counted


@pytest.mark.parametrize(
    "hard",
    [
        "Typo in the database column name `shiped_at` on the orders table",
        "The JSON field `recipent` in the webhook payload is misspelt; rename it to `recipient` in the API response",
        "Reword the error codes the public API returns from 'not_found_error' to 'resource_missing'",
        "Update the README to say the legacy export is gone and delete the export routes",
        "Bump the schema version of the Order proto and delete field 4",
        "Update the link colour across every white-label storefront theme",
        "Reduce the font size of the dosage on the printed pharmacy labels from 11pt to 9pt",
    ],
)
def test_a_small_looking_change_to_a_stored_or_wire_name_a_shared_design_or_a_dose_is_not_sent_to_haiku(hard: str) -> None:
    """A review's tickets (2026-12-06, its own wording; these are ours): a small change's signal fired, but what it changes is
    read by machines (a column, an API field or code, a schema), asked for beside other work, shared by every customer,
    or a patient's dose: a wrong edit breaks clients or harms someone."""
    assert _tier(hard) != "haiku", hard


@pytest.mark.parametrize(
    "simple",
    [
        "Typo in the settings page heading: 'Notifcations' should be 'Notifications'",
        "Fix typo 'seperate' -> 'separate' in the docstring of Cart.split",
        "Rename the CSS class .card-titel to .card-title in Card.module.css and its one use",
        "Change the button colour on the sign-up page to the brand green",
    ],
)
def test_the_same_kinds_of_small_change_on_text_people_read_still_go_to_haiku(simple: str) -> None:
    assert _tier(simple) == "haiku", simple


@pytest.mark.parametrize(
    ("text", "signal"),
    [
        ("Rename the atomic design folders in Storybook from Atoms to Basics", "concurrency"),
        ("Balance the two columns of the pricing section so they are the same width", "money"),
        ("Put the production company's name in the credits footer", "production risk"),
        ("The Secret Santa page title is cut off on mobile", "security and cryptography"),
    ],
)
def test_everyday_senses_a_review_found_are_not_the_hard_topic(text: str, signal: str) -> None:
    assert signal not in _fired(text)


@pytest.mark.parametrize(
    "text",
    [
        "Change the status values from 'in_progress' to 'active' in the orders API",  # a value clients match on
        "Replace 'config.timeout' with 'config.http.timeout' everywhere",  # a dotted name: code
        "Rename the 'Security' role to 'Admin'",  # one word each: a name, not prose
    ],
)
def test_code_names_and_single_words_in_quotes_are_not_prose_replaced(text: str) -> None:
    assert "quoted text replaced" not in _fired(text)


@pytest.mark.parametrize(
    "text",
    [
        "pylint crashes with a RecursionError when a class inherits from itself through an alias",  # the linter's own bug
        "Add a CI job that runs eslint over the monorepo and fails the build on warnings",  # new tooling
        "Set up ruff for the whole repository and fix what it reports",
        "parse_duration('1h 30m') raises ValueError: accept optional whitespace between units",  # input a parser reads
    ],
)
def test_a_linters_own_bug_new_tooling_and_whitespace_a_parser_reads_are_not_a_tool_checked_change(text: str) -> None:
    assert not {"mechanical fix", "lint findings"} & _fired(text), text
    assert _tier(text) != "haiku", text


def test_a_dotted_name_renamed_is_a_column_or_field_and_a_file_name_is_not() -> None:
    """Set 46 at its blind first score: "Rename `titles.isbn` -> `isbn13`" went to haiku as a mechanical rename."""
    for stored in ("Rename `Invoice.amount` to `Invoice.amount_minor`", "rename customers.phone to customers.mobile_phone"):
        assert "rename or move" not in _fired(stored), stored
        assert _tier(stored) != "haiku", stored
    for code in ("Rename config.py to settings.py", "Rename the loadUser helper to fetchUser"):
        assert "rename or move" in _fired(code), code


def test_a_new_major_versions_number_is_no_target_value_and_a_minor_bumps_still_is() -> None:
    """Set 47, read after its blind score: "bump postgres from 12.17 to 16.2" took the target value's -14 beside the major
    upgrade's +24, so a major upgrade netted below the base (sonnet 32, a critical task)."""
    major = "chore(deps): bump mysql from 5.7.44 to 8.0.36 in /db"
    assert "target given" not in _fired(major) and "major version upgrade" in _fired(major)
    assert "target given" in _fired("Bump lodash from 4.17.20 to 4.17.21")
    assert "target given" in _fired("Change the sampling rate from 1.5 to 2.5")
    assert _estimate(major).complexity_score >= _estimate("Bump lodash from 4.17.20 to 4.17.21").complexity_score + 30


def test_a_rename_of_plans_tiers_roles_or_statuses_renames_stored_values() -> None:
    """A review of hard tasks (its own tickets; these are ours): renamed plan tiers went to haiku as a mechanical rename,
    though billing, permissions and every client hold those names."""
    for stored in ("Rename the plans: 'Basic' becomes 'Starter' and the old 'Starter' becomes 'Plus'",
                   "Rename the 'Editor' role to 'Contributor'", "Rename the order statuses 'shipped' and 'sent' to one 'dispatched'"):
        assert "rename or move" not in _fired(stored), stored
        assert _tier(stored) != "haiku", stored


@pytest.mark.parametrize(
    ("text", "everyone"),
    [
        ("Flip the new-checkout flag to 100% on Monday", True),
        ("Turn the smart-reorder feature on for all customers", True),
        ("Roll the redesigned invoice emails out to everyone", True),
        ("Raise the unit test coverage threshold to 100%", False),  # a number, not a switch that reaches people
        ("Set the default zoom to 100%", False),
    ],
)
def test_a_switch_that_reaches_everyone_at_once_acts_on_the_whole_population(text: str, everyone: bool) -> None:
    """A review of hard tasks: "flip the new pricing flag to 100%" read as a target value only (sonnet 32), while the same
    work said as a roll-out to all users counted its reach."""
    assert ("whole population" in _fired(text)) is everyone


@pytest.mark.parametrize(
    ("text", "security"),
    [
        ("Let the support team impersonate a customer to reproduce their bug", True),
        ("Share button: anyone with the link can open the report", True),
        ("The admin search shows other organisations' invoices", True),
        ("1. Log in as a user with the editor role\n2. Open settings: the Save button is grey", False),  # a step to reproduce
    ],
)
def test_who_may_act_as_or_see_whom_said_plainly_is_security(text: str, security: bool) -> None:
    """A review of hard tasks: access across accounts told without jargon ("log in as any user", "anyone with the
    link", "other orgs' data") counted nothing."""
    assert ("security and cryptography" in _fired(text)) is security


def test_a_pasted_log_quoting_thousands_of_texts_is_measured_without_comparing_all_their_pairs() -> None:
    """Linear enough on a long paste: the misspelling pairs are looked for among the first texts only."""
    log = "\n".join(f'INFO worker said "job {i} finished" and "job {i} finsihed"' for i in range(5000))
    assert "misspelling corrected" in _fired(log)  # found among the first texts
    assert len(misspellings([f"w{i} alpha" for i in range(10_000)])) == 0


@pytest.mark.parametrize(
    "simple",
    [
        "In api/pagination.py, change DEFAULT_PAGE_SIZE from 20 to 50",
        "Lower `retryBackoffMs` in config/http.ts from 800 to 400",
        "Raise the thumbnail cache size from 64 to 128 MB in settings/media.yaml",
        "blog: bump MAX_TAGS_PER_POST from 10 to 20 in blog/settings.py, nothing else",
    ],
)
def test_a_settings_number_changed_where_it_is_named_is_one_value_and_goes_to_haiku(simple: str) -> None:
    """Round 23's review of simple tasks that miss haiku: a number set from one value to another with its file or constant
    named was held at 30 as a bare target value ("simple needs a small change"); the place named is the search done."""
    assert "setting in a named place" in _fired(simple), simple
    assert _tier(simple) == "haiku", simple


@pytest.mark.parametrize(
    "text",
    [
        "Update platelet expiry from 5 to 7 days",  # a value without its place: what to change, not where
        "The nightly `ledger_rollup` job went from 12 min to 3 hours since Friday",  # a measurement, not a change asked
        "Set ENABLE_NEW_CHECKOUT from 0 to 1 in config/flags.py",  # a flag turned on
        "Tweak the shard count on the `orders` topic from 12 to 48",  # a plain word in quotes names a topic, not a setting
        "Bump lodash from 4.17.20 to 4.17.21 in package.json",  # a version
    ],
)
def test_a_measurement_a_flag_a_version_or_a_value_without_its_place_is_no_named_setting(text: str) -> None:
    assert "setting in a named place" not in _fired(text), text


def test_a_one_line_change_said_once_counts_once_and_keeps_its_subject() -> None:
    """Set 49 at its blind first score: "Update the default derivation path ... It's DEFAULT_PATH in wallet/keys.ts, one line
    change" (a wallet's funds) went to haiku: "one line change" counted three times (a solution given, a fix stated, a small
    scope stated), and a stated small scope halved the subject as a typo does. One line of a behaviour still carries it."""
    text = "Change how refunds round to whole cents, it's a one line change in refunds/calc.py"
    assert {"solution given", "fix stated", "small scope stated"} & _fired(text) == {"small scope stated"}
    assert _tier(text) != "haiku"
    (money,) = _hits_of(text, "money")
    assert money.scale == 1.0
    assert _tier("Fix the typo in the refund email's subject line") == "haiku"  # a wording change still halves its subject


@pytest.mark.parametrize(
    ("text", "major"),
    [
        ("Bump node from 18 to 20 in the Dockerfile", True),
        ("Bump the Java version from 11 to 17 in build.gradle", True),
        ("bump postgres 12 -> 16 on the reporting replica", True),
        ("Bump versionCode from 41 to 42 for the store release", False),  # a build number
        ("bump max players from 8 to 10 in lobby_config.json", False),  # a setting
        ("Bump node from 20.11 to 20.12", False),  # the same major
    ],
)
def test_a_runtime_or_databases_whole_number_versions_are_majors(text: str, major: bool) -> None:
    """Runtimes, databases and frameworks number their majors with whole numbers (Node 18, Java 17, Postgres 16): "bump
    node from 18 to 20" is a major upgrade told as a bump, and went to haiku as a version bump."""
    assert ("major version upgrade" in _fired(text)) is major, text
    if major:
        assert _tier(text) != "haiku", text


@pytest.mark.parametrize(
    ("text", "signal", "counted"),
    [
        ("Couriers say the tips customers add at checkout never reach their weekly pay", "money", True),
        ("Work out which members were overcharged last quarter and credit them", "money", True),
        ("Let shoppers stack a promo code on top of store credit", "money", True),
        ("Pay attention to the retry logic when you refactor the sync worker", "money", False),
        ("Add a tips and tricks section to the onboarding screen", "money", False),
        ("Show read receipts in the chat thread list", "money", False),
        ("Treat an empty string and a missing value the same for a customer's phone number", "stored meaning redefined", True),
        ("From next month a member counts as lapsed after 60 days without a visit", "stored meaning redefined", True),
        ("Merge the duplicate supplier records the two offices created", "stored meaning redefined", True),
        ("A technician can now belong to more than one depot", "stored meaning redefined", True),
        ("Treat warnings as errors in the release build", "stored meaning redefined", False),
        ("Merge the duplicate customer rows in my notebook before plotting", "stored meaning redefined", False),
        ("Branch managers should only see their own branch's timesheets", "security and cryptography", True),
        ("People who left the company can still see the shared client folders", "security and cryptography", True),
        ("Assistants need to book travel on their behalf", "security and cryptography", True),
        ("Guests can still see the old promo banner after it ends", "security and cryptography", False),
    ],
)
def test_money_a_stored_meaning_and_who_may_see_what_said_in_everyday_words(text: str, signal: str, counted: bool) -> None:
    """A review of hard tasks told in plain words (2026-12-07, its own tickets; these are ours): tips missing from pay, a
    record's meaning redefined ("treat empty string and null the same for customer email" went to haiku), who may see
    whose records: the jargon of each reached opus, the everyday words counted nothing."""
    assert (signal in _fired(text)) is counted, text


def test_a_stored_meaning_said_plainly_is_not_a_small_plain_value_change() -> None:
    text = "Treat an empty string and a missing value the same for a customer's phone number"
    assert _tier(text) != "haiku"
    assert "stored meaning redefined" not in _fired("Return None instead of an empty string from format_phone()")


@pytest.mark.parametrize(
    ("text", "signal", "counted"),
    [
        ("Two dispatchers assigned the same van around the same time and both drivers turned up", "contention", True),
        ("The last table for Friday got reserved twice, the bookings came in a few minutes apart", "contention", True),
        ("When two coaches edit the roster, whoever saves last wins and the other's changes just disappear", "contention", True),
        ("We oversold the workshop: 40 tickets for 30 seats", "contention", True),
        ("Checked the orders: nothing was oversold, only the counter on the page is off", "contention", False),
        ("It doesn't happen every time and there's no pattern we can see", "cause unknown", True),
        ("The sync stopped for two days and then fixed itself. How does that even happen?", "cause unknown", True),
        ("Drivers lose signal in the tunnels and the app catches up later, then the stops are out of order", "state kept in step", True),
        ("We're switching from Freshdesk to Help Scout at the end of the quarter", "provider switch", True),
        ("Move the weekly report from Monday to Friday", "provider switch", False),
        ("Move cards from Review to Done when the PR merges", "provider switch", False),
        ("Move cards from Review to Done when the PR merges", "solution given", False),  # when it runs, not a PR offered
    ],
)
def test_two_at_once_an_unknown_cause_work_kept_offline_and_a_provider_swap_said_in_everyday_words(text: str, signal: str, counted: bool) -> None:
    """The same review (2026-12-07): the jargon (race condition, intermittent, offline-first, migrate to a new provider)
    reached opus; "whoever saves last wins", "no pattern we can see", "catches up later", "switching from A to B" counted
    nothing. A negated one ("nothing was oversold") is the opposite."""
    assert (signal in _fired(text)) is counted, text


def test_a_label_replaced_with_an_arrow_is_text_people_read() -> None:
    assert "quoted text replaced" in _fired('Receipt footer wording: "Thanks for visiting" -> "Thank you for visiting"')
    assert "quoted text replaced" not in _fired("Map the status 'in_review' -> 'pending_review' in the sync job")


@pytest.mark.parametrize(
    ("text", "counted"),
    [
        ("Wholesalers load the nightly price file straight into their own systems, so the new columns go at the end", True),
        ("Our accountants' software imports the VAT export every month; change the date format in it", True),
        ("Fix the supplier stock import: blank quantities become zero", False),  # we read their feed: our import, not their reader
        ("Change the sender name of the partner newsletter email", False),
    ],
)
def test_another_firms_software_reading_our_output_is_a_published_format(text: str, counted: bool) -> None:
    """The same review (2026-12-07): "partners pull orders from us every hour" and "lots of firms rely on it" changed a
    published format told in plain words, where "wire format" or "clients depend on" counted."""
    assert ("outside readers" in _fired(text)) is counted, text
    if counted:
        assert _tier(text) != "haiku", text


@pytest.mark.parametrize(
    ("text", "signal"),
    [
        ("Make the 'Renew now' banner blue instead of red", "visual tweak"),
        ("Show the author's name in bold on the article card", "visual tweak"),
        ("Make the Help link a bit larger in the footer", "visual tweak"),
        ("Replace the icon on the 'Upload' button with the cloud one", "visual tweak"),
        ("Change the 'Order placed' message to 'Thanks, we have your order'", "quoted text replaced"),
        ("Change the subject line of the reminder email from 'Reminder' to 'Your visit is tomorrow'", "quoted text replaced"),
    ],
)
def test_a_colour_a_weight_a_size_an_icon_or_a_quoted_message_is_a_small_change(text: str, signal: str) -> None:
    """The same review's look-alikes (simple tickets in the same plain words): 43 of 60 went to sonnet at 30, as a colour
    named (green, not "colour"), bold, "a bit larger", a new icon, or a quoted message with its element's name between
    the two texts were not seen as the small changes they are."""
    assert signal in _fired(text), text
    assert _tier(text) == "haiku", text


def test_a_look_changed_everywhere_or_beside_other_work_is_not_a_tweak() -> None:
    for text in ("Change the icon set across the whole app and the Android widget", "Make the buttons green for all 40 storefront themes"):
        assert "visual tweak" not in _fired(text), text


@pytest.mark.parametrize(
    ("text", "signal", "counted"),
    [
        ("Close every dormant savings account and move the balances to the suspense ledger", "whole population", True),
        ("Re-assign all of Priya's 2,300 tenants to the new property manager", "whole population", True),
        ("Delete all unused imports in the billing package", "whole population", False),  # code, not records
        ("In the test environment, delete all the accounts the load test created", "whole population", False),
        ("In the test environment, delete all the accounts the load test created", "destructive operation", False),
        ("Can one booking have more than one therapist?", "stored meaning redefined", True),
        ("Renumber the allotment plots to the council's new survey numbers", "stored meaning redefined", True),
        ("Renumber the footnotes in the user guide", "stored meaning redefined", False),
        ("change customer_id from int to uuid in the loyalty service", "stored data reshaped", True),
        ("We keep selling the same pitch twice at the weekend market", "contention", True),
        ("Online and in-room bidders compete and whoever bids first at a price wins", "contention", True),
        ("The tasting menu should list allergens next to each course", "safety and regulation", True),
        ("Once both sides sign, the lease is legally binding", "safety and regulation", True),
        ("Two percent of nightly imports die with a lock timeout; root-cause it", "cause unknown", True),
        ("Silence the unused variable warning in sensor.c", "mechanical fix", True),
    ],
)
def test_bulk_record_changes_cardinality_keys_sales_and_legal_duties_said_plainly(text: str, signal: str, counted: bool) -> None:
    """Sets 50 and 51, read after their blind first scores, and the plain-words review: a bulk action on any kind of record
    (not only users or accounts), "can one X have more than one Y", plots renumbered that everything else goes by, a key
    widened from int, the same seat sold twice, a legal duty said as a solicitor's or a licence's, "root-cause" as a verb,
    a compiler warning (not a release blocker). Not: code, a scratch environment, a document's own numbering."""
    assert (signal in _fired(text)) is counted, text


def test_a_settings_code_name_with_its_old_and_new_number_names_its_place() -> None:
    """Set 51, read after its blind first score: "refresh_interval 1s -> 30s" (a setting's code name is where it lives)."""
    for named in ("cache_ttl_seconds: 300 -> 600", "set maxRetries to 5 in the upload client", "`workerCount` 4 → 8"):
        assert "setting in a named place" in _fired(named), named
    for other in ("node_version: 16 -> 20", "set ENABLE_BETA_SEARCH=1 for everyone", "scores went from 300 -> 600 overnight"):
        assert "setting in a named place" not in _fired(other), other


@pytest.mark.parametrize(
    "simple",
    [
        "In web/feed.py, change FEED_PAGE_SIZE from 25 to 40.",  # the sentence's full stop
        "Change the banner delay from 3s to 5s in ui/banner.ts",  # a unit on both numbers
        "Raise MAX_AVATAR_KB from 200KB to 500KB in config/media.py",
        "thumb_quality 70 -> 85.",
        "Bump the job timeout in .gitlab-ci.yml from 20m to 40m",  # a dotfile is a file too
    ],
)
def test_a_named_settings_new_number_may_carry_its_unit_or_end_the_sentence(simple: str) -> None:
    """Found by probing this signal with tickets of my own: the new number had to stand bare before a space, so "from 20
    to 50." (a sentence's full stop) and "from 3s to 5s" (a unit on both) were no named setting and went to sonnet; nor
    was a file whose name starts with a dot (.gitlab-ci.yml, .eslintrc.json) a place."""
    assert "setting in a named place" in _fired(simple), simple
    assert _tier(simple) == "haiku", simple


def test_a_version_is_still_no_named_setting_when_its_number_ends_the_sentence() -> None:
    for version in ("In setup.py change python_requires from 3.8 to 3.9.1.", "In pyproject.toml set MIN_PY from 3.9 to 3.10.2"):
        assert "setting in a named place" not in _fired(version), version


def test_a_pattern_runs_only_where_its_region_holds_what_it_needs() -> None:
    """`needs` spares a slow pattern the descriptions it cannot match; where the needed text is missing nothing fires."""
    signals = parse_signals(_one('pattern = "\\\\bport\\\\s+\\\\d+"\nneeds = "\\\\bfrom\\\\b"'), "test.toml")
    assert hits(signals, "move port 80 somewhere") == []
    assert hits(signals, "move port 80 from the proxy")[0].words == ("port 80",)


@pytest.mark.parametrize(
    ("text", "signal"),
    [
        ("Counselling notes should be hidden from staff outside the wellbeing team", "security and cryptography"),
        ("Make salary slips only visible to the employee and payroll", "security and cryptography"),
        ("Show the infusion rate in ml/h on the pump's summary screen", "safety and regulation"),
        ("Checksum each block so recovery can tell torn writes from good ones", "state kept in step"),
    ],
)
def test_who_may_see_a_record_a_dose_rates_unit_and_torn_writes_said_plainly(text: str, signal: str) -> None:
    """Set 49's misleading third, read after its blind first score: psychiatric notes hidden from other departments, an
    infusion rate's unit, a page checksum against torn writes went to sonnet on 'quick one' and 'tiny UI change'."""
    assert signal in _fired(text), text


def test_a_named_settings_number_under_a_new_regulation_is_not_a_small_change() -> None:
    """Set 52 at its blind first score: "Just update MIN_REST_HOURS from 10 to 12 in rules/rest.py, the new regulation
    kicks in on the 1st" (a flight crew's legal rest) went to haiku on the named setting; "regulation" counted nothing."""
    text = "Set EXPORT_WINDOW_HOURS from 12 to 10 in config/export.py, the new regulation applies from March"
    assert {"setting in a named place", "safety and regulation"} <= _fired(text)
    assert _tier(text) != "haiku"
    assert _tier("Set EXPORT_WINDOW_HOURS from 12 to 10 in config/export.py") == "haiku"


def test_a_business_rules_number_is_not_a_named_setting_even_where_its_file_is_named() -> None:
    """Set 52's crew rest hours without the word "regulation": a number people are paid, charged, dosed or rostered by,
    named by its rule's file or constant, is a rule to change, not a knob of the software."""
    for rule in ("Just update MIN_SHIFT_REST_HOURS from 11 to 12 in rostering/rules.py", "Change LATE_FEE_PERCENT from 2 to 3 in config/settings.py",
                 "Set the member discount in pricing/loyalty.yaml from 10 to 15"):
        assert "setting in a named place" not in _fired(rule), rule
        assert _tier(rule) != "haiku", rule
    assert "setting in a named place" in _fired("Change MAX_UPLOAD_MB from 25 to 50 in config/settings.py")


def test_a_sign_in_control_or_datas_lifetime_is_no_named_setting_and_a_constant_is_no_version() -> None:
    """Probed with tickets of my own: "Change MAX_LOGIN_ATTEMPTS from 5 to 10 in auth/settings.py" and "RETENTION_DAYS from
    90 to 30" (a purge acts on it) went to haiku as knobs; "Bump LATE_FEE_PERCENT from 2 to 3" went there as a version bump,
    past the business-rule guard. A guard reads whole parts of a name: FEED_PAGE_SIZE in web/feed.py is no fee."""
    for control in ("Change MAX_LOGIN_ATTEMPTS from 5 to 10 in auth/settings.py", "In settings.py change PBKDF2_ITERATIONS from 100000 to 600000",
                    "Change RETENTION_DAYS from 90 to 30 in jobs/cleanup.py", "set sessionTimeoutMinutes to 60 in config/app.ts"):
        assert "setting in a named place" not in _fired(control), control
        assert _tier(control) != "haiku", control
    for rule in ("Bump LATE_FEE_PERCENT from 2 to 3 in config/settings.py", "Bump MAX_LOGIN_ATTEMPTS from 5 to 10 in auth/settings.py"):
        assert "version bump" not in _fired(rule), rule
        assert _tier(rule) != "haiku", rule
    assert "version bump" in _fired("Bump NODE_VERSION from 18 to 20 in .github/workflows/ci.yml")
    for knob in ("In web/feed.py, change FEED_PAGE_SIZE from 25 to 40", "Change tokenizer max_tokens from 512 to 1024 in configs/model.yaml"):
        assert "setting in a named place" in _fired(knob), knob


def test_a_diff_in_a_rules_file_is_a_rule_changed_not_one_value() -> None:
    """Set 54 at its blind first score: a pension fund's arrears grace period, 30 to 45 days, pasted as a two-line diff
    under config/rules/contributions.yaml, went to haiku as one value changed; the guard of the named setting did not
    reach a diff (its file named on a line of its own)."""
    rule = "Quick tweak agreed by the board:\n\n  config/rules/loans.yaml\n  -  MAX_TERM_MONTHS: 36\n  +  MAX_TERM_MONTHS: 48\n"
    assert "one value changed" not in _fired(rule)
    assert _tier(rule) != "haiku"
    knob = "Show more rows per page:\n\n  config/ui.yaml\n  -  rows_per_page: 20\n  +  rows_per_page: 50\n"
    assert "one value changed" in _fired(knob)
    login = "Ops asked for this:\n```\n- maxFailedLogins: 5\n+ maxFailedLogins: 8\n```"
    assert "one value changed" not in _fired(login)


def test_interest_compounded_or_in_arrears_is_money() -> None:
    """Set 55 at its blind first score: "just flip the interest calc to daily compounding instead of monthly ... should
    be a one line change in accrual.py" (every member's balance) went to haiku; compounding and arrears were no money."""
    for text in ("switch the savings interest calc from simple to compound interest, one line in interest.py",
                 "Members in arrears for more than 60 days should get the second reminder letter"):
        assert "money" in _fired(text), text
        assert _tier(text) != "haiku", text
    assert "money" not in _fired("Retries with a fixed delay are compounding delays across the three services")


def test_a_dotted_version_past_a_workers_image_is_a_major_upgrade_and_a_count_is_not() -> None:
    """Set 54, read after its blind first score: "just bump ffmpeg in the transcode worker image from 4.4 to 6.1" went to
    sonnet at 30 as a plain bump: "worker" stopped the major upgrade's reading as a capacity (bump workers from 4 to 6),
    yet a count of workers, replicas or shards is never a dotted number."""
    assert "major version upgrade" in _fired("Bump imagemagick in the render worker image from 6.9 to 7.1")
    assert "major version upgrade" in _fired("upgrade the libvips used by the thumbnail workers from 7.2 to 8.15")
    for count in ("bump the worker count from 4 to 6", "Bump the shard count on the orders topic from 12 to 48"):
        assert "major version upgrade" not in _fired(count), count


def test_deposits_and_coins_are_money() -> None:
    """Set 54, read after its blind first score: "set btc.REQUIRED_CONFIRMATIONS from 6 to 2 so deposits credit faster"
    (a chain reorganisation then takes money already withdrawn) went to haiku as a named setting; deposits were no money."""
    text = "In chains.yaml set eth.MIN_CONFIRMATIONS from 12 to 3 so customer deposits show up sooner"
    assert "money" in _fired(text)
    assert _tier(text) != "haiku"
    assert "money" in _fired("Security deposits for holiday lets should be held until checkout plus 7 days")


def test_a_code_name_in_camel_case_is_no_concept_word() -> None:
    """Set 54, read after its blind first score: "In web/src/pages/Transactions/TransactionsTable.tsx change DEFAULT_PAGE_SIZE
    from 25 to 50" went to sonnet: the long names of the code counted as concepts and held a named setting off haiku."""
    text = "In web/src/pages/Invoices/InvoicesOverviewTable.tsx change ROWS_PER_PAGE from 25 to 50"
    assert all("invoicesoverviewtable" not in h.words for h in _hits_of(text, "many concepts"))
    assert _tier(text) == "haiku"
    (concepts,) = _hits_of("Reconciliation of each Settlement batch", "many concepts")
    assert set(concepts.words) == {"reconciliation", "settlement"}  # capitalised words still count


def test_a_word_widened_by_a_prefix_is_still_its_subject() -> None:
    """Set 55, read after its blind first score: "just add multi-currency to the cart" counted no money (a hyphen before a
    word made it part of a longer one); multi-, cross- and inter- only widen the word, non- or re- would change it."""
    assert "money" in _fired("Support multi-currency for the EU shop")
    assert "production data change" in _fired("Add cross-shard totals to the report")
    assert "money" not in _fired("Rename the non-currency fields in the export")


def test_deleting_blobs_or_orphans_in_bulk_is_destructive() -> None:
    """Set 55, read after its blind first score: "write a job that deletes blobs that aren't referenced in the metadata db
    ... run it on all regions" counted nothing destructive: blobs and orphans were no stored objects."""
    for text in ("Add a cron that purges blobs older than 90 days from cold storage", "Nightly: delete orphans from the uploads bucket"):
        assert "destructive operation" in _fired(text), text


@pytest.mark.parametrize(
    "rule",
    [
        "payout_hold_days: 7 -> 2",  # snake_case
        "In config/lending.ts set maxLoanTermMonths from 36 to 48",  # camelCase
        "pump/limits.yaml: insulinMaxUnitsPerHour 12 -> 15",
        "Change DEFAULT_SURCHARGE_FEES_CENTS from 30 to 45 in shop/config.py",
        "replication_factor 3 -> 2 in kafka/topics.yaml",  # a write's durability
        "In db/client.ts set writeConcern to 2",
        "Set GRACE_DAYS from 5 to 7 in config/app.py",  # the last stop's note: a rule named without domain words
    ],
)
def test_a_setting_whose_name_names_a_rule_or_a_safeguard_is_no_named_setting(rule: str) -> None:
    """A review's tickets (its own, 2026-12-07): a rule or a safeguard named in code (refund_window_days, maxBolusUnits,
    min_insync_replicas, interestRate) went to haiku as a knob: the guards read only UPPER_SNAKE names and file names,
    and only some of their parts."""
    assert "setting in a named place" not in _fired(rule), rule
    assert _tier(rule) != "haiku", rule


def test_a_name_part_is_whole_and_an_alerting_rules_file_is_no_business_rule() -> None:
    for knob in ("In web/feed.py, change FEED_PAGE_SIZE from 25 to 40", "Change the warning threshold in alerts/disk.rules.yml from 80 to 90",
                 "gallery/config.ts: thumbnailsPerRow 4 -> 6"):
        assert "setting in a named place" in _fired(knob), knob
        assert _tier(knob) == "haiku", knob


def test_renaming_a_field_key_or_event_others_read_is_no_mechanical_rename() -> None:
    """A review's own tickets (2026-12-07): "rename the `total` field in the /v1/invoices response" and a payment provider's
    metadata key went to haiku as mechanical renames; what clients, partners or stored records hold by that name breaks."""
    for published in ("Rename the `total` field to `total_cents` in the /v1/invoices response", "Rename the metadata key cart_ref to cart_id on Stripe charges",
                      "Rename the event order.placed to order.created", "Rename `fetch_rows` to `fetch_records`; our SDK exposes it to integrators"):
        assert "rename or move" not in _fired(published), published
        assert _tier(published) != "haiku", published
    for local in ("Rename the local variable acc to total in report.py", 'Rename the field label "Surname" to "Last name"'):
        assert _tier(local) == "haiku", local


def test_a_feature_asked_first_is_the_work_and_its_docs_one_step() -> None:
    """A review's probes (2026-12-07): "Add a dark mode toggle ... and update the README" went to haiku as a docs task:
    add, make or create opened a clause of work only with a hard topic in it. The opening request is the work; a
    file or pattern added to a list is not."""
    for feature in ("Add a PDF export to the invoices page and update the README", "Create a weekly digest email of new comments and mention it in the changelog"):
        assert _tier(feature) != "haiku", feature
    for entry in ("Add .idea/ and *.pyc to .gitignore", "Add a test for parse_date and update the changelog"):
        assert _tier(entry) == "haiku", entry


def test_a_value_changed_in_answer_to_failures_users_see_is_no_named_setting() -> None:
    """Set 56, read after its blind first score: "Just bump QUERY_TIMEOUT_SECONDS from 30 to 120 on query-service, customers
    with big workspaces are seeing timeouts" (the slow queries are the work) went to haiku as a named setting."""
    for text in ("Raise MAX_UPLOAD_MB from 10 to 50 in config/app.py, users keep getting 413 errors on large scans",
                 "Players are hitting timeouts at login, set HANDSHAKE_TIMEOUT_MS from 2000 to 8000"):
        assert "setting in a named place" not in _fired(text), text
        assert _tier(text) != "haiku", text
    ci = "Bump the timeout of the e2e job in ci/pipeline.yml from 20m to 40m, the suite keeps getting killed"  # no users: a knob
    assert _tier(ci) == "haiku"


def test_rail_signalling_braking_and_nuclear_are_safety() -> None:
    """Set 58, read after its blind first score: "tiny tweak for the interlocking config: change `ROUTE_RELEASE_DELAY_S` from
    120 to 90" (a railway interlocking's timer) went to haiku: the safety words knew aircraft and doses, not trains."""
    for text in ("quick one for the interlocking: set `POINT_DETECTION_TIMEOUT_MS` from 500 to 800 in points.yaml",
                 "Lower the emergency braking threshold in adas/params.yaml from 0.4 to 0.3"):
        assert "safety and regulation" in _fired(text), text
        assert _tier(text) != "haiku", text


def test_a_named_setting_told_across_a_line_break_or_with_quoted_numbers() -> None:
    """Set 58, read after its blind first score: tickets wrap their lines ("... Change\n`CACHE_SECONDS` in `radar/settings.py`
    from 60 to 300") and quote the numbers as code ("from `3000` to `5000`"); neither was a named setting. A blank line or
    a list item's marker still ends the sentence."""
    for simple in ("Previews expire too soon. Change\n`PREVIEW_TTL_S` in `media/previews.py` from 60 to 600.",
                   "In `web/src/Snackbar.tsx` change `HIDE_AFTER_MS` from `2500` to `4000`."):
        assert "setting in a named place" in _fired(simple), simple
        assert _tier(simple) == "haiku", simple
    for apart in ("- Change the banner\n- from 3 to 4 items in config/ui.py", "Set the max items\n\nfrom 3 to 4 in config/ui.py"):
        assert "setting in a named place" not in _fired(apart), apart


def test_how_often_is_no_scope_and_a_hyphenated_name_holds_no_quantifier() -> None:
    """A review's tickets (2026-12-07): "every 4 seconds" counted as scope, and "many" inside pylint's too-many-arguments."""
    assert _hits_of("Poll the queue every 5 minutes instead of every night", "scope words") == []
    assert _hits_of("Silence too-many-arguments in cli.py", "scope words") == []
    assert _hits_of("Apply the discount to every customer in all regions", "scope words")


def test_a_look_changed_beside_moving_money_is_the_money_work() -> None:
    """A colour named as a visual tweak (this session) opened a hole: "Make the 'Pay now' button green and charge the
    saved card when it is tapped" went to haiku, as charging was no clause of work of its own."""
    assert _tier("Make the 'Checkout' button blue and refund the customer when an order is cancelled") != "haiku"
    assert _tier("Make the 'Pay now' button green") == "haiku"
    assert _tier('PAY-2231: On the invoice PDF, change the footer text "Thanks!" to "Thank you for your order"') == "haiku"  # a ticket key
    for rule in ("Change PAYOUT_DELAY_DAYS from 7 to 2 in settings/general.py", "Set the refund window in config/refunds.yaml from 14 to 30"):
        assert "setting in a named place" not in _fired(rule), rule


def test_a_sense_several_signals_share_is_written_once_and_a_missing_one_is_a_config_error() -> None:
    spec = (
        "base = 10\n[senses]\n\"a lock icon\" = '''\\block\\s+icon\\b'''\n"
        "[[signal]]\nname = \"a\"\nweight = 8\nwords = [\"lock\"]\nshared_senses = [\"a lock icon\"]\n"
        "[[signal]]\nname = \"b\"\nweight = 4\nwords = [\"lock\", \"mutex\"]\nother_senses = ['''\\bmutex\\s+art\\b''']\nshared_senses = [\"a lock icon\"]\n"
    )
    signals = parse_signals(spec, "test.toml")
    assert hits(signals, "Swap the lock icon for a padlock; add mutex art") == []
    assert {h.signal.name for h in hits(signals, "Take the lock before the write")} == {"a", "b"}
    with pytest.raises(ConfigError, match="no sense 'a key icon'"):
        parse_signals(spec.replace('shared_senses = ["a lock icon"]\n[[signal]]', 'shared_senses = ["a key icon"]\n[[signal]]'), "test.toml")


def test_a_fragment_is_one_piece_of_several_patterns_and_an_unknown_or_nested_one_is_a_config_error() -> None:
    """A list several patterns share (the units after a number, the verbs of an upgrade) is written once in
    [fragments]; {{name}} stands for it in a pattern, an other sense, a shared sense or a top-level pattern list."""
    spec = (
        "base = 10\npast_change = ['''(?i)\\b{{since}}\\s+(?:the\\s+)?$''']\n"
        "[fragments]\nverb = '''bump|upgrade'''\nunit = '''ms|s|%'''\nsince = '''after|since'''\n"
        "[senses]\n\"a quota\" = '''\\bquota\\s+{{verb}}.*'''\n"
        "[[signal]]\nname = \"new major\"\nweight = 30\nasked_only = true\nshared_senses = [\"a quota\"]\n"
        "pattern = '''(?i)\\b{{verb}}\\s+\\w+\\s+to\\s+\\d+\\b(?!\\s*{{unit}})'''\n"
        "other_senses = ['''\\b{{verb}}\\s+it\\s+to\\s+\\d+''']\n"
    )
    signals = parse_signals(spec, "test.toml")
    assert [h.signal.name for h in hits(signals, "Upgrade postgres to 16 this quarter")] == ["new major"]
    assert hits(signals, "Bump timeout to 30 s") == []  # a unit after the number: no version
    assert hits(signals, "Raise the quota bump sharply to 5 for the team") == []  # inside the shared sense
    assert hits(signals, "Bump it to 16 as well") == []  # inside the signal's own other sense
    assert hits(signals, "It broke after the upgrade release to 16") == []  # a change already made (past_change)
    with pytest.raises(ConfigError, match=r"test.toml: \{\{unit of time\}\}: no fragment 'unit of time'"):
        parse_signals(spec.replace("{{unit}}", "{{unit of time}}"), "test.toml")
    with pytest.raises(ConfigError, match="'unit' uses another fragment"):
        parse_signals(spec.replace("unit = '''ms|s|%'''", "unit = '''ms|s|{{verb}}'''"), "test.toml")
    with pytest.raises(ConfigError, match=r"\[fragments\] must name regular expressions"):
        parse_signals(spec.replace("unit = '''ms|s|%'''", "unit = 3"), "test.toml")


def test_a_sense_that_reaches_to_the_end_covers_its_sentence_and_all_after_it() -> None:
    """A sense's `reaches` widens its hit: a guard such as "a business rule's place" must also cover the numbers told
    before the place in its sentence and in the sentences after it, but not the sentence before."""
    spec = (
        "base = 10\n[senses.\"a grading rule\"]\nphrase = '''\\bgrading\\b'''\nreaches = \"its sentence to the end\"\n"
        "[[signal]]\nname = \"a number\"\nweight = 8\npattern = '''\\b\\d+\\b'''\nshared_senses = [\"a grading rule\"]\n"
    )
    signals = parse_signals(spec, "test.toml")
    assert [h.words for h in hits(signals, "Set retries to 3. Move 40 in config/grading.yaml to 45. Then 7 more.")] == [("3",)]
    with pytest.raises(ConfigError, match="'a grading rule' is neither a regular expression nor a phrase with its reach"):
        parse_signals(spec.replace("its sentence to the end", "the paragraph"), "test.toml")


def test_raising_an_apps_target_sdk_is_a_platform_upgrade_not_a_version_bump() -> None:
    """Set 61 (read after its blind first score): "one-liner: bump targetSdkVersion 33 -> 35" went to haiku, but a
    new target opts the app into the platform's new behaviour (background work, alarms, permissions)."""
    assert "major version upgrade" in _fired("Bump targetSdkVersion from 33 to 34 in the app module")
    assert "major version upgrade" in _fired("Update the target SDK version 31 -> 34 for the Play Store deadline")
    assert _tier("Bump targetSdkVersion from 33 to 34 in the app module") != "haiku"
    assert "major version upgrade" not in _fired("Bump okhttp from 4.12.0 to 4.12.1 in the app module")


def test_a_change_whose_run_counts_many_failures_is_the_work_of_fixing_them() -> None:
    """Set 63 (read after its blind first score): "just bump rails to 7.1 ... 212 failures" went to haiku as a bump."""
    bump = "Just bump Django to 5.0 in requirements.txt, the CI run for it shows 96 failing tests"
    assert "many failures reported" in _fired(bump) and _tier(bump) != "haiku"
    assert "many failures reported" in _fired("Turn on noImplicitAny: the compiler reports 1,205 errors in 310 files")
    assert _tier("Bump Django to 4.2.11 in requirements.txt") == "haiku"
    for other in ("Lock the card after 12 failures in a row", "Show 20 failed payments per page", "We see 500 errors on checkout"):
        assert "many failures reported" not in _fired(other), other


def test_bumping_a_thing_up_raises_it_and_is_no_version() -> None:
    """Set 62 (read after its blind first score): "just bump the novels up?" (a search ranking) read as a version bump."""
    assert "version bump" not in _fired("Can we bump the premium listings up in the search results?")
    assert "version bump" in _fired("Bump up the version number of the SDK to 2.0")


def test_shortening_retention_and_merging_accounts_destroy_data() -> None:
    """Sets 60 and 62 (read after their blind first scores): a lifecycle expiration lowered and duplicate member
    accounts merged are irreversible; a notebook's dataframe merge is a join."""
    for destroys in (
        "Shorten the retention of the call recordings bucket from 2 years to 90 days",
        "Dedupe the customer records that share a phone number",
        "Loyalty members should be merged when their emails match",
    ):
        assert "destructive operation" in _fired(destroys), destroys
    assert "destructive operation" not in _fired("In the notebook, merge with customers on customer_id before plotting")


def test_unmasking_personal_data_is_security_work() -> None:
    """Set 60 (read after its blind first score): loosening a masking policy so a role sees full emails and phone
    numbers fired no security word."""
    assert "security and cryptography" in _fired("Let the support role see unmasked card holder names in the admin tool")
    assert "security and cryptography" in _fired("Move the export under the masking policy of the warehouse")
    assert "security and cryptography" not in _fired("The phi node in the SSA pass keeps a stale predecessor")


def test_a_major_told_as_n_x_is_a_major_upgrade() -> None:
    """Set 67 (read after its blind first score): "just bump paho-mqtt 1.6 -> 2.x" was a bump, its major unread."""
    assert "major version upgrade" in _fired("Bump react-router from 5.3.4 to 6.x in the web app")
    assert "major version upgrade" not in _fired("Bump react-router from 6.3.4 to 6.x in the web app")


def test_acquire_and_release_loads_are_memory_ordering() -> None:
    """Set 64 (read after its blind first score): lowering seq_cst loads like acquire loads, "one-liner", fired nothing."""
    assert "concurrency" in _fired("Use acquire loads and release stores for the ring buffer's head index")
    assert "concurrency" in _fired("Relax the seq_cst ordering on the stats counter")


def test_a_priority_bumped_is_no_version() -> None:
    """Set 64 (read after its blind first score): "maybe bump its priority from 5 to 6" (a real-time task's) read as a
    version bump."""
    assert "version bump" not in _fired("maybe bump its priority from 5 to 6")
    assert "version bump" not in _fired("Bump the priority of the reindex job")
    assert "version bump" in _fired("Bump requests to 2.32.3")


def test_a_log_lines_level_changed_is_a_small_change() -> None:
    """The sets' simple tasks held at the simple level's edge (2026-12-07): "it is logged at INFO, make it DEBUG" saw no
    small change. What the logs hold at a level ("logs card numbers at DEBUG") is no change of level."""
    for text in (
        "The `retrying publish` line in outbox/relay.py is logged at WARN and floods the logs; make it DEBUG",
        "Set the log level of the search indexer back to info in values-prod.yaml",
        "Lower the 'cache refreshed' message in feeds/cache.go to DEBUG",
    ):
        assert "log level changed" in _fired(text), text
    assert _tier("Lower the 'cache refreshed' message in feeds/cache.go to DEBUG") == "haiku"
    for other in ("The billing worker logs full card numbers at DEBUG", "Make the retry loop stop after 3 attempts"):
        assert "log level changed" not in _fired(other), other


def test_a_colour_given_as_a_hex_code_is_a_visual_tweak() -> None:
    """The sets' simple tasks held at the edge: "Launch screen background should be brand navy #0B1F3A instead of
    white" saw no small change. An issue number (#123) is no colour, and a theme across the app is no tweak."""
    assert "visual tweak" in _fired("Footer links should be #2B6CB0 instead of grey")
    assert _tier("Footer links should be #2B6CB0 instead of grey") == "haiku"
    assert "visual tweak" not in _fired("Fix the crash in #123 on the settings page")
    assert "visual tweak" not in _fired("Header background #1A202C everywhere, plus a theme switcher for all pages")


def test_unused_dependencies_and_unused_variable_reports_are_mechanical() -> None:
    assert "mechanical fix" in _fired("Remove the unused dependency left-pad from package.json")
    assert "mechanical fix" in _fired("src/cart.ts:12 'total' is assigned a value but never used. Remove it")


def test_file_patterns_added_to_an_ignore_file_are_no_work_of_their_own() -> None:
    """An opening add clause adds a thing (larger task), unless what it adds is a file pattern: the glob need not
    come first ("add vivado *.jou and *.log to .gitignore" is the ignore file's entries)."""
    assert "mechanical fix" in _fired("add terraform *.tfstate and *.tfplan to .gitignore")
    assert _tier("add terraform *.tfstate and *.tfplan to .gitignore") == "haiku"


def test_a_requesters_one_liner_label_alone_does_not_make_a_task_simple() -> None:
    """A review's tickets (2026-12-07): "one-liner:" as the only sign of a small change took 39 points below the
    simple level's edge; the label is a guess, so like a stated target value it never makes a task simple alone."""
    assert _tier("one-liner: turn on request hedging in the gRPC client config") != "haiku"
    assert _tier("one-liner: fix the typo 'recieve' in the signup email") == "haiku"


def test_safety_integrity_levels_are_safety() -> None:
    text = "Change the caution lamp colour on the dispatcher screen from #FFD700 to #FFBF00 (SIL2 software)"
    assert "safety and regulation" in _fired(text) and _tier(text) != "haiku"
    assert "safety and regulation" in _fired("Bump the brake controller firmware, it is ASIL-D")


def test_what_others_build_on_a_small_change_makes_it_one_step() -> None:
    """A review's tickets (2026-12-07): a log level "one-liner" beside "our alerts are built on error-level counts", and
    an "unused" import that registers something on import, went to haiku."""
    for text in (
        "just lower the retry errors in jobs/sync.py to WARN. The weekly reliability report is built on them.",
        "Set the 'order shipped' line in fulfil/log.py to DEBUG; support uses them for triage",
        "Remove the unused import of tracing_setup in api/__init__.py; it registers the exporter on import",
        "Drop the unused dependency pg-native; our ORM loads it dynamically when PG_NATIVE is set",
    ):
        assert _tier(text) != "haiku", text
    assert _tier("Lower the 'cache refreshed' message in feeds/cache.go to DEBUG. Nothing depends on it.") == "haiku"
    assert _tier("Remove the unused import of os in app/cli.py") == "haiku"
    assert _tier("Fix the typo 'recieve' in the footer; the marketing site is built on Next.js") == "haiku"  # what the site uses


def test_a_rounding_mode_is_money() -> None:
    """Set 68 (read after its blind first score): "one-liner: flip RoundingMode.HALF_UP to HALF_EVEN in
    AccrualCalculator" went to haiku: the rounding mode, the one prose word about money, was in no list."""
    assert any("half_even" in h.words for h in _hits_of("one-liner: switch LoanMath to HALF_EVEN", "money"))
    assert _tier("one-liner: switch LoanMath to HALF_EVEN") != "haiku"


def test_a_lower_case_level_counts_in_a_sentence_about_a_logger() -> None:
    assert "log level changed" in _fired("Set the logger in billing_sync.py to debug")
    assert "log level changed" in _fired("change logger.info -> logger.debug in sync/worker.py")
    assert "log level changed" not in _fired("Switch the kiosk build to debug mode, the log viewer needs it")


def test_which_packages_a_tool_bumps_is_its_behaviour_not_a_bump_to_make() -> None:
    """Set 70 (read after its blind first score): a release tool's workspace support ("bump only packages changed since
    their last tag", "and bump them too if needed") read as a version bump and went to haiku."""
    assert "version bump" not in _fired("- bump only the packages changed since their last tag")
    assert "version bump" not in _fired("update the dependents' ranges (and bump them too if needed)")
    assert "version bump" in _fired("bump lodash only in the web app to 4.17.21")


def test_an_open_question_may_be_named_instead_of_asked() -> None:
    assert "open questions" in _fired("Open question: how to handle a package pinned to a git commit.")


def test_a_major_told_as_a_bare_number_after_a_dotted_one_is_a_major_upgrade() -> None:
    """Set 72 (read after its blind first score): "Should be a 5 minute thing: bump next from 12.3 to 14" went to haiku."""
    assert "major version upgrade" in _fired("bump vite from 4.5 to 6 in the docs site")
    assert "major version upgrade" not in _fired("Bump the CPU request from 1.5 to 2 for the api pods")
    assert "major version upgrade" not in _fired("bump vite from 5.1 to 5 point 2")


def test_a_copy_change_that_also_makes_a_box_checked_by_default_is_more_than_copy() -> None:
    """Set 72 (read after its blind first score): a consent checkbox's "copy change" that ended "Make it checked by
    default" went to haiku."""
    text = "just a copy change on the signup checkbox: 'Subscribe' -> 'Subscribe to partner offers'. Make it checked by default."
    assert _tier(text) != "haiku"
    assert _tier("just a copy change on the signup checkbox: 'Subscribe' -> 'Subscribe to our newsletter'.") == "haiku"


def test_structural_coverage_of_flight_software_is_safety() -> None:
    """Set 74 (read after its blind first score): a coverage gate lowered from 100 to 60 because "the MC/DC job is
    failing" on flight-management code went to haiku as a named setting."""
    assert "safety and regulation" in _fired("Lower the MC/DC coverage threshold for the autopilot module from 100 to 80")
    assert "safety and regulation" in _fired("The flight management page title has a typo")


def test_a_kubernetes_minor_version_is_a_major_upgrade() -> None:
    """Set 73 (read after its blind first score): "just bump `cluster_version` from 1.27 to 1.28" read as a bump; each
    Kubernetes minor release removes APIs, so it is upgraded as a major."""
    assert "major version upgrade" in _fired("just bump `cluster_version` from 1.27 to 1.28 in the staging tfvars")
    assert "major version upgrade" in _fired("Upgrade the GKE control plane from 1.29 to 1.30")
    assert "major version upgrade" not in _fired("Bump kubectl in the CI image from 1.29.3 to 1.29.4")


def test_tests_reported_red_are_failures_counted() -> None:
    assert "many failures reported" in _fired("With pipefail on, 41 tests are red across the bidding modules")


def test_an_automated_claim_or_fraud_thresholds_diff_is_a_rule_not_a_knob() -> None:
    """Set 76 (read after its blind first score): a pasted diff lowering `auto_claim_min_similarity` (automated copyright
    claims on creators' videos), "can someone merge today", went to haiku as one value changed."""
    claim = "```diff\n content:\n-  auto_claim_match_score: 0.92\n+  auto_claim_match_score: 0.85\n```\nplease merge today"
    fraud = "```diff\n payouts:\n-  fraud_review_threshold: 5000\n+  fraud_review_threshold: 8000\n```\nplease merge today"
    knob = "```diff\n search:\n-  results_cache_seconds: 60\n+  results_cache_seconds: 120\n```\nplease merge today"
    assert _tier(claim) != "haiku" and _tier(fraud) != "haiku"
    assert _tier(knob) == "haiku"


def test_a_cold_chain_limit_bumped_is_a_rule_not_a_version() -> None:
    """Set 85 (read after its blind first score): "quick config change pls: bump `excursion_max_c` from 8.0 to 8.5 in
    coldchain/config.yaml" (when vaccine lots are quarantined) went to haiku as a bump and a named setting."""
    rule = "quick one: bump `excursion_limit_c` from 8.0 to 8.5 in coldchain/settings.yaml, too many false alarms"
    assert "version bump" not in _fired(rule) and _tier(rule) != "haiku"
    assert "safety and regulation" in _fired("The cold chain report shows the wrong depot name")
    assert _tier("Bump `typing_extensions` from 4.7.1 to 4.8.0 in requirements.txt") == "haiku"


def test_a_library_with_many_downloads_keeps_its_users_working() -> None:
    """Set 87 (read after its blind first score): a published module renamed and a Python version dropped, "~2M
    downloads/month ... Just search and replace and bump the version", went to haiku."""
    text = "small change for the next release: rename the package from `tinyparse` to `tiny_parse`, ~500k downloads/month"
    assert "compatibility kept" in _fired(text) and _tier(text) != "haiku"


def test_a_major_upgrade_in_whole_numbers_states_no_target_value() -> None:
    """A probe of everyday tasks (2026-12-07): "Upgrade React from 17 to 18" read the new major as a stated target
    (-14, "the change is known and local") beside the major upgrade; a count raised the same way still states one."""
    assert "target given" not in _fired("Upgrade the billing database's MariaDB from 10 to 11 next sprint")
    assert "target given" not in _fired("migrating the mobile app from Kotlin 1 to 2")
    assert "target given" in _fired("Upgrade the workers from 4 to 8")
    assert "target given" in _fired("Upgrade the broker from 3 to 6 partitions")


def test_a_garbage_collector_is_low_level_runtime_work() -> None:
    """A probe of everyday tasks (2026-12-07): "Write a garbage collector for our VM" fired no topic (45, sonnet)."""
    assert "low-level systems" in _fired("Our interpreter's garbage collector frees objects still reachable from a closure")
    assert "low-level systems" in _fired("Emit bytecode for the new match statement and keep the calling convention intact")
    assert "low-level systems" not in _fired("Collect the garbage bags count per route in the waste app report")


def test_a_version_series_asked_for_is_a_major_upgrade() -> None:
    """Sets 92 and 94 (read after their blind first scores): "just bump protobuf to 4.x" (0, haiku) and a scanner SDK
    bumped "so we can target Android 14" (11, haiku), both complex; sets 37, 58 and 95 told "from 2.x to 4.x"."""
    assert "major version upgrade" in _fired("bump grpcio to 2.x across the ingest workers")
    assert "major version upgrade" in _fired("Bump `pydantic` from 1.x to 2.x in the settings service")
    assert "major version upgrade" in _fired("Update the camera library so the app can target Android 15")
    assert "major version upgrade" not in _fired("Bump pydantic from 2.7.1 to 2.x")  # the same series
    assert "major version upgrade" not in _fired("Pin Node to 22.x in .nvmrc")  # pinning what we run, not moving
    assert "target given" not in _fired("Bump `pydantic` from 1.x to 2.x in the settings service")


def test_encrypting_e2ee_and_customers_own_keys_are_security_work() -> None:
    """Set 95 (read after its blind first score): "bring their own keys for encrypting their messages" and "flip the
    switch" on E2EE DMs fired no security word (the word list held encrypt and encrypted, not encrypting)."""
    assert "security and cryptography" in _fired("Start encrypting the attachments bucket's objects at rest")
    assert "security and cryptography" in _fired("Turn on E2EE for group calls")
    assert "security and cryptography" in _fired("Let enterprise workspaces bring their own key for the file store")


def test_deleting_what_is_older_than_an_age_destroys_data() -> None:
    """Set 95 (read after its blind first score): "quick cron job: delete messages older than 2 years" read as no
    destructive work (the pattern knew accounts and tables dropped, not rows purged by age)."""
    assert "destructive operation" in _fired("nightly job to purge support tickets older than 18 months")
    assert "destructive operation" in _fired("Delete all uploaded scans older than six years from the archive")
    assert "destructive operation" not in _fired("Show a badge on orders older than 30 days")


def test_a_misspelt_quote_and_its_correction_inside_a_longer_quote_is_a_misspelling() -> None:
    """Set 95 (read after its blind first score): the log line reads "hearbeat ack received", the saved query looks for
    "heartbeat ack": one quote holds the other's words but one, misspelt (six sets' simple typos had gone to sonnet)."""
    assert misspellings(["payment recieved for order", "payment received"]) == ["received / recieved"]
    assert "misspelling corrected" in _fired('The toast says "Setings saved successfully" - our style guide wants "Settings saved".')
    assert misspellings(["payment recieved for " + "order " * 12, "payment received"]) == []  # a paragraph, not a label
    assert misspellings(["order cancelled", "order cancelled by the customer"]) == []


@given(_LETTERS, st.integers(0, 3), st.integers(0, 3))
def test_a_correction_is_found_wherever_the_shorter_quote_sits_in_the_longer(word: str, before: int, after: int) -> None:
    edited = word[:2] + word[3:] if len(word) > 5 else word[:2] + "q" + word[2:]
    longer = " ".join(["said"] * before + [edited, "button"] + ["now"] * after)
    assert misspellings([longer, f"{word} button"]) == misspellings([f"{word} button", longer]) == [" / ".join(sorted((edited, word)))]


def test_mail_authentication_trust_stores_firewalls_and_vpns_are_security() -> None:
    """Set 93 (read after its blind first score): a root CA removed from the trust bundle, a DMARC policy moved to reject,
    an edge firewall's default flipped and VPN concentrators retired fired no security word."""
    for text in (
        "Tighten the SPF record and start signing outbound mail with DKIM for the billing domain",
        "Move our DMARC policy from quarantine to reject",
        "Drop the 2014 root CA from the service mesh trust bundle",
        "Turn on HSTS with a one-year max-age on the docs site",
        "Make the office firewalls default-deny for inbound traffic",
        "Retire the old site-to-site VPN to the Leeds warehouse",
    ):
        assert "security and cryptography" in _fired(text), text


def test_a_minimum_version_raised_is_no_version_bump() -> None:
    """Set 92 (read after its blind first score): "just bump the min TLS version to 1.3 on the public LB" counted as a
    version bump (-12): a minimum raised cuts off the clients below it."""
    assert "version bump" not in _fired("bump the minimum Android version to 10 in the app")
    assert "version bump" not in _fired("Bump our min TLS version to 1.2 on the partner API")
    assert "version bump" in _fired("bump minimist to 1.2.8")


def test_flakes_are_flaky_and_a_call_made_synchronously_is_concurrency() -> None:
    """Sets 92 and 94 (read after their blind first scores): "flakes about 1 in 50" was no unknown cause (flaky was), and
    "push pick confirmations onto the queue instead of calling inventory synchronously" no concurrency (asynchronous was)."""
    assert "cause unknown" in _fired("test_refund_webhook flakes on CI about once a week")
    assert "concurrency" in _fired("Send the receipt email asynchronously instead of in the request")
    assert "concurrency" in _fired("the export endpoint renders the whole PDF synchronously")


def test_an_upgrade_over_many_releases_is_a_major_upgrade() -> None:
    """Sets 96 and 99 (read after their blind first scores): "just bump vllm to latest, we're a few minor versions behind"
    went to haiku, and a 0.x minor jump "from 0.88.0 to 0.104.0" still read its new version as a stated target."""
    assert "major version upgrade" in _fired("bump the langchain pin, we're several minor versions behind")
    assert "major version upgrade" in _fired("update grpc-gateway to the current release; we're way behind")
    assert "major version upgrade" not in _fired("the replica in eu-west is way behind the primary")
    assert "target given" not in _fired("bump tokio-tungstenite from 0.19.0 to 0.23.1")
    assert "target given" in _fired("bump the fraud score threshold from 0.62 to 0.70")


def test_a_key_nothing_references_is_dead_code() -> None:
    """Set 97 (read after its blind first score): a translation key "grep finds no reference to it" in, to delete, was
    no mechanical fix."""
    assert "mechanical fix" in _fired("`checkout.promo.legacy_banner` is unreferenced since the redesign; drop it from the locale files")
    assert "mechanical fix" in _fired("The `promo_v1` template: nothing references it since March, remove it")


def test_a_major_asked_for_by_its_number_alone_is_a_major_upgrade() -> None:
    """Sets 97 and 101 (read after their blind first scores): "just bump protobuf to v4 in the monorepo" (complex) and
    "just bump date-fns to v3" (moderate) went to haiku; "to 4.x" was already read as a new series."""
    assert "major version upgrade" in _fired("bump zod to v4 across the web packages")
    assert "major version upgrade" in _fired("Upgrade the Terraform AWS provider to version 6")
    assert "major version upgrade" not in _fired("bump zod to v3.23.8")  # one release, not a series


def test_a_formats_or_protocols_version_is_no_package_bump() -> None:
    """Set 104 (read after its blind first score): "just bump the X12 version on the claims feed from 4010 to 5010" was
    a version bump (critical, to haiku): the other side parses a new format, as with a remote API's version."""
    assert "version bump" not in _fired("bump the wire protocol version to 4 in the device handshake")
    assert "version bump" not in _fired("Bump the HL7 version of the lab results interface to 2.5.1")
    assert "version bump" not in _fired("bump the version on the partner export from 2 to 3")
    assert "version bump" in _fired("bump protobuf-java to 3.25.3")


def test_removing_what_nobody_is_believed_to_use_is_a_belief_to_check() -> None:
    """Set 110 (read after its blind first score): "routes/v1/ has `# TODO: delete, nobody uses v1 anymore`... rip it
    out" went to haiku as dead code; the belief that nothing reads a thing is what a removal tests for good."""
    assert "nobody uses it" in _fired("Remove the /v2/reports export, nobody calls it since the dashboard rewrite")
    assert "nobody uses it" in _fired("drop the shipments_archive table? I think no one reads it anymore")
    assert "nobody uses it" not in _fired("Remove the unused import of `Decimal` in billing/tax.py")


def test_a_power_grids_protection_and_control_is_safety() -> None:
    """Set 111 (read after its blind first score): "drop `reclose_wait_s` from 5 to 2 on the Eastside feeders", a grid
    protection setting told as a tiny tweak, went to haiku; load shedding and SCADA setpoints stayed at sonnet."""
    for text in (
        "Change the recloser lockout count on the rural circuits",
        "Add a third under-frequency load shedding stage",
        "Let operators edit SCADA setpoints from the web console",
    ):
        assert "safety and regulation" in _fired(text), text


def test_websockets_and_long_lived_connections_are_distributed_systems() -> None:
    """Set 109 (read after its blind first score): "small bump of our websocket lib for the charger gateway" (thousands of
    long-lived connections, complex) went to haiku; reconnects, ordering and backpressure over held connections are
    partial failure between machines."""
    assert "distributed systems" in _fired("Resume the websocket feed from the last event after a reconnect")
    assert "distributed systems" in _fired("The gateway drops long-lived connections during deploys")


@pytest.mark.parametrize(
    ("text", "counted"),
    [
        ("Payments are sometimes booked twice overnight, we suspect a race between the two settlement workers", True),
        ("The image worker's memory climbs until it is killed. Maybe a leak in the thumbnail cache?", True),
        ("Both schedulers stop picking up jobs after the failover, looks like a deadlock on the lease table", True),
        ("Maybe a button to export the list as CSV would be nice", False),  # a wish, not a cause
        ("The counter on the cart badge is one too high, probably a typo in the template", False),  # an easy cause
    ],
)
def test_a_hard_cause_only_guessed_at_is_a_cause_still_to_find(text: str, counted: bool) -> None:
    """An open incident ("possible data corruption ... maybe a race between the two writer jobs?") fell from opus to
    sonnet when the vocabulary on 6,100 descriptions read its reported speech ("the partner says") as a wording ticket:
    the guess at a race is a cause still to prove. These tickets are written here."""
    assert any(h.points > 0 for h in _hits_of(text, "cause guessed")) is counted


def test_a_guessed_cause_counts_nothing_once_the_cause_is_found() -> None:
    guess = "Orders vanish from the nightly export, maybe a race between the two writer jobs?"
    assert any(h.points > 0 for h in _hits_of(guess, "cause guessed"))
    settled = f"{guess}\nRoot cause: the export filter reads the old region code. Set it to 'EU-WEST'."
    assert not any(h.points > 0 for h in _hits_of(settled, "cause guessed"))


@pytest.mark.parametrize(
    ("text", "counted"),
    [
        ("Rename Workspace to Team across 9 locales", True),
        ("Update the wording of the trial-ending email in all 12 languages we ship", True),
        ("Change 'Basket' to 'Cart' in every locale, copy only", True),
        ("Show all languages in the language picker", False),  # the picker's list, not text in each language
        ("Add a French locale", False),
        ("Fix the typo in the German welcome email", False),
    ],
)
def test_a_wording_changed_in_every_locale_is_a_translation_in_each(text: str, counted: bool) -> None:
    """Set 149 at its blind first score (2026-12-07): a brand word renamed "across the product UI (web, iOS, Android,
    emails, all 14 locales). Copy only" went to haiku as a copy change. These tickets are written here."""
    assert ("every locale" in _fired(text)) is counted


def test_a_copy_change_in_every_locale_is_not_haiku_work() -> None:
    assert _tier("Copy only: rename 'Projects' to 'Spaces' across the web app, both mobile apps and all 11 locales") != "haiku"
    assert _tier("Copy only: rename 'Projects' to 'Spaces' on the web app's sidebar") == "haiku"


@pytest.mark.parametrize(
    ("small", "design"),
    [
        ("Fix a typo in the parser error message", "Write a parser for the new query syntax"),
        ("Reword the tooltip on the plugin manager", "Design a plugin system for the editor"),
    ],
)
def test_a_wording_fix_in_a_hard_subsystems_message_is_a_wording_fix(small: str, design: str) -> None:
    """The subsystem a design word names (a parser, a plugin manager) is the subject of a typo in its message, as a
    topic is: "Fix a typo in the parser error message" read 30 (sonnet) on "parser". These tickets are written here."""
    assert _tier(small) == "haiku"
    assert _tier(design) != "haiku"


def test_a_default_turned_on_acts_for_everyone_who_never_chose_it() -> None:
    """Blind set 155: "one-line PR: change `strict` default to `true` in `createValidator`" went to haiku. A default
    flipped on acts for everyone who never chose it (consent, rejected input, charges); flipped off, it is the safe way."""
    _assert_reads_off_haiku(
        "turned on by default",
        reads=(
            "Make the newsletter checkbox on the signup form default to checked",
            "Flip the default of `share_location` to true for existing riders",
            "one-line PR: change the `autoRetry` option's default to true in the HTTP client",
            "For 5.0 we want strict null checks on by default",
        ),
        not_=(
            "Set the `beta_banner` default to false in defaults.yaml",
            "Make the sound default to off on first launch",
            "The cache is on by default, so the docs example can drop the --cache flag",
        ),
    )


def test_a_package_bumped_between_whole_major_numbers_is_a_new_major_version() -> None:
    """Blind set 155: "chore: bump acorn 7 -> 8. quick dependency update" went to haiku as a version bump. A package's
    plain name bumped from one whole number to another is a new major; a setting's name (capitals, underscores) or
    a count is a value."""
    _assert_reads_off_haiku(
        "major version upgrade",
        reads=("chore(deps): bump lodash 3 -> 4", "bump express from 4 to 5 in the api service"),
        not_=(
            "bump max_retries 3 -> 5 in config/jobs.yaml",
            "bump workers 4 -> 8 on the ingest box",
            "bump timeout 30 -> 60",
            "bump lodash 4.17.20 -> 4.17.21",
            "bump `clickstream` from 24 to 36 partitions",
        ),
    )


def _assert_reads_off_haiku(signal: str, reads: tuple[str, ...], not_: tuple[str, ...]) -> None:
    """`signal` fires on each of `reads` and keeps it off haiku, and does not fire on any of `not_`."""
    for task in reads:
        assert signal in _fired(task), task
        assert _tier(task) != "haiku", task
    for task in not_:
        assert signal not in _fired(task), task


def test_a_guess_asked_as_a_lines_question_is_not_the_reports_topic() -> None:
    """A title such as "Possible race condition in the settings page??" is the reporter's speculation: the topic it names
    counts only where the report bears it out; the question still counts as an open question."""
    typo = "Possible race condition in the settings page?? The Save button label says 'Svae'. Fix the typo in settings.html."
    assert "concurrency" not in _fired(typo)
    assert "open questions" in _fired(typo)
    assert _tier(typo) == "haiku"
    real = "Potential deadlock between the two writer threads? They both take the accounts lock and then the ledger lock, in opposite orders."
    assert "concurrency" in _fired(real)
    assert _tier(real) == "opus"
    told = "The nightly import fails on Mondays. Our guess: a race between the two loaders?"  # not a line's own question
    assert "concurrency" in _fired(told)


def test_a_record_of_what_happened_made_editable_is_not_a_typo_fix() -> None:
    """Blind set 161: "let editors edit the revision history so we can clean up old typo entries in the log" went to
    haiku on its typo. An audit log, a revision history or a ledger is evidence people rely on being append-only."""
    _assert_reads_off_haiku(
        "history rewritten",
        reads=(
            "Quick one: allow admins to edit past ledger entries so they can fix typos",
            "Let support agents delete entries from the audit trail when customers complain",
        ),
        not_=(
            "Show the revision history in the sidebar",
            "Change the audit log page size from 25 to 50",
            "Add a filter by user to the audit log page",
        ),
    )


def test_what_was_already_delivered_changed_in_place_is_not_a_typo_fix() -> None:
    """Blind set 167: "let PMs fix a typo directly in subtitle files that have already been delivered, instead of creating
    a new version" went to haiku. Others hold copies, checksums or references of what was delivered or published."""
    _assert_reads_off_haiku(
        "history rewritten",
        reads=(
            "Let authors fix typos in invoices that have already been issued, instead of creating a new version",
            "Quick one: allow support to correct the wording of contracts that have already been signed",
        ),
        not_=("Update the README in place", "Fix the typo in the invoice template before the next run"),
    )


def test_a_library_made_to_act_by_default_changes_every_callers_code() -> None:
    """Blind set 170: "small change: let's make `save` raise on validation errors by default instead of returning false"
    read 31: a default behaviour of a library changes what every caller's code does. How a screen first looks does not."""
    _assert_reads_off_haiku(
        "turned on by default",
        reads=(
            "tiny PR: make the HTTP client follow redirects by default",
            "Make `parse()` reject unknown keys by default",
            "Use the system keyring by default instead of the plaintext config file",
        ),
        not_=(
            "Make sure the sample config is copied by default",
            "Make the filters panel collapsed by default on mobile",
            "Make the orders list sorted by date by default",
        ),
    )


def test_what_was_confirmed_or_posted_undone_is_not_a_small_change() -> None:
    """Blind sets 169 and 171: "just flip the controlled drug log to editable?" and "should be a small change: let buyers
    cancel confirmed grain contracts from the app" read 34. Others acted on what was confirmed, signed or posted."""
    _assert_reads_off_haiku(
        "history rewritten",
        reads=(
            "Small one: let dispatchers cancel confirmed freight bookings from the board",
            "can we let accountants edit posted payroll runs?",
            "Just set the visitor sign-in register to editable, people mistype their names",
        ),
        not_=(
            "Cancel the job if the upload URL is not signed",
            "Show confirmed bookings in green on the board",
            "Let reviewers delete approved comments on their own drafts",
        ),
    )


@pytest.mark.parametrize(
    ("text", "counted"),
    [
        ("The remainder should be distributed evenly among the line items so the total matches", False),
        ("Latencies are normally distributed in the load test, so report the mean and stddev", False),
        ("The session cache must be distributed across the three API nodes", True),
    ],
)
def test_a_quantity_shared_out_is_not_a_distributed_system(text: str, counted: bool) -> None:
    """Blind set 170: "The remainder should be distributed one subunit at a time to the first parts" counted as
    distributed systems (+32): a remainder shared among parts is arithmetic, not machines agreeing."""
    assert ("distributed systems" in _fired(text)) is counted


def test_a_keys_type_changed_is_a_migration_of_every_row_and_reference() -> None:
    """Blind set 172: "tiny PR incoming: change the default id generation from sequences to UUIDv7" read 30. A key's
    type widened or replaced rewrites the table and everything that holds the key, however short the ticket."""
    _assert_reads_off_haiku(
        "key type changed",
        reads=(
            "one-liner: payments.id int -> bigint, we're at 2.0B",
            "quick tweak: new tenants should get UUIDs instead of serial ids",
            "Move invoice numbers from auto-increment to ULIDs",
        ),
        not_=(
            "Show the order id as a UUID in the receipt footer",
            "Change the loop counter in resize() from int to long",
            "Parse the page query parameter as an integer instead of a string",
        ),
    )


@pytest.mark.parametrize(
    ("text", "counted"),
    [
        ("Each address with a comma is split into two rows by the importer", False),
        ("Duplicate bookings were merged into one row by the nightly job, losing the second guest", False),
        ("Split the customers table into two tables", True),
        ("Merge the two invoice tables into one", True),
    ],
)
def test_records_a_bug_splits_are_the_report_not_a_reshaping_to_make(text: str, counted: bool) -> None:
    """Blind set 172: "A quoted field containing a newline is split into two records" (a parser's bug) counted as stored
    data reshaped: what is or was split, merged or converted is what happens today, not the work asked for."""
    assert ("stored data reshaped" in _fired(text)) is counted


def test_a_product_asked_for_by_its_whole_number_is_a_new_major_version() -> None:
    """Blind set 179: "bump react + react-dom to 18, shouldn't be more than a one-liner in package.json" went to haiku.
    Node 20, React 18, Postgres 16: a whole number names a major line; a bump already made is no ask."""
    _assert_reads_off_haiku(
        "major version upgrade",
        reads=("quick one: upgrade node to 20 in the Dockerfile", "bump vue + vue-router to 3, should be trivial"),
        not_=(
            "We bumped targetSdk to 34 in 5.2 and now the share sheet crashes",
            "bump node to 20.11.1",
            "move the logo next to 2 other badges",
        ),
    )


@pytest.mark.parametrize(
    ("text", "counted"),
    [
        ("Legal wants new wording on the consent checkbox of the embedded signup form", False),
        ("The booking widget embedded in partner sites shows prices without VAT", False),
        ("The embedded controller resets when the flash write is interrupted", True),
    ],
)
def test_a_widget_embedded_in_a_page_is_no_embedded_system(text: str, counted: bool) -> None:
    """Blind set 176: "the consent checkbox on the embedded signup form" counted as low-level systems (+20)."""
    assert ("low-level systems" in _fired(text)) is counted


def test_a_link_pointed_elsewhere_is_one_href_however_alarmed_the_ticket() -> None:
    """Blind set 178: "COMPLIANCE ESCALATION ... the 'Privacy policy' link on the checkout page still points to
    /legal/privacy-2021" read 100 (opus) on privacy, checkout and legal. An API's link relation is code, not an href."""
    for task in (
        "URGENT legal exposure: the 'Cookie policy' link on the payment page still points to /legal/cookies-2020. Must point to /legal/cookies.",
        "SEV1!!! The 'Contact support' link in the billing footer 404s",
    ):
        assert "link retargeted" in _fired(task), task
        assert not {"security and cryptography", "money"} & {f.name for f in _estimate(task).factors}, task
        assert _tier(task) != "opus", task
    assert _tier("SEV1!!! The 'Contact support' link in the billing footer 404s") == "haiku"
    paging = "The search API's link[next] points at the internal hostname instead of the public one, so clients stop after one page"
    assert "link retargeted" not in _fired(paging)
    assert "link retargeted" not in _fired("Links from the Spanish pages point at /es/ paths that do not exist")


def test_a_bump_to_the_latest_or_from_a_release_still_in_use_crosses_unknown_majors() -> None:
    """Blind sets 181 and 182: "could someone bump the django version? we're still on 2.2 lol" and "just bump protobuf to
    the latest version pls" went to haiku. With no release line named, "the latest" may be several majors away; "still
    on" a version says the project has fallen behind. The latest patch or the latest of a named line is a bump."""
    _assert_reads_off_haiku(
        "major version upgrade",
        reads=(
            "pls bump sqlalchemy to the latest, should be painless",
            "can we upgrade the payments SDK? we're still on 3.4",
        ),
        not_=(
            "bump requests to the latest patch release",
            "bump the base image to the latest 3.12 slim digest",
            "It's the only workflow still on v2; bump it to actions/checkout@v4",
        ),
    )


def test_a_name_renamed_everywhere_with_no_part_named_is_no_mechanical_rename() -> None:
    """Blind set 181: "just rename "Form" to "Homeroom" everywhere, the US schools find it confusing" went to haiku: the
    term is a column, an API field, an export header and an app's contract. Saying where keeps it a rename."""
    for task in ('just rename "Crew" to "Team" everywhere, people keep asking', "quick one: rename `tenant` to `workspace` everywhere"):
        assert "rename or move" not in _fired(task), task
        assert _tier(task) != "haiku", task
    for task in (
        'rename "Crew" to "Team" everywhere in the UI (not the API)',
        "Rename MAX_WAIT to MAX_WAIT_SECONDS everywhere it is referenced",
    ):
        assert "rename or move" in _fired(task), task


@pytest.mark.parametrize(
    ("text", "counted"),
    [
        ("Long customer threads only show the last 50 messages; add a 'load earlier' link at the top of the thread", False),
        ("Add cursor pagination to GET /threads/:id/messages", False),
        ("Two worker threads write the same cache entry without a lock", True),
    ],
)
def test_a_conversation_thread_is_no_thread_of_execution(text: str, counted: bool) -> None:
    """Blind set 184: "Long patient threads only show the latest 50 messages ... GET /threads/:id/messages" counted
    as concurrency (+57): whose conversation it is and a place in it say what kind of thread it is (a path's segment,
    /threads/, was never a word of the list)."""
    assert ("concurrency" in _fired(text)) is counted
