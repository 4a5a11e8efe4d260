"""The exposition format of server/web/metrics.py, line by line, and its privacy rule for labels."""

from __future__ import annotations

import pytest

from server.web.metrics import MAX_SERIES, Metrics, word


def test_counter_gauge_and_histogram_render_in_prometheus_text_format():
    m = Metrics()
    answers = m.counter("dojo_answers_total", "Answers.", ("status",))
    m.gauge("dojo_online", "Online.", lambda: 3)
    m.counter_read("dojo_calls_total", "Calls.", lambda: 7)
    latency = m.histogram("dojo_seconds", "Latency.", (0.1, 1.0), ("status",))
    answers.inc(status="done")
    answers.inc(2, status="refused")
    for v in (0.05, 0.1, 0.5, 5.0):
        latency.observe(v, status="done")
    assert m.render().splitlines() == [
        "# HELP dojo_answers_total Answers.", "# TYPE dojo_answers_total counter",
        'dojo_answers_total{status="done"} 1', 'dojo_answers_total{status="refused"} 2',
        "# HELP dojo_online Online.", "# TYPE dojo_online gauge", "dojo_online 3",
        "# HELP dojo_calls_total Calls.", "# TYPE dojo_calls_total counter", "dojo_calls_total 7",
        "# HELP dojo_seconds Latency.", "# TYPE dojo_seconds histogram",
        'dojo_seconds_bucket{status="done",le="0.1"} 2',  # le is inclusive: 0.1 counts in the 0.1 bucket
        'dojo_seconds_bucket{status="done",le="1"} 3',
        'dojo_seconds_bucket{status="done",le="+Inf"} 4',
        'dojo_seconds_sum{status="done"} 5.65',
        'dojo_seconds_count{status="done"} 4',
    ]


@pytest.mark.parametrize("value, label", [
    ("block_locked", "block_locked"), ("timed_out", "timed_out"), ("Mia", "other"), ("Zoë", "other"),
    ("drive at 50%", "other"), ('x"}\nevil 1', "other"), ("", "other"), (None, "other"), ("a" * 60, "other"),
])
def test_a_label_is_a_machine_word_or_other(value, label):
    assert word(value) == label


def test_a_metric_never_grows_more_than_max_series_label_sets():
    m = Metrics()
    rules = m.counter("dojo_rules_total", "Rules.", ("rule",))
    for i in range(MAX_SERIES + 10):
        rules.inc(rule=f"rule_{i}")
    assert len(rules.values) == MAX_SERIES + 1  # the first MAX_SERIES, then everything else as "other"
    assert rules.value(rule="other") == 10


def test_wrong_labels_and_twice_registered_names_are_refused_with_the_fix():
    m = Metrics()
    c = m.counter("dojo_x_total", "X.", ("status",))
    with pytest.raises(ValueError, match=r"takes the labels \('status',\)"):
        c.inc(rule="y")
    with pytest.raises(ValueError, match="registered twice"):
        m.counter("dojo_x_total", "X again.")
