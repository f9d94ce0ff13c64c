"""The verdict block's one-line summary of a finding (scenescout_ir/core/summary.py), on the texts real runs wrote.

The inputs are verdict.json summaries of the prod demo flavour (a SPA on a PostgREST-style data API, its queries
encoded as supabase-js sends them) with the data API answering 500 or down, and the shape SceneScout's real
front end gives (an embedded select, the same request once per category)."""

from __future__ import annotations

import pytest

from scenescout_ir.core.conditions import CONDITIONS
from scenescout_ir.core.summary import CAUSE, LINE, collapse_whitespace, cut, short_url, summarise
from scenescout_ir.judge.verdict import FAILED, CheckRecord, assemble

# test_page_renders_events[/] of the prod flavour with api_5xx (2026-12-02)
HOME_5XX = (
    "/: 0 cards with content ([data-testid=event-card]); the page says 'Showing events near Berlin\\n\\nNo events "
    "found'; errors during the load: GET http://127.0.0.1:54915/rest/v1/events?select=id%2Ctitle%2Ccategory%2C"
    "starts_at%2Cvenue%2Ccity%2Cimage_url&order=starts_at.asc&limit=24 (fetch) -> 500; console: Error fetching "
    'events: {"status":500,"message":"internal server error"} (/assets/app.js)'
)
# test_no_console_or_request_errors[/venues] with the data API down
VENUES_DOWN = (
    "/venues: 2 errors during the load: GET http://127.0.0.1:54915/rest/v1/venues?select=id%2Cname%2Ccity%2C"
    "address%2Cupcoming_events&order=city.asc%2Cname.asc (fetch) -> net::ERR_CONNECTION_REFUSED; console: Error "
    "fetching venues: {} (/assets/app.js)"
)
# SceneScout's real home page: one request per category, each with an embedded select
CATEGORY = ("GET https://abcd.supabase.co/rest/v1/events?select=*%2Cvenue%3Avenues%28id%2Cname%2Ccity%2Caddress"
            "%2Clatitude%2Clongitude%29&category=eq.{}&order=starts_at.asc&apikey=eyJhbGciOiJIUzI1NiJ9 (fetch) -> 503")
REAL_HOME = ("/: 7 errors during the load: " + "; ".join(CATEGORY.format(c) for c in ("music",) * 6)
             + "; console: Error fetching events: TypeError: Failed to fetch (/assets/index-4f2a.js)")


def test_a_browser_finding_reads_in_a_line_with_its_console_message_first():
    line = summarise(HOME_5XX)
    assert len(line) <= LINE
    assert "%2C" not in line and "\\n" not in line and "http://" not in line
    assert line.startswith("/: 0 cards with content ([data-testid=event-card]); the page says 'Showing events near "
                           "Berlin No events found'; errors during the load: console: Error fetching events: "
                           '{"status":500,"message":"internal server error"}')


def test_urls_are_decoded_and_shortened_and_the_console_message_comes_before_them():
    assert summarise(VENUES_DOWN) == (
        "/venues: 2 errors during the load: console: Error fetching venues: {} (/assets/app.js); GET /rest/v1/venues"
        "?select=id,name,city,address,…&order=city.asc,name.asc (fetch) -> net::ERR_CONNECTION_REFUSED")


def test_the_same_request_once_per_category_is_said_once_with_a_count():
    line = summarise(REAL_HOME)
    assert line == (
        "/: 7 errors during the load: console: Error fetching events: TypeError: Failed to fetch "
        "(/assets/index-4f2a.js); 6x GET /rest/v1/events?select=*,venue:venues(…)&category=eq.music&order=starts_at"
        ".asc&apikey=… (fetch) -> 503")
    assert "eyJ" not in line  # a key in a query never reaches the line


def test_a_long_text_is_cut_at_a_word_with_an_ellipsis():
    text = "word " * 100
    line = summarise(text, 50)
    assert len(line) <= 50 and line.endswith("word…")
    assert cut("abc def ghi", 8) == "abc def…" and cut("short", 10) == "short"


@pytest.mark.parametrize(("url", "short"), [
    ("https://x.supabase.co/rest/v1/events?select=*%2Cvenue%3Avenues%28id%2Cname%29",
     "/rest/v1/events?select=*,venue:venues(id,name)"),
    ("https://x.supabase.co/rest/v1/events?select=*%2Cvenue%3Avenues%28id%2Cname%2Ccity%2Caddress%29",
     "/rest/v1/events?select=*,venue:venues(…)"),
    ("http://127.0.0.1:8000/caf%C3%A9%20bar?q=rock+music", "/café bar?q=rock music"),
    ("https://x/api?token=abc", "/api?token=…"),
])
def test_short_url(url, short):
    assert short_url(url) == short


def test_whitespace_real_and_literal_is_one_space():
    assert collapse_whitespace("a\n\n b\\n\\nc\t d") == "a b c d"


def test_the_verdict_block_shortens_every_finding_and_names_the_cause_once_while_verdict_json_keeps_it_whole():
    records = [
        CheckRecord("n1", "test_page_renders_events[/]", FAILED, "home_no_events", HOME_5XX),
        CheckRecord("n2", "test_no_console_or_request_errors[/]", FAILED, "feature_failure", REAL_HOME),
        CheckRecord("n3", "test_health_endpoint[/health]", FAILED, "partial_outage",
                    "/health is failing: GET /health -> 500 in 0.02 s " + "x" * 1200),
    ]
    verdict = assemble(records, target="t", base_url="http://x", started_at="s", finished_at="f", duration_s=1.0)
    lines = verdict.lines()
    findings = [line for line in lines if line.startswith("  SEV")]
    assert len(findings) == 4 and all(len(line) <= LINE + 120 for line in findings), lines
    cause = next(line for line in lines if line.startswith("Probable cause"))
    assert len(cause) <= CAUSE + 150, cause
    kept = {f["summary"] for f in verdict.to_dict()["findings"]}
    assert {r.summary for r in records} <= kept  # verdict.json keeps each finding's full text
    assert "home_no_events" in CONDITIONS
