"""The scorecard of a crawl and the pass/fail policy that judges it."""

from pathlib import Path

import pytest
from crawl_maps import acme_map, globex_map

from shopper.crawl.findings import Thresholds, find_problems
from shopper.crawl.policy import DEFAULT_FAIL_ON, Policy, PolicyError, evaluate, load_policy
from shopper.crawl.scorecard import build_scorecard


def test_globex_scorecard() -> None:
    crawl_map = globex_map()
    card = build_scorecard(crawl_map, find_problems(crawl_map))
    figures = card.to_json()
    assert (figures["menus"], figures["menus_reaching_human"], figures["humans"]) == (2, 0, 0)
    assert [m["zero_out"] for m in figures["menu_scores"]] == ["fails", "fails"]
    assert (figures["loops"], figures["drops"], figures["dead_ends"]) == (1, 2, 0)
    assert figures["worst_time_to_human_s"] is None
    assert figures["cost_ratio"] == pytest.approx(412.0 / 131.0, abs=1e-3)
    text = card.render_text()
    assert "every menu reaches a human: 0/2" in text
    assert "fails at main, support" in text


def test_acme_scorecard() -> None:
    crawl_map = acme_map()
    card = build_scorecard(crawl_map, find_problems(crawl_map))
    assert (len(card.menus), card.menus_reaching_human, card.humans) == (4, 4, 2)
    assert {m.node: m.zero_out for m in card.menus} == {
        "main": "reaches-person",
        "billing": "reaches-person",
        "cards": "fails",
        "loans": "fails",
    }
    assert (card.best_time_to_human_s, card.worst_time_to_human_s) == (53.5, 67.0)
    assert card.deepest_human_menus == 2
    assert card.callback_offered_any_queue is True
    assert card.callback_offered_all_long_holds is None
    shorter = build_scorecard(crawl_map, [], Thresholds(callback_hold_s=30.0))
    assert shorter.callback_offered_all_long_holds is True
    assert "every menu reaches a human: 4/4" in card.render_text()


def test_default_policy_fails_globex_and_passes_acme() -> None:
    globex = globex_map()
    found = find_problems(globex)
    verdict = evaluate(Policy(), build_scorecard(globex, found), found)
    assert not verdict.passed
    assert any(reason.startswith("1 loop finding(s) at billing") for reason in verdict.reasons)
    acme = acme_map()
    found = find_problems(acme)
    assert evaluate(Policy(), build_scorecard(acme, found), found).passed


def test_policy_file_limits(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(
        "fail_on: [no-zero-out]\nmax_time_to_human: 1m\nmin_menus_reaching_human: 100%\n"
        "thresholds: {long_hold: 3m, callback_hold: 90s, max_human_menus: 2}\n"
    )
    policy = load_policy(path)
    assert policy.fail_on == ("no-zero-out",)
    assert policy.max_time_to_human_s == 60.0 and policy.min_menus_reaching_human == 1.0
    assert policy.thresholds == Thresholds(180.0, 90.0, 2)
    acme = acme_map()
    found = find_problems(acme, policy.thresholds)
    verdict = evaluate(policy, build_scorecard(acme, found, policy.thresholds), found)
    assert verdict.reasons == [
        "2 no-zero-out finding(s) at cards, loans (fail_on: no-zero-out)",
        "worst time to human 1 min 07 s is over max_time_to_human 1 min 00 s",
    ]
    globex = globex_map()
    found = find_problems(globex)
    reasons = evaluate(policy, build_scorecard(globex, found), found).reasons
    assert "no person was reached (max_time_to_human: 1 min 00 s)" in reasons
    assert any("menus reaching a human 0/2 (0%) is under" in reason for reason in reasons)


def test_empty_policy_file_keeps_defaults(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text("# nothing yet\n")
    assert load_policy(path).fail_on == DEFAULT_FAIL_ON


@pytest.mark.parametrize(
    "text,message",
    [
        ("fail_on: [loop, droped]\n", ":1: unknown finding kind 'droped' in fail_on (did you mean"),
        ("fail_on: [loop]\nmax_time_to_humen: 5m\n", ":2: unknown key 'max_time_to_humen'"),
        ("max_time_to_human: soon\n", ":1: max_time_to_human: invalid duration 'soon'"),
        ("min_menus_reaching_human: 0.8\n", ":1: min_menus_reaching_human must be a percentage"),
        ("thresholds:\n  max_human_menus: two\n", ":2: max_human_menus must be a whole number"),
        ("fail_on: loop\n", ":1: fail_on must be a list like [loop, dropped]"),
        ("fail_on: [loop\n", "YAML syntax error"),
    ],
)
def test_bad_policy_files_say_where_and_how_to_fix(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(text)
    with pytest.raises(PolicyError) as error:
        load_policy(path)
    assert str(error.value).startswith(str(path))
    assert message in str(error.value)
    assert "\n" not in str(error.value)


def test_missing_policy_file(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="file not found"):
        load_policy(tmp_path / "nope.yaml")
