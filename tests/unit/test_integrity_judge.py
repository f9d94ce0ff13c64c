"""The data-loss and TLS-expiry judgements (judge/integrity.py, judge/tls.py): pure functions, one place each."""

from scenescout_ir.judge.integrity import data_loss, refreshed
from scenescout_ir.judge.tls import EXPIRED, EXPIRING, certificate_problem


def test_a_table_within_the_limit_is_no_loss_and_its_change_is_shown():
    judged = data_loss({"public.events": 100}, {"public.events": 95}, set(), 0.1)
    assert judged.losses == []
    assert judged.rows == [("public.events", 100, 95, "-5.0%")]


def test_a_table_losing_more_than_the_limit_is_a_loss_with_the_counts_and_the_limit():
    before, now = {"public.events": 100, "public.users": 10}, {"public.events": 40, "public.users": 12}
    judged = data_loss(before, now, set(), 0.1)
    assert judged.losses == ["public.events has 40 rows, 100 at the baseline (-60%; limit: 10%)"]
    assert judged.rows[1] == ("public.users", 10, 12, "+20.0%")


def test_a_table_gone_is_a_loss_and_one_not_read_is_listed_not_judged():
    judged = data_loss({"a": 5, "b": 7, "c": 0}, {"c": 3}, {"b"}, 0.1)
    assert judged.losses == ["a is gone (it had 5 rows)"]  # c was empty: no share of it can be lost
    assert judged.rows[:2] == [("a", 5, "", "GONE"), ("b", 7, "", "not read")] and judged.rows[2][:3] == ("c", 0, 3)


def test_the_refreshed_baseline_keeps_the_last_count_of_a_table_not_read():
    assert refreshed({"a": 5, "b": 7}, {"a": 6}) == {"a": 6, "b": 7}


def test_an_expired_certificate_is_the_sev1_condition_with_the_days_since():
    problem = certificate_problem("example.org", -2.04, 14, "valid until 2026-01-01 00:00 UTC")
    assert problem is not None and problem.expired and problem.condition == EXPIRED
    assert problem.message == ("the TLS certificate of example.org expired 2.0 days ago: "
                               "valid until 2026-01-01 00:00 UTC")


def test_a_certificate_within_the_limit_is_expiring_and_one_past_it_is_fine():
    problem = certificate_problem("example.org", 3.0, 14, "subject CN=x")
    assert problem is not None and not problem.expired and problem.condition == EXPIRING
    assert problem.message == "the TLS certificate of example.org expires in 3.0 days (limit: 14 days): subject CN=x"
    assert certificate_problem("example.org", 14.5, 14, "subject CN=x") is None
    assert certificate_problem("example.org", 14.0, 14, "subject CN=x") is not None  # the limit itself is too close
