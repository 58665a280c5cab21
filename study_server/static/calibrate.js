// Screen calibration (the credit-card method; optionally the blind-spot method of Li et al. 2020, the
// "virtual chinrest"). The page only measures: the card's CSS width, the fixation-to-dot distance at each
// disappearance, the display's frame interval; the server computes px/mm, distance and px/degree.
(function () {
  "use strict";
  const cfg = JSON.parse(document.getElementById("calibration-config").textContent);
  const card = document.getElementById("card");
  const slider = document.getElementById("card-size");
  const field = (name, value) => { document.getElementById("f-" + name).value = String(value); };

  function setCard(px) {
    card.style.width = px + "px";
    card.style.height = (px * cfg.card_mm[1] / cfg.card_mm[0]) + "px";
  }
  slider.addEventListener("input", () => setCard(parseFloat(slider.value)));
  setCard(parseFloat(slider.value));
  slider.focus();

  // The display's frame interval: median of 60 requestAnimationFrame intervals.
  const deltas = [];
  let last = null;
  function tick(t) {
    if (last !== null) deltas.push(t - last);
    last = t;
    if (deltas.length < 60) requestAnimationFrame(tick);
  }
  requestAnimationFrame(tick);
  function frameMs() {
    const s = deltas.slice().sort((a, b) => a - b);
    return s.length ? s[Math.floor(s.length / 2)] : "";
  }

  let cardPx = null;  // measured when the participant confirms it (the card is hidden afterwards)
  function submit(blindspot) {
    field("card_px", cardPx);
    field("blindspot_px", blindspot.join(","));
    field("frame_ms", frameMs());
    field("screen_width", window.screen.width);
    field("screen_height", window.screen.height);
    field("window_width", window.innerWidth);
    field("window_height", window.innerHeight);
    field("device_pixel_ratio", window.devicePixelRatio || 1);
    document.getElementById("calibration-form").submit();
  }

  document.getElementById("card-done").addEventListener("click", () => {
    cardPx = card.getBoundingClientRect().width;
    if (!cfg.blind_spot) { submit([]); return; }
    document.getElementById("card-step").hidden = true;
    document.getElementById("blindspot-step").hidden = false;
    blindSpot(cardPx / cfg.card_mm[0]);
  });

  // Blind spot: the dot starts at the square and moves left at about 3 deg/s (for an assumed 57 cm);
  // the participant presses space when it vanishes. Each offset is the square-to-dot centre distance.
  function blindSpot(pxPerMm) {
    const area = document.getElementById("bs-area");
    const dot = document.getElementById("bs-dot");
    const square = document.getElementById("bs-square");
    const count = document.getElementById("bs-count");
    const startButton = document.getElementById("bs-start");
    const speed = 3 * pxPerMm * 570 * 2 * Math.tan(Math.PI / 360);  // px per second
    const offsets = [];
    let running = false;
    let offset = 0;
    let t0 = null;
    const squareCentre = () => square.offsetLeft + square.offsetWidth / 2;
    function place() { dot.style.left = (squareCentre() - offset - dot.offsetWidth / 2) + "px"; }
    function frame(t) {
      if (!running) return;
      if (t0 === null) t0 = t;
      offset = (t - t0) / 1000 * speed;
      if (squareCentre() - offset < 0) { running = false; count.textContent = "The dot reached the edge: please try again."; startButton.disabled = false; return; }
      place();
      requestAnimationFrame(frame);
    }
    startButton.addEventListener("click", () => {
      startButton.disabled = true;
      offset = 0; t0 = null; running = true; place();
      area.focus();  // off the button: the space bar must not start the next run
      requestAnimationFrame(frame);
    });
    document.addEventListener("keydown", (ev) => {
      if (ev.key !== " " || ev.repeat || !running) return;
      ev.preventDefault();
      running = false;
      offsets.push(Math.round(offset * 10) / 10);
      count.textContent = offsets.length + " of " + cfg.repeats + " done";
      if (offsets.length >= cfg.repeats) submit(offsets); else startButton.disabled = false;
    });
  }
})();
