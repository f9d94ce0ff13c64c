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


def _slow(redact: Redactor, text: str) -> str:
    """Every pattern and value applied to every text: what the redactor's shortcuts must equal."""
    from scenescout_ir.core.redact import _PATTERNS, MASK, printable

    for pattern in _PATTERNS:
        text = pattern.sub(lambda m: m.group("keep") + MASK, text)
    for value in redact._values:
        text = text.replace(value, MASK)
    return printable(text)


def test_the_shortcuts_redact_exactly_as_every_pattern_would():
    """Texts with none of the patterns' cues skip them, and short texts are remembered: neither may let a
    credential through, whatever its case (Unicode's folding too: a Kelvin sign is a k to re.IGNORECASE)."""
    import itertools

    keys = ["password", "PassWD", "pwd", "apikey", "API_KEY", "x-api-\u212aey", "access_token", "Token",
            "client_secret", "Authorization", "set-cookie", "COOKIE", "user", "name"]
    seps = ["=", ": ", ":", " = '"]
    values = ["hunter22", "tm-api-key-123", "Bearer eyJabc.def", ""]
    texts = [f"{k}{s}{v}" for k, s, v in itertools.product(keys, seps, values)]
    texts += [f"postgres://u:{v}@h/db" for v in ("pw", "S3cr%2Fet-pw")] + [DSN, "plain text", "a\x1b[31mred", "x" * 300]
    redact = Redactor([DSN, "tm-api-key-123"])
    for _ in range(2):  # the second time from memory
        for text in texts:
            assert redact(text) == _slow(redact, text), text
    assert "hunter22" not in redact("PASSWORD=hunter22") and "hunter22" not in redact("x-api-\u212aey: hunter22")
