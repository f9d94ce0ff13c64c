"""The TLS certificate a site presents: its expiry, subject and issuer, read from the HTTPS exchange itself.

``ssl`` parses a certificate only when it verified it; an expired or self-signed one (the case that matters) is
read here from its DER bytes, with the few lines of ASN.1 a certificate's validity and names need.
"""

from __future__ import annotations

import socket
import ssl
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

_NAMES = {b"\x55\x04\x03": "CN", b"\x55\x04\x0a": "O", b"\x55\x04\x0b": "OU", b"\x55\x04\x06": "C"}
_STRINGS = {0x0C, 0x13, 0x14, 0x16, 0x1E}  # UTF8String, PrintableString, T61String, IA5String, BMPString


@dataclass(frozen=True)
class TlsCertificate:
    not_after: datetime  # UTC
    subject: str  # "CN=scenescout.app, O=..."
    issuer: str

    def days_left(self, now: datetime | None = None) -> float:
        """Days until it expires; negative once it has."""
        return (self.not_after - (now or datetime.now(UTC))).total_seconds() / 86400

    def describe(self) -> str:
        return f"valid until {self.not_after:%Y-%m-%d %H:%M} UTC (subject {self.subject}; issuer {self.issuer})"

    def to_dict(self) -> dict[str, Any]:
        return {"not_after": self.not_after.isoformat(), "subject": self.subject, "issuer": self.issuer}


def peer_certificate(sock: Any) -> TlsCertificate | None:
    """The certificate of an open TLS socket (verified or not); None for a plain socket or when unreadable."""
    getpeercert = getattr(sock, "getpeercert", None)
    if getpeercert is None:
        return None
    try:
        der = getpeercert(binary_form=True)
    except (OSError, ValueError):
        return None
    return parse_certificate(der) if der else None


def unverified_certificate(host: str, port: int, timeout_s: float) -> TlsCertificate | None:
    """The certificate a host presents, without verifying it: one bounded handshake, for a host whose
    certificate was not accepted (expired, self-signed), so the finding can say which certificate and why."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        with socket.create_connection((host, port), timeout=timeout_s) as raw, \
                context.wrap_socket(raw, server_hostname=host) as tls:
            return peer_certificate(tls)
    except (OSError, ValueError):
        return None


def parse_certificate(der: bytes) -> TlsCertificate | None:
    """notAfter, subject and issuer of a DER X.509 certificate; None when it does not parse as one."""
    try:
        (_, certificate), = _items(der)
        tbs = _items(_items(certificate)[0][1])
        if tbs[0][0] == 0xA0:  # [0] version
            tbs = tbs[1:]
        issuer, validity, subject = tbs[2][1], tbs[3][1], tbs[4][1]
        (_, _), (kind, not_after) = _items(validity)
        return TlsCertificate(_time(kind, not_after.decode("ascii")), _name(subject), _name(issuer))
    except (ValueError, IndexError, UnicodeDecodeError):
        return None


def _items(data: bytes) -> list[tuple[int, bytes]]:
    """The (tag, content) items of a DER sequence's content."""
    items, i = [], 0
    while i < len(data):
        tag, length = data[i], data[i + 1]
        i += 2
        if length & 0x80:
            n = length & 0x7F
            length = int.from_bytes(data[i:i + n], "big")
            i += n
        if i + length > len(data):
            raise ValueError("truncated")
        items.append((tag, data[i:i + length]))
        i += length
    return items


def _time(kind: int, text: str) -> datetime:
    if kind == 0x17:  # UTCTime YYMMDDHHMMSSZ
        year = int(text[:2])
        text = f"{1900 + year if year >= 50 else 2000 + year}{text[2:]}"
    elif kind != 0x18:  # GeneralizedTime YYYYMMDDHHMMSSZ
        raise ValueError("not a time")
    return datetime.strptime(text.rstrip("Z"), "%Y%m%d%H%M%S").replace(tzinfo=UTC)


def _name(data: bytes) -> str:
    parts = []
    for _, rdn in _items(data):  # SET OF AttributeTypeAndValue
        for _, pair in _items(rdn):
            (_, oid), (kind, value) = _items(pair)[:2]
            if oid in _NAMES and kind in _STRINGS:
                text = value.decode("utf-16-be" if kind == 0x1E else "utf-8", errors="replace")
                parts.append(f"{_NAMES[oid]}={text}")
    return ", ".join(parts) or "(no name)"
