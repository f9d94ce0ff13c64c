(nav) => Array.from(document.querySelectorAll(nav + " a[href]")).map((a) => ({
  text: a.textContent.trim(), href: a.getAttribute("href"), url: a.href,
}))
