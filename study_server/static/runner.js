// Trial runner: preloads each image and draws it at the centre of the screen at its calibrated size (a
// whole number of device pixels per image pixel, nearest neighbour, unless the study asks for smooth
// scaling); measures the refresh rate before the trials; starts each trial from a key press or a button
// over the stimulus (the pointer is then away from the answers) and a fixation mark; times the image and
// the mask on display frames (requestAnimationFrame) and stores the frames requested, shown and dropped;
// measures RT from the onset frame, enforces the response deadline, offers breaks, asks for fullscreen and
// records its exits, and posts every answer as soon as it is made. Unacknowledged answers wait in a
// localStorage queue and are retried with backoff, so a flaky network or a restarting server loses
// nothing; the server stores each trial once.
(function () {
  "use strict";
  const cfg = JSON.parse(document.getElementById("runner-config").textContent);
  const box = document.getElementById("stimulus-box");
  const fixation = document.getElementById("fixation");
  const feedback = document.getElementById("feedback");
  const netStatus = document.getElementById("net-status");
  const progressText = document.getElementById("progress-text");
  const progressBar = document.getElementById("progress-bar");
  const filter = document.getElementById("filter");
  const nextButton = document.getElementById("next");
  // Fooling-image sets: "none of these" is an answer of its own, beside the class buttons.
  function addNoneButton() {
    const b = document.createElement("button");
    b.type = "button";
    b.className = "legend-button none-button";
    b.id = "none-button";
    b.dataset.class = "none";
    b.dataset.name = "none of these i cannot recognise it";
    b.disabled = true;
    const label = document.createElement("span");
    label.textContent = "None of these / I cannot recognise it";
    b.appendChild(label);
    document.querySelector(".stage").appendChild(b);
  }
  if (cfg.allow_none) addNoneButton();
  const buttons = Array.from(document.querySelectorAll(".legend-button"));
  const names = {};
  buttons.forEach((b) => { names[b.dataset.class] = b.querySelector("span").textContent; });

  const queueKey = cfg.pid ? "study-queue-" + cfg.pid : null;
  const loadQueue = () => { try { return JSON.parse(localStorage.getItem(queueKey) || "[]"); } catch (e) { return []; } };
  const saveQueue = (q) => { localStorage.setItem(queueKey, JSON.stringify(q)); };

  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  const nextFrame = () => new Promise((r) => requestAnimationFrame(r));
  let onset = null;
  let waiting = null;  // resolve function of the pending answer

  // ---- stimulus size and place ----
  // cfg.stimulus_px is the calibrated width (CSS px). "integer": k device pixels per image pixel, k the
  // whole number nearest to the calibrated size, so every image pixel is a k x k block; "smooth": exactly
  // the calibrated width, resampled smoothly. The box is centred on whole device pixels.
  box.classList.add(cfg.scaling === "integer" ? "pixelated" : "smooth");
  let drawn = null;  // {css, scale, imagePx}: set from the first image
  function sizeFor(imagePx) {
    const dpr = window.devicePixelRatio || 1;
    if (cfg.scaling !== "integer") return { css: cfg.stimulus_px, scale: null, imagePx: imagePx };
    const scale = Math.max(1, Math.round(cfg.stimulus_px * dpr / imagePx));
    return { css: scale * imagePx / dpr, scale: scale, imagePx: imagePx };
  }
  function place() {
    const dpr = window.devicePixelRatio || 1;
    const size = drawn ? drawn.css : cfg.stimulus_px;
    const snap = (v) => Math.round(v * dpr) / dpr;
    const top = snap((window.innerHeight - size) / 2);
    box.style.width = box.style.height = size + "px";
    box.style.left = snap((window.innerWidth - size) / 2) + "px";
    box.style.top = top + "px";
    const root = document.documentElement.style;
    root.setProperty("--stimulus-px", size + "px");
    root.setProperty("--box-top", top + "px");
    // the two halves of the legend as tall as each other, so their rows line up across the stimulus
    const halves = Array.from(document.querySelectorAll(".choices .legend-grid"));
    halves.forEach((g) => { g.style.minHeight = ""; });
    const tallest = Math.max(...halves.map((g) => g.offsetHeight));
    halves.forEach((g) => { g.style.minHeight = tallest + "px"; });
  }
  window.addEventListener("resize", () => { if (drawn) drawn = sizeFor(drawn.imagePx); place(); });
  place();

  // ---- fullscreen: asked for on the start button (a user gesture); each exit is reported ----
  let exits = cfg.fullscreen_exits || 0;
  let wasFullscreen = false;
  let fullscreenWorks = true;
  async function enterFullscreen() {
    if (!cfg.fullscreen || document.fullscreenElement) return;
    try { await document.documentElement.requestFullscreen(); } catch (e) { fullscreenWorks = false; }
  }
  async function postJson(url, body) {  // a few tries with backoff; a 4xx is final
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        const res = await fetch(url, {
          method: "POST", headers: { "Content-Type": "application/json" },
          body: JSON.stringify(body), credentials: "same-origin",
        });
        if (res.ok || (res.status >= 400 && res.status < 500)) return;
      } catch (e) { /* retried below */ }
      await sleep(1000 * 2 ** attempt);
    }
  }
  function reportExit() { return postJson(cfg.fullscreen_api, { count: exits }); }
  document.addEventListener("fullscreenchange", () => {
    if (document.fullscreenElement) { wasFullscreen = true; return; }
    if (wasFullscreen) { wasFullscreen = false; exits += 1; reportExit(); }
  });
  function panel(id, buttonId) {
    const el = document.getElementById(id);
    el.hidden = false;
    document.getElementById(buttonId).focus();
    return new Promise((resolve) => {
      document.getElementById(buttonId).addEventListener("click", async () => {
        await enterFullscreen();
        el.hidden = true;
        resolve();
      }, { once: true });
    });
  }
  async function backToFullscreen() {  // before a trial: never show an image outside fullscreen by choice
    if (cfg.fullscreen && fullscreenWorks && !document.fullscreenElement) await panel("fs-panel", "fs-resume");
  }

  function setButtons(enabled) {
    buttons.forEach((b) => { b.disabled = !enabled; });
    if (enabled) { filter.value = ""; applyFilter(); filter.focus(); }
  }
  function visibleButtons() { return buttons.filter((b) => !b.classList.contains("dim")); }
  // Up/down: the nearest visible button above or below in the same column (the legend has two sides).
  function vertical(vis, from, down) {
    const r = from.getBoundingClientRect();
    let best = from, bestDy = Infinity;
    vis.forEach((b) => {
      const q = b.getBoundingClientRect();
      const dy = down ? q.top - r.top : r.top - q.top;
      if (dy > 1 && Math.abs(q.left - r.left) < r.width / 2 && dy < bestDy) { best = b; bestDy = dy; }
    });
    return best;
  }
  function applyFilter() {
    const q = filter.value.trim().toLowerCase();
    buttons.forEach((b) => { b.classList.toggle("dim", q !== "" && !b.dataset.name.includes(q)); });
  }
  function choose(button) {
    if (!waiting || button.disabled) return;
    const rt = performance.now() - onset;
    const resolve = waiting;
    waiting = null;
    setButtons(false);
    const value = button.dataset.class === "none" ? "none" : parseInt(button.dataset.class, 10);
    resolve({ response: value, rt_ms: Math.round(rt * 10) / 10 });
  }
  buttons.forEach((b) => b.addEventListener("click", () => choose(b)));
  filter.addEventListener("input", applyFilter);
  document.addEventListener("keydown", (ev) => {
    if (!waiting) return;
    const vis = visibleButtons();
    const idx = vis.indexOf(document.activeElement);
    if (ev.key === "Enter") {
      if (idx >= 0) { ev.preventDefault(); choose(vis[idx]); }
      else if (vis.length === 1) { ev.preventDefault(); choose(vis[0]); }
      else if (vis.length > 1 && document.activeElement === filter) { ev.preventDefault(); vis[0].focus(); }
      return;
    }
    if (!["ArrowRight", "ArrowLeft", "ArrowDown", "ArrowUp"].includes(ev.key) || vis.length === 0) return;
    ev.preventDefault();
    if (idx < 0) { vis[0].focus(); return; }
    if (ev.key === "ArrowDown" || ev.key === "ArrowUp") { vertical(vis, vis[idx], ev.key === "ArrowDown").focus(); return; }
    const step = ev.key === "ArrowRight" ? 1 : -1;  // reading order: the left side, then the right
    vis[Math.min(vis.length - 1, Math.max(0, idx + step))].focus();
  });

  function showProgress(done, total) {
    progressText.textContent = "Image " + Math.min(done + 1, total) + " of " + total;
    progressBar.style.width = (100 * done / total) + "%";
  }

  // Images are fetched and decoded ahead of time (retrying while the network is down), so the onset
  // is the moment a fully decoded image is painted and RT never includes download or decode time.
  const loading = {};
  async function loadImage(src) {
    for (let attempt = 0; ; attempt++) {
      const img = new Image();
      img.alt = "";
      img.src = src;
      try { await img.decode(); return img; } catch (e) {
        await sleep(Math.min(500 * 2 ** attempt, 8000));
      }
    }
  }
  function preload(src) {
    if (!loading[src]) loading[src] = loadImage(src);
    return loading[src];
  }

  function noiseMask() {
    const mask = document.createElement("canvas");
    mask.width = 32; mask.height = 32;
    const ctx = mask.getContext("2d");
    const data = ctx.createImageData(32, 32);
    for (let i = 0; i < data.data.length; i += 4) {
      const v = Math.floor(Math.random() * 256);
      data.data[i] = data.data[i + 1] = data.data[i + 2] = v; data.data[i + 3] = 255;
    }
    ctx.putImageData(data, 0, 0);
    return mask;
  }

  // The display's frame interval, measured on this page before the first trial (after fullscreen is
  // entered): the median of 60 requestAnimationFrame intervals. The raw intervals go to the server,
  // which stores the refresh rate (study_server.display).
  let frameMs = cfg.frame_ms || 1000 / 60;
  async function measureFrames(n) {
    const intervals = [];
    let last = await nextFrame();
    while (intervals.length < n) {
      const t = await nextFrame();
      intervals.push(t - last);
      last = t;
    }
    const sorted = intervals.slice().sort((a, b) => a - b);
    frameMs = sorted[Math.floor(n / 2)];
    return intervals;
  }
  async function prepare(firstSrc) {  // the stimulus's drawn size, from the first image
    const img = await preload(firstSrc);
    drawn = sizeFor(img.naturalWidth);
    place();
  }
  async function measureDisplay() {
    const intervals = await measureFrames(60);
    if (cfg.display_api && drawn) {
      postJson(cfg.display_api, {
        frame_intervals_ms: intervals.map((x) => Math.round(x * 1000) / 1000),
        device_pixel_ratio: window.devicePixelRatio || 1,
        image_px: drawn.imagePx, stimulus_px: drawn.css, scale: drawn.scale,
      });
    }
  }

  // Wait until the frame that starts `ms` after `start` has begun, and return its time and the frames
  // missed on the way. A change made in a frame callback is painted in that frame, so the change is made
  // one frame ahead: n = round(ms / frame) frames after `start`, whatever the refresh rate. A missed
  // frame (an interval of two or more frames) can only make the image stay longer, never shorter.
  async function changeAfter(start, ms, change) {
    let t = start;
    let dropped = 0;
    const step = async () => {
      const now = await nextFrame();
      dropped += Math.max(0, Math.round((now - t) / frameMs) - 1);
      t = now;
    };
    while (t + frameMs - start < ms - frameMs / 2) await step();
    change();
    await step();
    return { t: t, dropped: dropped };
  }

  // Each trial starts when the participant asks for it (space bar, or the button over the stimulus), so
  // the pointer is away from the answers at onset; then a fixation mark, then the image.
  function waitForNext() {
    nextButton.hidden = false;
    nextButton.focus();
    return new Promise((resolve) => {
      function done(ev) {
        if (ev.type === "keydown") {
          if (ev.key !== " " || ev.repeat || document.activeElement === nextButton) return;
          ev.preventDefault();
        }
        nextButton.removeEventListener("click", done);
        document.removeEventListener("keydown", done);
        nextButton.hidden = true;
        resolve();
      }
      nextButton.addEventListener("click", done);
      document.addEventListener("keydown", done);
    });
  }
  async function beginTrial() {
    await waitForNext();
    fix();
    await sleep(500);
  }

  // The image goes in at a frame callback; the next callback's time is its onset (it was painted then).
  // A timed image gives way to the mask after the nearest whole number of frames to presentation_ms;
  // shown_ms = mask onset - image onset, both frame times. The mask then stays for mask_ms, on frames.
  async function present(src) {
    const img = await preload(src);
    await nextFrame();
    box.replaceChildren(img);
    const t0 = await nextFrame();
    onset = t0;
    document.body.classList.add("pointer-still");  // no hover outline until the pointer moves
    const result = { shown_ms: null, frames_requested: null, frames_shown: null, frames_dropped: null };
    const answer = new Promise((resolve) => { waiting = resolve; });
    let deadlineTimer = null;
    if (cfg.response_deadline_ms) {
      deadlineTimer = setTimeout(() => {
        if (!waiting) return;
        const resolve = waiting;
        waiting = null;
        setButtons(false);
        resolve({ response: null, rt_ms: null, timed_out: true });
      }, Math.max(0, cfg.response_deadline_ms - (performance.now() - t0)));
    }
    setButtons(true);
    if (cfg.presentation_ms) {
      const mask = cfg.mask_ms > 0 ? noiseMask() : fixationBlank();
      const requested = Math.max(1, Math.round(cfg.presentation_ms / frameMs));
      const shown = await changeAfter(t0, requested * frameMs, () => {
        if (box.firstChild === img) box.replaceChildren(mask);
      });
      const t1 = shown.t;
      result.shown_ms = Math.round((t1 - t0) * 10) / 10;
      result.frames_requested = requested;
      result.frames_shown = Math.round((t1 - t0) / frameMs);
      result.frames_dropped = shown.dropped;
      if (cfg.mask_ms > 0) {
        await changeAfter(t1, cfg.mask_ms, () => {
          if (box.firstChild === mask) box.replaceChildren(fixationBlank());
        });
      }
    }
    const ans = await answer;
    if (deadlineTimer) clearTimeout(deadlineTimer);
    return Object.assign(result, ans);
  }

  function fixationBlank() { const d = document.createElement("div"); d.className = "blank"; return d; }

  function fix() { box.replaceChildren(fixation); }
  document.addEventListener("pointermove", () => document.body.classList.remove("pointer-still"));

  // ---- practice: legend images with feedback, nothing stored ----
  async function runPractice() {
    const total = cfg.trials.length;
    cfg.trials.forEach((t) => preload(t.src));
    if (total) await prepare(cfg.trials[0].src);
    await panel("go-panel", "go");
    await measureFrames(60);
    for (let i = 0; i < total; i++) {
      await backToFullscreen();
      showProgress(i, total);
      await beginTrial();
      const ans = await present(cfg.trials[i].src);
      const right = ans.response === cfg.trials[i].answer;
      feedback.className = "feedback " + (right ? "ok" : "bad");
      const named = "\u201c" + names[cfg.trials[i].answer] + "\u201d";
      feedback.textContent = right ? "Correct!"
        : (ans.timed_out ? "Too slow: please answer faster. That was " : "Not quite: that was ") + named + ".";
      await sleep(right ? 700 : 1600);
      feedback.textContent = "";
    }
    showProgress(total, total);
    fix();
    const form = document.getElementById("start-form");
    form.hidden = false;
    document.getElementById("start-main").focus();
  }

  // ---- main trials: queue + retry until acknowledged ----
  // A failed save is retried with backoff, forever: the answer stays queued in this browser. After a
  // few failures in a row the participant is told so, in words that match the fault (the server says
  // whether it is briefly busy or has a storage problem the researchers must fix).
  const TELL_AFTER = 3;
  let flushing = false;
  let backoff = 500;
  let failures = 0;
  let finished = null;  // debrief URL once the server says the session is over

  function tellProblem(fault) {
    if (failures < TELL_AFTER) { netStatus.textContent = "Saving\u2026"; return; }
    netStatus.className = "net-status problem";
    netStatus.textContent = (fault === "storage"
      ? "The study server has a technical problem and cannot save answers right now. "
      : "We cannot reach the study server at the moment. ")
      + "Your answers are kept in this browser and will be sent automatically as soon as it works again. "
      + "Please keep this page open; you can go on answering.";
  }

  async function flush() {
    if (flushing) return;
    flushing = true;
    try {
      let q = loadQueue();
      while (q.length > 0) {
        const item = q[0];
        let res = null;
        try {
          res = await fetch(cfg.api, {
            method: "POST",
            headers: { "Content-Type": "application/json" },
            body: JSON.stringify(item),
            credentials: "same-origin",
          });
        } catch (e) { res = null; }
        if (res === null || res.status >= 500 || res.status === 429) {
          let fault = "network";
          if (res !== null) { try { fault = (await res.json()).fault || "busy"; } catch (e) { fault = "busy"; } }
          failures += 1;
          tellProblem(fault);
          await sleep(backoff);
          backoff = Math.min(backoff * 2, 15000);
          q = loadQueue();
          continue;
        }
        backoff = 500;
        failures = 0;
        netStatus.className = "net-status";
        netStatus.textContent = "";
        let body = {};
        try { body = await res.json(); } catch (e) { body = {}; }
        q = loadQueue().filter((x) => x.trial_index !== item.trial_index);
        saveQueue(q);
        if (res.ok && body.done && body.next) finished = body.next;
        if (!res.ok && body.status_now && body.status_now !== "started") finished = cfg.debrief;
      }
    } finally {
      flushing = false;
    }
  }

  async function runMain() {
    const total = cfg.trials.length;
    const answered = new Set(cfg.answered);
    loadQueue().forEach((x) => answered.add(x.trial_index));
    const todo = cfg.trials.filter((t) => !answered.has(t.index));
    todo.forEach((t) => preload(t.src));
    const pending = flush();
    if (todo.length) await prepare(todo[0].src);
    await panel("go-panel", "go");
    await measureDisplay();
    for (const trial of cfg.trials) {
      if (answered.has(trial.index)) continue;
      if (finished) break;
      await backToFullscreen();
      showProgress(answered.size, total);
      await beginTrial();
      const ans = await present(trial.src);
      fix();
      const q = loadQueue();
      q.push({
        trial_index: trial.index, response: ans.response, rt_ms: ans.rt_ms, shown_ms: ans.shown_ms,
        frames_requested: ans.frames_requested, frames_shown: ans.frames_shown, frames_dropped: ans.frames_dropped,
      });
      saveQueue(q);
      answered.add(trial.index);
      flush();
      if (ans.timed_out) {
        feedback.className = "feedback bad";
        feedback.textContent = "Too slow: please answer faster.";
        await sleep(900);
        feedback.textContent = "";
      }
      if (cfg.breaks_every && answered.size % cfg.breaks_every === 0 && answered.size < total && !finished) {
        document.getElementById("break-done").textContent = String(answered.size);
        await panel("break-panel", "break-continue");
      }
    }
    showProgress(total, total);
    await pending;
    while (loadQueue().length > 0 || flushing) {
      if (failures < TELL_AFTER) netStatus.textContent = loadQueue().length ? "Saving your answers\u2026" : "";
      await flush();
      await sleep(200);
    }
    window.location.assign(finished || cfg.debrief);
  }

  if (cfg.mode === "practice") runPractice(); else runMain();
})();
