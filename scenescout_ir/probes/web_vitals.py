"""Largest Contentful Paint from the user's browser: a PerformanceObserver with ``buffered: true`` reads
the candidates the page already reported; the last one is the LCP (until the user interacts).

The navigation timings (TTFB, DOMContentLoaded, load) come with the browser probe's page visit; this
adds the one paint metric the Navigation Timing API does not have.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Page

from scenescout_ir.core.evidence import Evidence

# Resolves with the latest LCP candidate as soon as the buffered entries are delivered; with null after
# `boundMs` when the page reported none (nothing painted, or a browser without the entry type).
LCP_SCRIPT = """
(boundMs) => new Promise((resolve) => {
  if (!PerformanceObserver.supportedEntryTypes.includes("largest-contentful-paint")) {
    resolve({ unsupported: true });
    return;
  }
  const timer = setTimeout(() => resolve(null), boundMs);
  new PerformanceObserver((list, observer) => {
    const entries = list.getEntries();
    const last = entries[entries.length - 1];
    const el = last.element;
    clearTimeout(timer);
    observer.disconnect();
    resolve({
      start_s: last.startTime / 1000,
      size: last.size,
      element: el ? el.tagName.toLowerCase() + (el.id ? "#" + el.id : "")
        + (el.classList.length ? "." + Array.from(el.classList).join(".") : "") : "",
      url: last.url || "",
    });
  }).observe({ type: "largest-contentful-paint", buffered: true });
})
"""


@dataclass(frozen=True)
class Paint:
    start_s: float | None  # from navigation start; None: not reported
    size: int = 0  # the element's painted area in CSS pixels
    element: str = ""  # img.event-image, h1#title ...
    url: str = ""  # the image's URL, for an image
    error: str | None = None  # why there is no value

    def describe(self) -> str:
        if self.start_s is None:
            return f"no Largest Contentful Paint ({self.error})"
        what = self.element + (f" {self.url}" if self.url else "")
        return f"Largest Contentful Paint {self.start_s:.3f} s ({what}, {self.size} px²)"


def largest_contentful_paint(page: Page, record: Callable[[Evidence], None], bound_ms: int = 1000) -> Paint:
    try:
        value: Any = page.evaluate(LCP_SCRIPT, bound_ms)
    except PlaywrightError as exc:
        paint = Paint(None, error=str(exc).strip().splitlines()[0])
    else:
        if value is None:
            paint = Paint(None, error=f"the page reported no candidate within {bound_ms} ms")
        elif value.get("unsupported"):
            paint = Paint(None, error="this browser does not report largest-contentful-paint")
        else:
            paint = Paint(float(value["start_s"]), int(value["size"]), str(value["element"]), str(value["url"]))
    record(Evidence("browser", "largest contentful paint", f"{page.url}: {paint.describe()}", asdict(paint)))
    return paint
