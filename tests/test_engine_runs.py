"""Sound runs: a new kind of sound counts only once it has lasted, and keeps its true start."""

from shopper.engine.runs import RunTracker


def test_flicker_is_ignored_and_a_lasting_change_starts_where_it_began() -> None:
    tracker = RunTracker(confirm_s=0.25)
    assert tracker.update("speech", 0) is not None
    assert tracker.update("music", 160) is None  # one 20 ms frame of music
    assert tracker.update("speech", 320) is None
    for index in range(10, 30):
        tracker.update("silence", index * 160)
    assert tracker.run is not None
    assert tracker.run.kind == "silence" and tracker.run.since == 10 * 160


def test_no_label_changes_nothing() -> None:
    tracker = RunTracker()
    assert tracker.update(None, 0) is None and tracker.run is None
