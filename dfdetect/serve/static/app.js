// The page's logic: upload with progress (POST /v1/jobs), poll the job, draw the answer.
// Plain JavaScript and inline SVG: no library, no network beyond this server.
"use strict";
(function () {
  const $ = (id) => document.getElementById(id);
  const TOKEN_KEY = "dfdetect-token";
  let token = sessionStorage.getItem(TOKEN_KEY) || "";

  function headers() { return token ? { Authorization: "Bearer " + token } : {}; }

  function showError(message) {
    $("error").textContent = message;
    $("error").hidden = !message;
    if (message) { $("progress-box").hidden = true; }
  }

  function setProgress(percent, text) {
    $("progress-box").hidden = false;
    $("progress").value = Math.max(0, Math.min(100, percent));
    $("progress-text").textContent = text;
  }

  async function api(path, options) {
    const response = await fetch(path, Object.assign({ headers: headers() }, options || {}));
    let body = {};
    try { body = await response.json(); } catch (e) { body = { error: "the server answered " + response.status }; }
    if (response.status === 401) { $("token-box").hidden = false; }
    return { status: response.status, body: body };
  }

  function explainError(body) {
    return (body.error || "something went wrong") + (body.fix ? " (" + body.fix + ")" : "");
  }

  async function loadModel() {
    const { status, body } = await api("/v1/model");
    if (status !== 200) { $("trust").textContent = status === 401 ? "Enter the token to see the model." : explainError(body); return; }
    $("trust").textContent = body.trust || "";
    const recipe = body.recipe ? " (" + body.recipe + ")" : "";
    $("model-line").textContent = "Model: " + body.model + (body.backbone ? " on " + body.backbone : "") + recipe +
      (body.trained_on ? "; trained on " + body.trained_on : "") + ". Uploads up to " + body.max_upload_mb + " MB.";
  }

  function upload(file, explain) {
    // XMLHttpRequest rather than fetch: it reports upload progress.
    return new Promise((resolve) => {
      const form = new FormData();
      form.append("file", file, file.name);
      const xhr = new XMLHttpRequest();
      xhr.open("POST", "/v1/jobs" + (explain ? "?explain=1" : ""));
      if (token) { xhr.setRequestHeader("Authorization", "Bearer " + token); }
      xhr.upload.onprogress = (e) => {
        if (e.lengthComputable) { setProgress(40 * e.loaded / e.total, "Uploading... " + Math.round(100 * e.loaded / e.total) + " %"); }
      };
      xhr.onload = () => {
        let body = {};
        try { body = JSON.parse(xhr.responseText); } catch (e) { body = { error: "the server answered " + xhr.status }; }
        if (xhr.status === 401) { $("token-box").hidden = false; }
        resolve({ status: xhr.status, body: body, retry: xhr.getResponseHeader("Retry-After") });
      };
      xhr.onerror = () => resolve({ status: 0, body: { error: "the server cannot be reached", fix: "is dfdetect serve still running?" } });
      xhr.send(form);
    });
  }

  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

  async function check(file) {
    showError("");
    $("result").hidden = true;
    setProgress(0, "Uploading...");
    const sent = await upload(file, $("explain").checked);
    if (sent.status !== 202) {
      const wait = sent.retry ? " Try again in " + sent.retry + " s." : "";
      showError(explainError(sent.body) + wait);
      return;
    }
    setProgress(40, "Waiting for the model...");
    for (;;) {
      await sleep(400);
      const { status, body } = await api(sent.body.url);
      if (status !== 200) { showError(explainError(body)); return; }
      if (body.state === "queued") { setProgress(40, "Waiting in the queue..."); continue; }
      if (body.state === "running") {
        const usual = body.typical_seconds ? " (a video takes about " + Math.max(1, Math.round(body.typical_seconds)) + " s here)" : "";
        setProgress(40 + 60 * body.progress, "Looking at the faces... " + Math.round(body.elapsed_seconds) + " s" + usual);
        continue;
      }
      $("progress-box").hidden = true;
      if (body.state === "failed" && !body.result) { showError(explainError(body)); return; }
      if (body.state === "failed") { showError(explainError(body)); }
      render(body.result, file.name);
      return;
    }
  }

  function render(r, name) {
    $("result").hidden = false;
    $("result-name").textContent = name;
    const scored = r.fake_prob !== null && r.fake_prob !== undefined;
    const verdict = $("verdict");
    verdict.dataset.verdict = scored ? r.verdict : "none";
    if (!scored) {
      verdict.textContent = r.status === "no_face" ? "No face found: no verdict" : "Could not check this video";
      $("verdict-detail").textContent = r.error || "";
    } else if (r.verdict === "fake") {
      verdict.textContent = "Likely fake";
      $("verdict-detail").textContent = "The model's probability that this video was manipulated is at or above the threshold.";
    } else {
      verdict.textContent = "Likely real";
      $("verdict-detail").textContent = "The model found no strong sign of manipulation (probability below the threshold).";
    }
    $("result-trust").textContent = $("trust").textContent;
    $("prob").textContent = scored ? r.fake_prob.toFixed(3) : "n/a";
    $("threshold").textContent = r.threshold !== undefined && r.threshold !== null ? Number(r.threshold).toFixed(3) : "n/a";
    $("faces").textContent = r.faces + " of " + r.frames;
    // a calibrated model's frames come on the verdict's scale too: plot those against its threshold
    const calibrated = (r.timeline || []).length > 0 && r.timeline.every((p) => p.calibrated !== undefined);
    const points = (r.timeline || []).map((p) => ({ frame: p.frame, prob: calibrated ? p.calibrated : p.prob, detected: p.detected }));
    drawTimeline(points, calibrated || r.frame_threshold === undefined ? r.threshold : r.frame_threshold, r.fps);
    $("cam-box").hidden = !r.explain_png;
    if (r.explain_png) { $("cam").src = r.explain_png; }
  }

  function drawTimeline(points, threshold, fps) {
    const box = $("timeline");
    box.textContent = "";
    if (!points.length) { box.textContent = "No per-frame scores (no face was found)."; return; }
    const W = 640, H = 200, L = 40, R = 10, T = 10, B = 30;
    const xs = points.map((p) => p.frame), maxX = Math.max(1, ...xs);
    const x = (f) => L + (W - L - R) * f / maxX, y = (p) => T + (H - T - B) * (1 - p);
    const ns = "http://www.w3.org/2000/svg";
    const svg = document.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", "0 0 " + W + " " + H);
    svg.setAttribute("role", "img");
    svg.setAttribute("aria-label", "probability of fake per frame");
    const add = (tag, attrs, text) => {
      const el = document.createElementNS(ns, tag);
      for (const k in attrs) { el.setAttribute(k, attrs[k]); }
      if (text !== undefined) { el.textContent = text; }
      svg.appendChild(el); return el;
    };
    add("rect", { x: L, y: T, width: W - L - R, height: H - T - B, fill: "#f4f6f8" });
    [0, 0.5, 1].forEach((v) => add("text", { x: L - 6, y: y(v) + 4, "text-anchor": "end", "font-size": 11, fill: "#5b6670" }, v.toFixed(1)));
    const seconds = fps > 0 ? (maxX / fps).toFixed(1) + " s" : "frame " + maxX;
    add("text", { x: L, y: H - 8, "font-size": 11, fill: "#5b6670" }, fps > 0 ? "0 s" : "frame 0");
    add("text", { x: W - R, y: H - 8, "text-anchor": "end", "font-size": 11, fill: "#5b6670" }, seconds);
    if (threshold !== undefined && threshold !== null) {
      add("line", { x1: L, x2: W - R, y1: y(threshold), y2: y(threshold), stroke: "#b3261e", "stroke-dasharray": "5 4" });
    }
    add("polyline", { points: points.map((p) => x(p.frame) + "," + y(p.prob)).join(" "), fill: "none", stroke: "#2457a6", "stroke-width": 2 });
    points.forEach((p) => add("circle", { cx: x(p.frame), cy: y(p.prob), r: 3, fill: p.detected ? "#2457a6" : "#fff", stroke: "#2457a6" }));
    box.appendChild(svg);
  }

  const drop = $("drop");
  ["dragenter", "dragover"].forEach((e) => drop.addEventListener(e, (ev) => { ev.preventDefault(); drop.classList.add("over"); }));
  ["dragleave", "drop"].forEach((e) => drop.addEventListener(e, (ev) => { ev.preventDefault(); drop.classList.remove("over"); }));
  drop.addEventListener("drop", (ev) => { if (ev.dataTransfer.files.length) { check(ev.dataTransfer.files[0]); } });
  drop.addEventListener("keydown", (ev) => { if (ev.key === "Enter" || ev.key === " ") { ev.preventDefault(); $("file").click(); } });
  $("file").addEventListener("change", () => { if ($("file").files.length) { check($("file").files[0]); $("file").value = ""; } });
  $("token-save").addEventListener("click", () => {
    token = $("token").value.trim();
    sessionStorage.setItem(TOKEN_KEY, token);
    $("token-box").hidden = true;
    loadModel();
  });
  loadModel();
})();
