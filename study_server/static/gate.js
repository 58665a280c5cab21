// The consent page's device gate: a screen smaller than the study allows, or a touch-only device (no
// mouse or trackpad), hides the form. The measured values go with the form so the server checks again.
(function () {
  "use strict";
  const cfg = JSON.parse(document.getElementById("gate-config").textContent);
  const w = window.screen.width;
  const h = window.screen.height;
  const touchOnly = !window.matchMedia("(any-pointer: fine)").matches
    && window.matchMedia("(any-pointer: coarse)").matches;
  document.getElementById("screen_width").value = String(w);
  document.getElementById("screen_height").value = String(h);
  document.getElementById("touch_only").value = touchOnly ? "1" : "0";
  if (w < cfg.min_width || h < cfg.min_height || (touchOnly && !cfg.allow_touch_only)) {
    document.getElementById("gate").hidden = false;
    document.getElementById("consent-body").hidden = true;
  }
  const form = document.getElementById("consent-form");
  form.addEventListener("submit", () => {  // one participant per click: a double click sends once
    setTimeout(() => { document.getElementById("consent-submit").disabled = true; }, 0);
  });
})();
