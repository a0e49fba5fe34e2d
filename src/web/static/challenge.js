// The bot challenge widget (templates/_challenge.html) under our strict CSP. The vendored ALTCHA build
// (static/altcha/) brings no inline styles and no workers of its own: its proof-of-work worker is served as a
// file, registered here, and its texts come from our catalogs. A module, so the worker is registered before
// any widget can start solving, and loaded once however many times the partial is swapped in.
import "/static/altcha/altcha.min.js";

const altcha = globalThis.$altcha;
altcha.algorithms.set("PBKDF2/SHA-256", () => new Worker("/static/altcha/pbkdf2.js"));

// <altcha-widget language="zh-cn" data-strings='{…}'>: the texts for that language (English fills any gap).
function applyStrings(root) {
  const widgets = [...root.querySelectorAll("altcha-widget[data-strings]")];
  if (root.matches && root.matches("altcha-widget[data-strings]")) widgets.push(root);
  for (const widget of widgets) {
    const language = (widget.getAttribute("language") || "en").toLowerCase();
    altcha.i18n.set(language, { ...altcha.i18n.get("en"), ...JSON.parse(widget.dataset.strings) });
  }
}

applyStrings(document);
document.addEventListener("htmx:load", (event) => applyStrings(event.detail.elt));

// A solution is good for one submit. When the server answers a form with an error shown in place, the form
// stays, so its widget starts over and solves a fresh challenge for the next try.
document.addEventListener("htmx:afterRequest", (event) => {
  if (event.detail.xhr.status < 400) return;
  const form = event.detail.elt.closest("form");
  if (!form) return;
  for (const widget of form.querySelectorAll("altcha-widget")) {
    widget.reset();
    widget.verify();
  }
});
