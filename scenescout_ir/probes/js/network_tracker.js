(() => {
  if (window.__scenescoutNet) return;
  const net = window.__scenescoutNet = { inflight: 0, last: performance.now() };
  const begin = () => { net.inflight += 1; net.last = performance.now(); };
  const end = () => { net.inflight = Math.max(0, net.inflight - 1); net.last = performance.now(); };
  const fetch = window.fetch;
  if (fetch) {
    window.fetch = function (...args) {
      begin();
      let pending;
      try { pending = fetch.apply(this, args); } catch (error) { end(); throw error; }
      return pending.then((response) => { end(); return response; }, (error) => { end(); throw error; });
    };
  }
  const send = XMLHttpRequest.prototype.send;
  XMLHttpRequest.prototype.send = function (...args) {
    begin();
    this.addEventListener("loadend", end, { once: true });
    return send.apply(this, args);
  };
})();
