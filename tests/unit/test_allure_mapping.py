"""The Allure report model, without pytest's hooks: links, anchors, tables, log excerpts, the verdict's result."""

from scenescout_ir.core.conditions import PLAYBOOK
from scenescout_ir.judge.verdict import PASSED, CheckRecord, assemble
from scenescout_ir.reporting.allure_mapping import log_html, playbook_url, section_anchor, table_csv, verdict_result


def test_the_playbook_link_defaults_to_the_copy_found_near_the_project(tmp_path, monkeypatch):
    monkeypatch.delenv("SCENESCOUT_PLAYBOOK_URL", raising=False)
    project = tmp_path / "work" / "main"
    project.mkdir(parents=True)
    assert playbook_url(project) is None
    copy = tmp_path / "work" / PLAYBOOK
    copy.parent.mkdir(parents=True)
    copy.write_text("# Incident Response Playbook")
    assert playbook_url(project) == copy.as_uri()


def test_helpers():
    assert section_anchor("Common Incident Scenarios / Scenario 2: Database Connection Failures") == \
        "scenario-2-database-connection-failures"
    assert table_csv(["a"], [[1], ["x"], [None]]) == 'a\n1\nx\n""\n'
    assert '<span class="hit">two</span>' in log_html("t", "one\n>> two")


def test_a_healthy_verdict_is_a_passed_result_with_the_verdict_attached():
    verdict = assemble([CheckRecord("checks/t.py::test_a", "test_a", PASSED)], target="demo",
                       base_url="http://127.0.0.1:1", started_at="2026-01-01T00:00:00+00:00",
                       finished_at="2026-01-01T00:00:01+00:00", duration_s=1.0)
    result, attachments = verdict_result(verdict)
    assert result.status == "passed" and result.name == verdict.headline
    assert "<p>No findings.</p>" in result.descriptionHtml
    assert [a.name for a in attachments] == ["Verdict", "verdict.json"]
