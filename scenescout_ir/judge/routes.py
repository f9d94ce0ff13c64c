"""One rule for a route's failure, whichever check judges it (site over HTTP, browser)."""

from __future__ import annotations

from typing import Any

_ROUTE_CONDITIONS = {  # (layer, critical) -> condition
    ("site", True): "route_down",  # Partial system outage (SEV2); all user-facing down: complete outage
    ("site", False): "route_feature_failure",  # Non-critical feature failures (SEV3)
    ("browser", True): "home_no_events",  # Partial system outage (SEV2)
    ("browser", False): "feature_failure",  # Non-critical feature failures (SEV3)
}


def route_condition(target: Any, route: str, layer: str) -> str:
    """The condition of a route that fails (does not answer, answers an error, renders nothing): a critical
    route (``critical_routes``, default the home page) is a partial outage (SEV2), any other route a
    non-critical feature failure (SEV3); ``layer`` is "site" (HTTP) or "browser"."""
    return _ROUTE_CONDITIONS[(layer, target.route_is_critical(route))]
