"""docs/detection-matrix.md is what the tests that inject each fault proved: a hand edit that disagrees fails."""

import re

from fixtures.demo.drills import EXPECTED
from fixtures.demo.faults import FAULTS
from tests.demo_support import MATRIX_FILE, render_matrix


def rows_of(text):
    pattern = r"^\| `(\w+)` \| (\w+) \| `-m (\w+)` \| (\w+) \| ([\w:]+) \|"
    return {(m[0], m[1]): m for m in re.findall(pattern, text, re.M)}


def test_every_fault_has_an_expectation_and_a_row_that_agrees_with_it():
    assert set(EXPECTED) == set(FAULTS)
    rows = rows_of(MATRIX_FILE.read_text())
    for fault, expected in EXPECTED.items():
        row = rows.get((fault, expected.flavour))
        assert row, f"{fault} has no row in {MATRIX_FILE.name}: run make test"
        _, _, marker, verdict, cause = row
        assert (marker, verdict) == (expected.marker, expected.severity), f"{fault}: the matrix says {row}"
        assert cause.split(":")[0] == expected.cause.split(":")[0], f"{fault}: the matrix says {row}"


def test_the_matrix_renders_from_the_proven_rows():
    rows = [{"fault": "api_5xx", "flavour": "default", "marker": "emergency", "verdict": "SEV2", "cause": "api",
             "finding": "test_health_endpoint[/api/health]: /api/health is failing | 500", "seconds": 0.31}]
    text = render_matrix(rows)
    assert f"**1 of {len(FAULTS)} faults detected" in text
    assert "| `api_5xx` | default | `-m emergency` | SEV2 | api | test_health_endpoint[/api/health]: /api/health is " \
           "failing \\| 500 | 0.3 s |" in text
