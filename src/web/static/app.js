// Small behaviours htmx leaves to us. Served as a file: the CSP allows no inline script.
(function () {
  "use strict";

  function errorBox(elt) {
    var form = elt.closest("[data-errors]");
    var box = form && form.querySelector(form.getAttribute("data-errors"));
    return box || document.getElementById("alerts");
  }

  // Error answers carry a fragment (_errors.html): show it in the form's error box, or in #alerts.
  document.addEventListener("htmx:beforeSwap", function (event) {
    if (event.detail.xhr.status < 400) return;
    var elt = event.detail.requestConfig.elt;
    event.detail.shouldSwap = true;
    event.detail.isError = false;
    event.detail.target = errorBox(elt);
    event.detail.swapOverride = "innerHTML";
    if (elt.tagName === "SELECT") {
      for (var i = 0; i < elt.options.length; i++) elt.options[i].selected = elt.options[i].defaultSelected;
    }
  });

  // A new attempt starts clean: earlier errors and invalid marks go.
  document.addEventListener("htmx:beforeRequest", function (event) {
    var form = event.detail.elt.closest("[data-errors]");
    if (!form) return;
    var box = form.querySelector(form.getAttribute("data-errors"));
    if (box) box.innerHTML = "";
    form.querySelectorAll("[aria-invalid]").forEach(function (input) { input.removeAttribute("aria-invalid"); });
  });

  // Mark the inputs an error names, and reset forms that asked for it after a success.
  document.addEventListener("htmx:afterRequest", function (event) {
    var elt = event.detail.elt;
    var form = elt.closest("form");
    if (!form) return;
    if (event.detail.xhr.status >= 400) {
      form.querySelectorAll("[data-field]").forEach(function (item) {
        var input = form.querySelector('[name="' + item.getAttribute("data-field") + '"]');
        if (input) input.setAttribute("aria-invalid", "true");
      });
    } else if (form.hasAttribute("data-reset-on-success")) {
      form.reset();
    }
  });

  // Copy buttons: <button data-copy="selector"> copies the value of a sibling field.
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy]");
    if (!button) return;
    var source = button.parentElement.querySelector(button.getAttribute("data-copy"));
    if (!source) return;
    source.select();
    if (navigator.clipboard) navigator.clipboard.writeText(source.value);
    button.classList.add("copied");
  });
})();

// Plain forms that need a second thought: <button data-confirm="…"> asks before submitting.
document.addEventListener("submit", function (event) {
  var button = event.submitter;
  var question = button && button.getAttribute("data-confirm");
  if (question && !window.confirm(question)) event.preventDefault();
});
