"""The executors' submission window: bounded in flight, results in input order, and what a
dead worker took with it can be taken back while the rest of the items still follow."""

from ragloop.executors.base import Window


def test_window_keeps_at_most_size_in_flight_and_hands_back_in_order():
    submitted: list[int] = []
    window = Window(range(7), lambda i: submitted.append(i) or f"h{i}", size=3)
    seen = []
    for item, handle in window:
        assert len(submitted) - len(seen) <= 3  # never more than 3 submitted and unread
        seen.append((item, handle))
    assert seen == [(i, f"h{i}") for i in range(7)] and submitted == list(range(7))


def test_drain_takes_back_what_is_in_flight_and_the_window_refills():
    window = Window(range(6), lambda i: i * 10, size=3)
    steps = iter(window)
    assert next(steps) == (0, 0)  # 1 and 2 are in flight, 3 is submitted on the next step
    assert window.drain() == [(1, 10), (2, 20)]
    assert list(steps) == [(3, 30), (4, 40), (5, 50)]


def test_an_empty_source_yields_nothing():
    assert list(Window([], lambda i: i, size=2)) == []
