"""Error signatures: the same error with other numbers, ids and times counts as one."""

from scenescout_ir.core.signatures import signature, top_signatures


def test_numbers_ids_and_timestamps_are_masked_the_words_kept():
    a = "2026-11-28T10:01:02.123Z ERROR request 7f3a9c2e-1b2c-4d5e-8f90-a1b2c3d4e5f6 failed after 2300 ms (pid 4411)"
    b = "2026-11-28T11:59:59Z ERROR request 0b1c2d3e-1b2c-4d5e-8f90-a1b2c3d4e5f6 failed after 15 ms (pid 17)"
    assert signature(a) == signature(b) == "request <id> failed after <n> ms (pid <n>)"


def test_json_lines_give_their_message_and_error():
    line = ('{"level":50,"time":1732780000000,"pid":7,"msg":"render failed",'
            '"err":{"type":"TypeError","message":"Cannot read properties of undefined (reading \'x\')"}}')
    assert signature(line) == "render failed - TypeError: Cannot read properties of undefined (reading 'x')"
    assert signature('{"not": "a log line"}') == '{"not": "a log line"}'
    assert signature("[1, 2]") == "[<n>, <n>]"


def test_the_top_signatures_are_counted_most_frequent_first():
    lines = [f"2026-11-28 10:00:{i:02d} ERROR upstream 429 from 10.0.0.{i}:443" for i in range(5)]
    lines += ["2026-11-28 10:01:00 ERROR psycopg.OperationalError: connection refused", "", "  "]
    assert top_signatures(lines) == [("upstream <n> from <ip>", 5),
                                     ("psycopg.OperationalError: connection refused", 1)]


def test_a_giant_line_is_shortened():
    assert len(signature("ERROR " + "word " * 1000)) == 160
