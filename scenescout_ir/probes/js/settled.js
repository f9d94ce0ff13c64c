({ selector, quietMs, needCards }) => {
  const images = Array.from(document.images).filter((img) => img.loading !== "lazy" || img.complete);
  if (document.readyState !== "complete" || !images.every((img) => img.complete)) return false;
  const net = window.__scenescoutNet;
  const quiet = !net || (net.inflight === 0 && performance.now() - net.last >= quietMs);
  if (!needCards) return quiet ? "quiet" : false;
  const cards = Array.from(document.querySelectorAll(selector)).some((c) => c.textContent.trim() !== "");
  return cards ? "cards" : quiet ? "quiet" : false;
}
