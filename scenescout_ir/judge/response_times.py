"""How slow is slow: the playbook's findings for a slow answer, or none in time from a host known to be slow."""

from __future__ import annotations

from scenescout_ir.core.config import Thresholds
from scenescout_ir.core.outcomes import Finding
from scenescout_ir.probes.http import HttpResult, short_url


def check_slow(result: HttpResult, limits: Thresholds) -> None:
    """Raise the playbook's slow finding for a request that got no answer in time from a host known to answer
    slowly (the probe's ``slow_s``): slow is not down. Likewise a request refused for the host's expired TLS
    certificate is that certificate's finding (renew it), not an outage (restart the app)."""
    if result.status is None and result.tls is not None and result.tls.days_left() <= 0:
        raise Finding("tls_certificate_expired", f"{short_url(result.url)}: {result.error or 'certificate expired'}")
    if result.status is None and result.slow_s is not None:
        path = short_url(result.url)
        condition = "significant_degradation" if result.slow_s > limits.response_sev2_s else "slow_site"
        line = limits.response_sev2_s if condition == "significant_degradation" else limits.response_slo_s
        detail = (result.error or "").removeprefix("slow: ")
        raise Finding(condition, f"SLOW: {path}: {detail} (limit: {line:g} s)")


def check_response_time(result: HttpResult, limits: Thresholds) -> None:
    """Raise the playbook's finding for a slow answer: over the SLO is minor, over 10 s significant."""
    check_slow(result, limits)
    path = short_url(result.url)
    if result.elapsed_s > limits.response_sev2_s:
        raise Finding(
            "significant_degradation",
            f"{path} is slow: {result.elapsed_s:.1f} s (limit: {limits.response_sev2_s:g} s, the playbook's SEV2 line)",
        )
    if result.elapsed_s > limits.response_slo_s:
        raise Finding("slow_site", f"{path} is slow: {result.elapsed_s:.1f} s (SLO: {limits.response_slo_s:g} s)")
