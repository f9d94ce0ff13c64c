"""What an HTTP answer says about the deployed version: a version header, a health body's version field, the
front end's hashed asset names. The HTTP probe records it in its evidence; the fingerprint (judge) compares it
between runs."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping

VERSION_HEADERS = ("x-app-version", "x-version", "x-release", "x-build", "x-git-sha", "x-commit")
VERSION_KEYS = ("version", "release", "build", "commit", "sha", "git_sha", "revision")
_ASSET = re.compile(r"""(?:src|href)=["']([^"']*?[.-][0-9a-f]{6,}[^"']*\.(?:js|css))["']""", re.I)


def deploy_version(headers: Mapping[str, str], body: str) -> dict[str, str]:
    """What a response says about the deployed version: a header, a health body's field, asset hashes."""
    found: dict[str, str] = {}
    lowered = {k.lower(): v for k, v in headers.items()}
    for name in VERSION_HEADERS:
        if lowered.get(name):
            found[f"header {name}"] = lowered[name][:80]
    if body.lstrip().startswith("{"):
        try:
            data = json.loads(body)
        except ValueError:
            data = None
        if isinstance(data, dict):
            for key in VERSION_KEYS:
                if isinstance(data.get(key), str | int | float) and not isinstance(data.get(key), bool):
                    found[f"body {key}"] = str(data[key])[:80]
    assets = sorted(set(_ASSET.findall(body)))
    if assets:
        found["assets"] = " ".join(a.rsplit("/", 1)[-1] for a in assets)[:400]
    return found
