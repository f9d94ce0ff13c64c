"""A TLS certificate judged by the days it has left: expired (SEV1: renew it), expiring within the limit, or fine.

One judgement for the certificate check (checks/test_site.py) and the site-down scenario (scenarios/test_site_down.py),
so both name the same condition with the same words.
"""

from __future__ import annotations

from dataclasses import dataclass

EXPIRED = "tls_certificate_expired"
EXPIRING = "tls_certificate_expiring"


@dataclass(frozen=True)
class CertificateProblem:
    condition: str  # EXPIRED or EXPIRING (keys of the conditions table)
    message: str

    @property
    def expired(self) -> bool:
        return self.condition == EXPIRED


def certificate_problem(host: str, days_left: float, limit_days: float, described: str) -> CertificateProblem | None:
    """``days_left``: negative once expired; ``described``: what the certificate says of itself (valid until, subject,
    issuer). None: valid for longer than ``limit_days``."""
    if days_left <= 0:
        return CertificateProblem(EXPIRED, f"the TLS certificate of {host} expired {-days_left:.1f} days ago: "
                                           f"{described}")
    if days_left <= limit_days:
        return CertificateProblem(EXPIRING, f"the TLS certificate of {host} expires in {days_left:.1f} days "
                                            f"(limit: {limit_days:g} days): {described}")
    return None
