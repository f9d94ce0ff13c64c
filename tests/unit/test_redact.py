"""Secrets never reach a message, an attachment or a report."""

from scenescout_ir.core.redact import Redactor, safe_dsn

DSN = "postgresql://oncall:S3cr%2Fet-pw@db.internal:5432/scenescout"


def test_a_dsn_keeps_user_and_host_but_not_its_password():
    assert safe_dsn(DSN) == "postgresql://oncall:***@db.internal:5432/scenescout"
    assert safe_dsn("host=db password=hunter22 dbname=x") == "host=db password=*** dbname=x"


def test_known_secret_values_are_scrubbed_anywhere_even_decoded():
    redact = Redactor([DSN, "tm-api-key-123"])
    text = redact(f"failed: {DSN}; raw S3cr/et-pw; decoded S3cr%2Fet-pw; key tm-api-key-123 in a sentence")
    for secret in ("S3cr/et-pw", "S3cr%2Fet-pw", "tm-api-key-123"):
        assert secret not in text


def test_credential_shapes_are_scrubbed_without_being_known():
    redact = Redactor()
    text = redact(
        "GET /discovery/v2/events.json?apikey=abc123&size=1\nAuthorization: Bearer eyJabc.def\n"
        "Cookie: session=xyz\ntoken=tok_999 password: pw-in-log"
    )
    for secret in ("abc123", "eyJabc.def", "session=xyz", "tok_999", "pw-in-log"):
        assert secret not in text
    assert "size=1" in text and "apikey=***" in text


def test_structured_data_is_scrubbed_recursively():
    redact = Redactor(["tm-api-key-123"])
    data = redact.data({"headers": {"X-Key": "tm-api-key-123"}, "rows": [["a", "tm-api-key-123"]], "n": 3})
    assert data == {"headers": {"X-Key": "***"}, "rows": [["a", "***"]], "n": 3}


def test_short_values_are_not_scrubbed_everywhere():
    assert Redactor(["a"])("a cat") == "a cat"
