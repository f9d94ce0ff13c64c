"""The transaction ID wraparound check against the demo stack's real PostgreSQL: far from the horizon it passes;
with a limit below the databases' real age (the fault a freshly made cluster cannot have) it is a SEV3 finding
that names the databases, their age and the limit."""

from __future__ import annotations

import pytest

from tests.demo_support import run_suite, targets_file

pytestmark = pytest.mark.timeout(300)
CHECK = "test_transaction_ids_far_from_wraparound"


def test_a_healthy_cluster_is_far_from_wraparound(healthy_stack, workdir):
    run = run_suite("-m", "comprehensive", "-k", CHECK, workdir=workdir,
                    targets=targets_file(workdir, healthy_stack.info().state_dir))
    assert run.outcome_of(CHECK) == "passed" and run.severity == "OK", run.output


def test_databases_past_the_limit_are_a_finding_with_their_age(healthy_stack, workdir):
    run = run_suite("-m", "comprehensive", "-k", CHECK, workdir=workdir,
                    targets=targets_file(workdir, healthy_stack.info().state_dir, xid_age_ratio=1e-9))
    assert run.severity == "SEV3", run.output
    (found,) = run.findings(CHECK)
    assert found["condition_key"] == "transaction_id_wraparound" and "VACUUM (FREEZE)" in found["next_step"]
    assert "database(s) past 0.0% of the way to transaction ID wraparound (thresholds.xid_age_ratio = 1e-09)" \
        in found["summary"]
    assert "template0: oldest transaction ID " in found["summary"] or "template1: oldest" in found["summary"]
