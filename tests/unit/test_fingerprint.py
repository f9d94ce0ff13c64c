"""What changed since the last healthy run: fingerprints from the checks' evidence, and their differences."""

from scenescout_ir.judge.fingerprint import build, diff, fingerprint_file, load, save
from scenescout_ir.probes.deploy_version import deploy_version


def http(url, status, elapsed, deploy=None):
    data = {"method": "GET", "url": url, "status": status, "elapsed_s": elapsed}
    if deploy:
        data["deploy"] = deploy
    return {"kind": "http", "title": f"GET {url}", "text": "", "data": data}


def sql(title, columns, row, text=""):
    return {"kind": "sql", "title": title, "text": text, "data": {"columns": columns, "rows": [row]}}


def records(latency=0.04, status=200, rows=1200, age=30.0, sigs=(("upstream <n> from <ip>", 2),),
            assets="index-a1b2c3.js"):
    return [
        {"check": "test_health_endpoint[/api/health]", "evidence": [
            http("https://x.app/api/health?token=s3cr3t", status, latency, {"assets": assets})]},
        {"check": "test_database_connectivity", "evidence": [
            sql("connectivity", ["version"], ["PostgreSQL 15.18 (Debian) on x86_64"])]},
        {"check": "test_ingestion_freshness[meetup]", "evidence": [sql("ingestion_freshness", ["age_s"], [age])]},
        {"check": "test_every_public_table_is_readable", "evidence": [
            sql("table_row_count", ["row_count"], [rows], 'SELECT count(*) AS row_count FROM "public"."events"')]},
        {"check": "test_recent_log_errors[application.log]", "evidence": [
            {"kind": "log", "title": "errors in application.log", "text": "",
             "data": {"signatures": [list(s) for s in sigs]}}]},
    ]


def test_a_fingerprint_holds_endpoints_tables_freshness_errors_and_versions_without_query_values():
    fp = build(records(), "2026-11-28T09:00:00+00:00")
    assert fp["endpoints"] == {"GET /api/health?token": {"status": 200, "latency_s": 0.04}}
    assert fp["tables"] == {"public.events": 1200} and fp["freshness"] == {"meetup": 30.0}
    assert fp["errors"] == {"application.log": {"upstream <n> from <ip>": 2}}
    assert fp["database"]["version"] == "PostgreSQL 15.18 (Debian)"
    assert fp["deploy"] == {"GET /api/health?token assets": "index-a1b2c3.js"}
    assert "s3cr3t" not in str(fp)


def test_five_kinds_of_change_most_telling_first():
    healthy = build(records(), "2026-11-28T09:00:00+00:00")
    now = build(records(latency=2.6, status=503, rows=600, age=4000.0, assets="index-ffee99.js",
                        sigs=(("upstream <n> from <ip>", 2), ("TypeError: Cannot read properties of undefined", 37))),
                "2026-11-28T10:00:00+00:00")
    changes = diff(healthy, now)
    assert [c.kind for c in changes] == ["new_error", "version", "status", "latency", "rows", "freshness"]
    texts = [c.text for c in changes]
    assert texts[0] == "TypeError: Cannot read properties of undefined x37, new in application.log"
    assert texts[1].startswith("front end assets changed: index-a1b2c3.js -> index-ffee99.js since the last healthy")
    assert "GET /api/health?token p50 40 ms -> 2.6 s" in texts
    assert "public.events rows 1200 -> 600 (-50%)" in texts
    assert diff(healthy, healthy) == []


def test_the_deploy_version_comes_from_headers_health_bodies_and_asset_hashes():
    assert deploy_version({"X-App-Version": "1.4.2"}, '{"status": "ok", "version": "1.4.2", "ok": true}') == {
        "header x-app-version": "1.4.2", "body version": "1.4.2"}
    html = '<script type="module" src="/assets/index-4f9a1c2b.js"></script><link href="/assets/index-88aa77.css">'
    assert deploy_version({}, html) == {"assets": "index-4f9a1c2b.js index-88aa77.css"}
    assert deploy_version({}, "<html>plain</html>") == {}


def test_a_fingerprint_is_saved_atomically_through_the_redactor(tmp_path):
    path = fingerprint_file(tmp_path, "prod/eu")
    save(path, {"endpoints": {"GET /": {"status": 200}}, "note": "hunter2"},
         redact=lambda s: s.replace("hunter2", "***"))
    assert load(path) == {"endpoints": {"GET /": {"status": 200}}, "note": "***"}
    assert path.name == "prod_eu.json" and load(tmp_path / "missing.json") is None


def test_a_deploy_that_changed_its_front_end_is_seen_from_what_the_site_sends(stand_in_site):
    """A vite build's hashed assets and a version header, as a real front end sends them, through the HTTP
    probe's own evidence: the next run's fingerprint says the front end changed."""
    from scenescout_ir.core.config import Thresholds, Timeouts
    from scenescout_ir.probes.http import HttpProbe
    from tests.servers import Reply

    def run(bundle: str, version: str) -> dict:
        page = f'<script type="module" crossorigin src="/assets/index-{bundle}.js"></script>'.encode()
        site = stand_in_site({"/": Reply(200, page, "text/html"),
                              "/health": Reply(200, f'{{"status": "ok", "version": "{version}"}}'.encode())})
        recorded = []
        probe = HttpProbe(Timeouts(), recorded.append, Thresholds())
        probe.get(site.url + "/")
        probe.get(site.url + "/health")
        records = [{"check": "test_site_reachable", "evidence": [{"kind": e.kind, "title": e.title, "text": e.text,
                                                                   "data": e.data} for e in recorded]}]
        return build(records, version)

    before, after = run("4f9a1c2b", "1.4.2"), run("b7e3d901", "1.5.0")
    texts = [c.text for c in diff(before, after) if c.kind == "version"]
    assert any("front end assets changed: index-4f9a1c2b.js -> index-b7e3d901.js" in t for t in texts), texts
    assert any("body version changed: 1.4.2 -> 1.5.0" in t for t in texts), texts


def test_a_log_the_healthy_run_did_not_read_has_nothing_new_and_a_partial_healthy_run_forgets_nothing():
    from scenescout_ir.judge.fingerprint import merge

    clean = build([{"check": "l", "evidence": [{"kind": "log", "title": "errors in app.log", "text": "",
                                               "data": {"file": "app.log", "signatures": []}}]}], "t0")
    assert clean["errors"] == {"app.log": {}}  # read, and no errors: every error later is new
    now = build(records(sigs=(("boom <n>", 9),)), "t1")
    assert [c.text for c in diff(clean, now) if c.kind == "new_error"] == []  # application.log was never read
    both = merge(clean, build(records(), "t2"))
    assert set(both["errors"]) == {"app.log", "application.log"} and both["taken_at"] == "t2"
    assert "boom <n> x9, new in application.log" in [c.text for c in diff(both, now)]
