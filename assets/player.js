// Evidence player for Molmo2 answers: the video, a canvas that draws points and tracks in sync with it, and a
// timeline (a marker per point, a lane per track id, mask coverage, the frames the model saw) that seeks.
// visualization/player.py computes the data: colours, on-screen windows, track runs, count times. This file
// only draws and navigates. gr.HTML's js_on_load (after dom.js) calls mountEvidencePlayer(element, props.value); any page may.
// Everything is looked up inside the player's own root, so several players can share a page.

function mountEvidencePlayer(host, data) {
  const el = m2el;
  const button = (className, text, label) => {
    const node = el("button", "m2p-button " + className, bar, { type: "button", "aria-label": label, title: label });
    node.textContent = text;
    return node;
  };
  const clock = (t) => `${Math.floor(t / 60)}:${(t % 60).toFixed(1).padStart(4, "0")}`;
  const source = m2source;

  host.replaceChildren();
  const root = el("div", "m2p", host, { tabindex: "0", role: "region", "aria-label": "video with grounded answer" });
  const stage = el("div", "m2p-stage", root);
  const video = el("video", "m2p-video", stage, { playsinline: "", preload: "auto" });
  video.muted = true; // lets play() start without a prior gesture on every browser
  video.src = source(data.video);
  const canvas = el("canvas", "m2p-canvas", stage);
  const notice = el("div", "m2p-notice", stage);
  const bar = el("div", "m2p-bar", root);
  const prev = button("m2p-prev", "\u25C0 Prev", "Previous point (Left arrow)");
  const play = button("m2p-play", "Play", "Play or pause (Space)");
  const next = button("m2p-next", "Next \u25B6", "Next point (Right arrow)");
  const time = el("span", "m2p-time", bar);
  const count = el("span", "m2p-count", bar, { "aria-live": "polite" });
  if (data.annotated) {
    const link = el("a", "m2p-button m2p-download", bar, { href: source(data.video), download: "annotated.mp4" });
    link.textContent = "Download MP4";
  }
  const timeline = el("div", "m2p-timeline", root);
  const strip = data.strip && data.strip.frames.length ? filmStrip(data.strip) : null;
  const legend = el("div", "m2p-legend", root);
  for (const entry of data.legend) {
    const chip = el("span", "m2p-chip", legend);
    el("span", "m2p-swatch", chip).style.background = entry.colour;
    chip.append(`${entry.label} (${entry.count})`);
  }

  // Film strip: the frames the model saw that hold evidence, as it saw them, with their points; a frame seeks.
  function filmStrip(s) {
    const node = el("div", "m2p-strip", root, { role: "group", "aria-label": "frames with evidence" });
    const url = source(s.src);
    for (const frame of s.frames) {
      const n = frame.dots.length;
      const label = `frame at ${frame.t.toFixed(2)} s, ${n} point${n === 1 ? "" : "s"}`;
      const cell = el("button", "m2p-frame", node, { type: "button", "data-t": frame.t, title: label, "aria-label": label });
      const pic = el("span", "m2p-frame-pic", cell);
      Object.assign(pic.style, {
        width: `${s.width}px`,
        height: `${s.height}px`,
        backgroundImage: `url("${url}")`,
        backgroundPosition: `-${(frame.i % s.columns) * s.width}px -${Math.floor(frame.i / s.columns) * s.height}px`,
      });
      for (const [x, y, colour] of frame.dots) {
        const dot = el("span", "m2p-frame-dot", pic);
        Object.assign(dot.style, { left: `${x * 100}%`, top: `${y * 100}%`, background: colour });
      }
      el("span", "m2p-frame-time", cell).textContent = clock(frame.t);
    }
    node.addEventListener("click", (event) => {
      const cell = event.target.closest("[data-t]");
      if (cell) seek(Number(cell.dataset.t));
    });
    for (const name of ["wheel", "touchstart", "pointerdown", "keydown"])
      node.addEventListener(name, () => (stripTouched = performance.now()), { passive: true });
    return node;
  }
  let shownFrame = null, stripTouched = -Infinity;
  function markFrame(t) {
    // The strip follows the playhead: the frame on screen is highlighted and kept in view (the page never scrolls),
    // unless the user scrolled the strip in the last few seconds.
    if (!strip) return;
    let best = null;
    for (const cell of strip.children)
      if (Math.abs(Number(cell.dataset.t) - t) <= data.half && (!best || Math.abs(Number(cell.dataset.t) - t) <
          Math.abs(Number(best.dataset.t) - t))) best = cell;
    if (best === shownFrame) return;
    if (shownFrame) shownFrame.classList.remove("m2p-frame-on");
    shownFrame = best;
    if (!best) return;
    best.classList.add("m2p-frame-on");
    const left = best.offsetLeft - strip.offsetLeft, right = left + best.offsetWidth;
    if (performance.now() - stripTouched < 4000) return; // the user is looking through the strip: leave it be
    if (left < strip.scrollLeft || right > strip.scrollLeft + strip.clientWidth)
      strip.scrollLeft = left - (strip.clientWidth - best.offsetWidth) / 2;
  }

  let duration = data.duration || 0;
  let alive = true;
  const seek = (t) => {
    video.currentTime = Math.min(Math.max(t, 0), duration || t);
    draw(video.currentTime);
  };

  // Timeline: one row per kind of evidence; every lane maps [0, duration] onto its width.
  function row(name, colour) {
    const line = el("div", "m2p-row", timeline);
    const title = el("span", "m2p-name", line, { title: name });
    if (colour) el("span", "m2p-swatch", title).style.background = colour;
    title.append(name);
    return el("div", "m2p-lane", line);
  }
  const at = (node, t, t2) => {
    node.style.left = `${(100 * t) / duration}%`;
    if (t2 !== undefined) node.style.width = `${(100 * (Math.min(t2, duration) - t)) / duration}%`;
    return node;
  };
  const mark = (lane, className, t, colour, label) => {
    const node = el("button", className, lane, { type: "button", "data-t": t, title: label, "aria-label": label });
    at(node, t);
    node.style.background = colour;
    return node;
  };
  function buildTimeline() {
    timeline.replaceChildren();
    if (!duration) return;
    if (data.points.length) {
      const lane = row("points");
      // Points of one label at one time share a marker that says how many they are.
      const groups = new Map();
      for (const p of data.points) groups.set(`${p.t}|${p.label}`, [...(groups.get(`${p.t}|${p.label}`) || []), p]);
      for (const [first, ...rest] of groups.values()) {
        const ids = [first, ...rest].map((p) => p.id).join(", ");
        const node = mark(lane, "m2p-mark", first.t, first.colour, `${first.label} ${ids} at ${first.t.toFixed(2)} s`);
        if (rest.length) node.textContent = String(rest.length + 1);
        node.style.color = first.ink;
      }
    }
    const masks = new Map(data.masks.map((m) => [m.id, m]));
    for (const track of data.tracks) {
      const lane = row(`${track.id} ${track.label}`, track.colour);
      for (const run of track.runs)
        at(el("span", "m2p-run", lane), run.start, run.end).style.background = track.colour;
      for (const [t] of track.runs.flatMap((run) => run.keys))
        mark(lane, "m2p-key", t, track.colour, `${track.label} ${track.id} at ${t.toFixed(2)} s`);
      maskStripes(lane, masks.get(track.id));
      masks.delete(track.id);
    }
    for (const m of masks.values()) maskStripes(row(`mask ${m.id}`, m.colour), m);
    if (data.sampled.length) {
      const lane = row("frames seen");
      for (const t of data.sampled) at(el("span", "m2p-tick", lane), t);
    }
    el("div", "m2p-head", timeline);
  }
  function maskStripes(lane, m) {
    if (!m) return;
    for (const [a, b] of m.spans)
      at(el("span", "m2p-mask", lane, { title: `mask ${m.id}` }), a, b).style.background = m.colour;
  }

  // Overlay: markers are sized like the MP4's (a fraction of the shorter side of the picture) and placed on the
  // picture's letterboxed rectangle inside the stage, so they stay right at any size.
  const context = canvas.getContext("2d");
  function picture(w, h) {
    const vw = video.videoWidth, vh = video.videoHeight;
    if (!vw || !vh) return null;
    const scale = Math.min(w / vw, h / vh);
    return { x: (w - vw * scale) / 2, y: (h - vh * scale) / 2, w: vw * scale, h: vh * scale };
  }
  function marker(x, y, r, colour, ink, text, filled) {
    // Same construction as overlay.draw_marker: a numbered disc, or a hollow ring with its id beside it.
    const halo = Math.max(1, Math.round(r / 6)), ring = Math.max(2, Math.round(r / 4));
    const circle = (radius) => {
      context.beginPath();
      context.arc(x, y, radius, 0, 2 * Math.PI);
    };
    if (filled) {
      circle(r + halo);
      context.fillStyle = "#141414";
      context.fill();
      circle(r - halo / 2);
      context.fillStyle = colour;
      context.fill();
      context.lineWidth = halo;
      context.strokeStyle = "#fff";
      context.stroke();
      context.font = `bold ${Math.round(r * (text.length <= 2 ? 1.1 : 0.8))}px sans-serif`;
      context.textAlign = "center";
      context.textBaseline = "middle";
      context.fillStyle = ink;
      context.fillText(text, x, y);
      return;
    }
    circle(r - ring / 2);
    context.lineWidth = ring + 2 * halo;
    context.strokeStyle = "#141414";
    context.stroke();
    context.lineWidth = ring;
    context.strokeStyle = colour;
    context.stroke();
    context.font = `bold ${Math.round(r)}px sans-serif`;
    context.textAlign = "left";
    context.textBaseline = "bottom";
    context.lineWidth = 2 * halo;
    context.strokeStyle = "#141414";
    context.strokeText(text, x + r, y - r);
    context.fillStyle = "#fff";
    context.fillText(text, x + r, y - r);
  }
  function trackDot(run, t) {
    const keys = run.keys;
    let i = keys.findIndex((k) => k[0] > t);
    if (i === -1) i = keys.length;
    let x, y;
    if (i === 0 || i === keys.length) [, x, y] = keys[i === 0 ? 0 : keys.length - 1];
    else {
      const [ta, xa, ya] = keys[i - 1], [tb, xb, yb] = keys[i];
      const w = (t - ta) / (tb - ta);
      [x, y] = [xa + w * (xb - xa), ya + w * (yb - ya)];
    }
    return { x, y, observed: keys.some((k) => Math.abs(k[0] - t) <= data.observed) };
  }
  function draw(t = video.currentTime) {
    const w = stage.clientWidth, h = stage.clientHeight, ratio = window.devicePixelRatio || 1;
    if (canvas.width !== Math.round(w * ratio) || canvas.height !== Math.round(h * ratio)) {
      canvas.width = Math.round(w * ratio);
      canvas.height = Math.round(h * ratio);
    }
    context.setTransform(ratio, 0, 0, ratio, 0, 0);
    context.clearRect(0, 0, w, h);
    const box = picture(w, h);
    shown = [];
    if (box) {
      // What is on screen now, for hovering; drawn here unless the (annotated) video has it burned in.
      const r = Math.max(data.marker[1], data.marker[0] * Math.min(box.w, box.h));
      for (const p of data.points)
        if (Math.abs(p.t - t) <= data.half)
          shown.push({ ...p, r, at: p.t, filled: true, nx: p.x, ny: p.y });
      for (const track of data.tracks) {
        const run = track.runs.find((run) => run.start <= t && t <= run.end);
        if (!run) continue;
        const dot = trackDot(run, t);
        shown.push({ ...track, r, at: t, filled: dot.observed, nx: dot.x, ny: dot.y, track: true });
      }
      for (const m of shown) {
        [m.cx, m.cy] = [box.x + m.nx * box.w, box.y + m.ny * box.h];
        if (!data.annotated) marker(m.cx, m.cy, r, m.colour, m.ink, String(m.id), m.filled);
      }
    }
    showTip();
    time.textContent = `${clock(t)} / ${clock(duration)}`;
    count.textContent = `count ${data.firsts.filter((first) => first <= t + 1e-6).length} / ${data.total}`;
    play.textContent = video.paused ? "Play" : "Pause";
    markFrame(t);
    const head = timeline.querySelector(".m2p-head");
    if (head && duration) head.style.setProperty("--m2p-at", String(Math.min(t / duration, 1)));
  }
  // Hovering a mark (mouse) tells its id, label, time and coordinates, like the markers on pictures.
  let shown = [], pointer = null;
  const tip = el("div", "m2p-tip m2-tip", stage, { role: "tooltip" });
  tip.hidden = true;
  function showTip() {
    const near = pointer && shown.filter((m) => Math.hypot(m.cx - pointer.x, m.cy - pointer.y) <= 1.2 * m.r);
    const m = near && near.sort((a, b) => Math.hypot(a.cx - pointer.x, a.cy - pointer.y) -
                                          Math.hypot(b.cx - pointer.x, b.cy - pointer.y))[0];
    if (!m) {
      tip.hidden = true;
      return;
    }
    const lines = [`(${Math.round(m.nx * 1000)}, ${Math.round(m.ny * 1000)}) of 1000`];
    if (data.size) lines.unshift(`x ${Math.round(m.nx * data.size[0])}, y ${Math.round(m.ny * data.size[1])} px`);
    const between = m.track && !m.filled ? " (between keyframes)" : "";
    m2tip(tip, m.colour, m.id, ` ${m.label} \u00B7 ${m.at.toFixed(2)} s${between}`, lines);
    m2place(tip, m.cx, m.cy, stage.clientWidth, stage.clientHeight);
  }
  stage.addEventListener("pointermove", (event) => {
    if (event.pointerType !== "mouse") return;
    const rect = stage.getBoundingClientRect();
    pointer = { x: event.clientX - rect.left, y: event.clientY - rect.top };
    showTip();
  });
  stage.addEventListener("pointerleave", () => {
    pointer = null;
    showTip();
  });

  // While playing, redraw once per presented video frame (per animation frame where that callback is missing).
  let pending = false;
  function loop(now, frame) {
    pending = false;
    if (!alive) return;
    draw(frame ? frame.mediaTime : video.currentTime);
    if (!video.paused) schedule();
  }
  function schedule() {
    if (pending) return;
    pending = true;
    if (video.requestVideoFrameCallback) video.requestVideoFrameCallback(loop);
    else requestAnimationFrame(loop);
  }

  // Navigation: previous/next evidence time, by buttons and arrow keys; the timeline seeks on tap, click or drag.
  const stop = (direction) => {
    const t = video.currentTime;
    return direction > 0 ? data.stops.find((s) => s > t + 1e-3) : [...data.stops].reverse().find((s) => s < t - 1e-3);
  };
  const step = (direction) => {
    const target = stop(direction);
    if (target !== undefined) seek(target);
  };
  const toggle = () => (video.paused ? video.play().catch(() => {}) : video.pause());
  prev.addEventListener("click", () => step(-1));
  next.addEventListener("click", () => step(1));
  play.addEventListener("click", toggle);
  video.addEventListener("click", toggle);
  root.addEventListener("keydown", (event) => {
    const actions = { ArrowLeft: () => step(-1), ArrowRight: () => step(1), " ": toggle };
    if (!actions[event.key] || (event.key === " " && event.target.closest("button, a"))) return; // let Space press it
    event.preventDefault();
    actions[event.key]();
  });
  let scrubbing = null;
  const laneTime = (lane, event) => {
    const rect = lane.getBoundingClientRect();
    return (duration * Math.min(Math.max(event.clientX - rect.left, 0), rect.width)) / rect.width;
  };
  timeline.addEventListener("pointerdown", (event) => {
    const target = event.target.closest("[data-t]");
    if (target) return seek(Number(target.dataset.t));
    const lane = event.target.closest(".m2p-lane");
    if (!lane) return;
    scrubbing = lane;
    lane.setPointerCapture(event.pointerId);
    seek(laneTime(lane, event));
  });
  timeline.addEventListener("pointermove", (event) => scrubbing && seek(laneTime(scrubbing, event)));
  const release = () => (scrubbing = null);
  timeline.addEventListener("pointerup", release);
  timeline.addEventListener("pointercancel", release);
  timeline.addEventListener("click", (event) => {
    const target = event.target.closest("[data-t]"); // keyboard activation of a marker
    if (target && event.detail === 0) seek(Number(target.dataset.t));
  });

  video.addEventListener("loadedmetadata", () => {
    stage.style.setProperty("--m2p-aspect", `${video.videoWidth} / ${video.videoHeight}`);
    if (!data.duration || Math.abs(video.duration - duration) > 0.05) {
      duration = video.duration;
      buildTimeline();
    }
    draw();
  });
  video.addEventListener("play", schedule);
  for (const name of ["seeked", "timeupdate", "pause", "loadeddata"]) video.addEventListener(name, () => draw());
  video.addEventListener("error", () => {
    notice.textContent = "This browser cannot play this video's format; the annotated MP4 (H.264) plays everywhere.";
  });
  root.addEventListener("pointerdown", () => root.focus({ preventScroll: true }));
  const resize = new ResizeObserver(() => draw());
  resize.observe(stage);
  buildTimeline();
  draw(0);

  return {
    root,
    video,
    destroy() {
      alive = false;
      resize.disconnect();
      video.removeAttribute("src");
      video.load();
      host.replaceChildren();
    },
  };
}
