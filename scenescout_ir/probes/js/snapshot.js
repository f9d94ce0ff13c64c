({ selector, main, nav }) => {
  const visible = (el) => !!el && el.getClientRects().length > 0;
  const cards = Array.from(document.querySelectorAll(selector));
  const filled = cards.filter((c) => c.textContent.trim() !== "");
  const entry = performance.getEntriesByType("navigation")[0];
  return {
    title: document.title.trim(),
    main: visible(document.querySelector(main)),
    nav: visible(document.querySelector(nav)),
    cards: filled.length,
    emptyCards: cards.length - filled.length,
    sample: filled.length ? filled[0].innerText.replace(/\\s+/g, " ").trim().slice(0, 160) : "",
    pageText: filled.length ? "" : (document.querySelector(main) || document.body).innerText
      .replace(/\\s+/g, " ").trim().slice(0, 200),
    images: Array.from(document.images).map((img) => ({
      src: img.currentSrc || img.src, complete: img.complete, naturalWidth: img.naturalWidth,
      lazy: img.loading === "lazy",
    })),
    timings: entry ? {
      ttfb_s: entry.responseStart / 1000,
      dom_content_loaded_s: entry.domContentLoadedEventEnd / 1000,
      load_s: entry.loadEventEnd / 1000,
    } : {},
  };
}
