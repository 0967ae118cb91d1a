// ComparisonGrid front end: an anywidget ES module, also inlined in the HTML report with a
// static model shim. No framework, no build step. All data goes in via textContent.
//
// One file over ~500 lines on purpose: anywidget loads a single ES module and there is no
// build step to join several. Its parts, in order: the clock that keeps every video in step
// (players, master, followers), bytes from the kernel, the layout that sizes cells by their
// videos' real shape, the table, the cell menu, the viewer and the A/B wipe, the wiring.

const SPEEDS = [0.25, 0.5, 0.75, 1, 1.25, 1.5, 2];
const DRIFT = 0.05; // seconds a follower may be off the master before it is seeked
const FIX_COOLDOWN = 400; // ms before the same follower is corrected again (slow decoders)
const STALL_GIVE_UP = 4000; // ms a stalled video may hold the others before it is left behind
const GAP = 6; // px between cells (grid.css .vgg-table gap)
const CELL_PAD = 10; // px a cell adds around its video (padding and border, both sides)
const MIN_CELL = 160; // px: a column narrower than this scrolls (or wraps, in one row)
const WRAP_CELL = 240; // px a wrapped cell aims at
const DEFAULT_ASPECT = 16 / 9;

function h(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined && text !== null) e.textContent = String(text);
  return e;
}

function button(cls, text, title) {
  const b = h("button", cls, text);
  b.type = "button";
  if (title) b.title = title;
  return b;
}

function fmt(t) {
  return Number.isFinite(t) ? t.toFixed(2) : "0.00";
}

function frameOf(t, fps) {
  // a frame k is shown from k/fps to (k+1)/fps; the tolerance absorbs float error at edges
  return Math.max(0, Math.floor(t * fps + 1e-3));
}

function render({ model, el }) {
  const ac = new AbortController();
  const on = (target, type, fn, opts) =>
    target.addEventListener(type, fn, { signal: ac.signal, ...(opts || {}) });

  const root = h("div", "vgg");
  root.tabIndex = 0;
  // JupyterLab leaves key events inside this element to us (space, arrows).
  root.setAttribute("data-lm-suppress-shortcuts", "true");
  el.appendChild(root);

  const titleEl = h("div", "vgg-title");
  const bar = h("div", "vgg-bar");
  const seek = h("input", "vgg-seek");
  Object.assign(seek, { type: "range", min: "0", max: "0", step: "any", value: "0" });
  seek.title = "Seek all videos (← → step one frame)";
  const timeEl = h("span", "vgg-time", "0.00 / 0.00 s");
  const loopLabel = h("label", "vgg-loop");
  const loopBox = h("input");
  loopBox.type = "checkbox";
  loopBox.checked = true;
  loopLabel.append(loopBox, " loop");
  const speed = h("select", "vgg-speed");
  speed.title = "Playback speed";
  for (const s of SPEEDS) {
    const o = h("option", null, `${s}x`);
    o.value = String(s);
    speed.appendChild(o);
  }
  speed.value = "1";
  const revealBtn = button("vgg-reveal", "Reveal models");
  const msgEl = h("span", "vgg-msg");
  const transport = controls(); // play, step back, step forward, frame counter
  bar.append(...transport, seek, timeEl, loopLabel, speed, revealBtn, msgEl);
  const scroller = h("div", "vgg-scroll");
  const table = h("div", "vgg-table");
  scroller.appendChild(table);
  const overlay = h("div", "vgg-overlay");
  overlay.hidden = true;
  root.append(titleEl, bar, scroller, overlay);

  const st = { playing: false, scrubbing: false, raf: 0, master: null, lastT: 0, sound: null };
  const stalled = new Map(); // cell index -> give-up timer
  const players = new Map(); // cell index -> player (one <video> and its source)
  const incoming = new Map(); // cell index -> {token, parts, got}
  const mirrors = new Set(); // extra <video>s of the viewer and the wipe, following the master
  const aspects = new Map(); // cell index -> width/height measured from the video
  let view = null; // the open viewer or wipe: {kind, cells, ...}
  let pickedA = null; // the cell chosen as A of an A/B wipe
  let menuEl = null;
  let current = { rows: [], cols: [], cells: [], blind: false, revealed: false };

  // --- shared transport controls (the bar and the viewer each get a set) -------------------

  function controls() {
    const play = button("vgg-play", "▶ Play", "Play / pause all (space)");
    const back = button("vgg-step vgg-step-back", "◂ 1", "One frame back (←)");
    const fwd = button("vgg-step vgg-step-fwd", "1 ▸", "One frame forward (→)");
    const frame = h("span", "vgg-frame", "frame –");
    frame.title = "The frame every video shows";
    on(play, "click", (e) => { e.stopPropagation(); setPlaying(!st.playing); });
    on(back, "click", (e) => { e.stopPropagation(); step(-1); });
    on(fwd, "click", (e) => { e.stopPropagation(); step(1); });
    return [play, back, fwd, frame];
  }

  // --- players ---------------------------------------------------------------------------

  function dropPlayer(p) {
    p.ac.abort();
    p.video.pause();
    p.video.removeAttribute("src");
    p.video.load();
    if (p.url) URL.revokeObjectURL(p.url);
    players.delete(p.i);
    stalled.delete(p.i);
    if (st.master === p.video) st.master = null;
  }

  function makePlayer(cell) {
    const video = h("video", "vgg-video");
    video.muted = true;
    video.playsInline = true;
    video.preload = "auto";
    video.loop = false; // looping is done for all at once, from the master
    const p = { i: cell.i, token: cell.token, kind: cell.video, video, url: null,
      loaded: null, requested: null, lastFix: 0, ac: new AbortController() };
    const pon = (type, fn) => video.addEventListener(type, fn, { signal: p.ac.signal });
    pon("loadedmetadata", () => {
      pickMaster();
      video.playbackRate = rate();
      if (video.videoWidth && video.videoHeight) {
        const measured = video.videoWidth / video.videoHeight;
        const was = aspects.get(p.i);
        aspects.set(p.i, measured);
        if (!was || Math.abs(was / measured - 1) > 0.01) fitSoon();
      }
    });
    pon("waiting", () => onWaiting(p));
    pon("canplay", () => onCanPlay(p));
    pon("playing", () => onCanPlay(p));
    pon("ended", () => { if (video === st.master) onMasterEnded(); });
    pon("error", () => setCellNote(p.i, "the browser cannot play this video"));
    if (cell.video === "url" && cell.src) {
      video.src = cell.src;
      p.loaded = cell.token;
    }
    players.set(cell.i, p);
    return p;
  }

  function ready(p) {
    return p.video.readyState >= 1 && Number.isFinite(p.video.duration) && p.video.duration > 0;
  }

  function readyPlayers() {
    return [...players.values()].filter(ready).sort((a, b) => a.i - b.i);
  }

  // Everything that follows the master: the grid's players and the viewer's mirrors.
  function followers() {
    return [...readyPlayers(), ...[...mirrors].filter(ready)];
  }

  // The master clock is the first ready video, or a longer one that becomes ready, so
  // that no video is cut short by the loop restart.
  function pickMaster() {
    let best = null;
    for (const p of readyPlayers()) {
      if (!best || p.video.duration > best.video.duration + 0.01) best = p;
    }
    const changed = (best ? best.video : null) !== st.master;
    st.master = best ? best.video : null;
    if (best) for (const s of root.querySelectorAll(".vgg-seek")) s.max = String(best.video.duration);
    if (changed && best && st.playing) {
      alignAll(st.master.currentTime, true);
      playAll();
    }
    showTime();
  }

  function rate() {
    return Number(speed.value) || 1;
  }

  function clampFor(v, t) {
    return Math.max(0, Math.min(t, v.duration));
  }

  function align(p, t, force) {
    const v = p.video;
    if (v.seeking && !force) return;
    const target = clampFor(v, t);
    const now = performance.now();
    if (force || (Math.abs(v.currentTime - target) > DRIFT && now - p.lastFix > FIX_COOLDOWN)) {
      p.lastFix = now;
      v.currentTime = target;
    }
  }

  function alignAll(t, force) {
    for (const p of followers()) if (p.video !== st.master || force) align(p, t, force);
  }

  function playAll() {
    const r = rate();
    const t = st.master ? st.master.currentTime : 0;
    for (const p of followers()) {
      p.video.playbackRate = r;
      // A shorter video stays on its last frame until the master loops.
      if (t < p.video.duration - 0.01 || p.video === st.master) p.video.play().catch(() => {});
    }
    tickSoon();
  }

  function pauseAll() {
    for (const p of players.values()) p.video.pause();
    for (const m of mirrors) m.video.pause();
  }

  function setPlaying(playing) {
    st.playing = playing;
    for (const b of root.querySelectorAll(".vgg-play")) b.textContent = playing ? "❚❚ Pause" : "▶ Play";
    root.classList.toggle("vgg-is-playing", playing);
    if (playing) {
      const m = st.master;
      if (m && m.currentTime >= m.duration - 0.05) alignAll(0, true);
      else if (m) alignAll(m.currentTime, true);
      playAll();
    } else {
      pauseAll();
      if (st.master) alignAll(st.master.currentTime, true);
      showTime();
    }
  }

  function seekAll(t) {
    for (const p of followers()) align(p, t, true);
    st.lastT = t;
    showTime(t);
  }

  function fps() {
    return Number(model.get("fps")) || 0;
  }

  // One frame at a time, from where the clock is (a seek lands every video on one frame,
  // and a step keeps them there); the counter reads the frame from the same clock.
  function step(dir) {
    if (!st.master) return;
    if (st.playing) setPlaying(false);
    const f = fps();
    const dt = f > 0 ? 1 / f : 0.1;
    seekAll(clampFor(st.master, st.master.currentTime + dir * dt));
  }

  function onMasterEnded() {
    if (!st.playing) return;
    if (loopBox.checked) {
      seekAll(0);
      playAll();
    } else {
      setPlaying(false);
    }
  }

  // A video that runs out of data holds the others, so they stay in step.
  function onWaiting(p) {
    if (!st.playing || p.video.seeking || stalled.has(p.i)) return;
    stalled.set(p.i, setTimeout(() => {
      if (stalled.delete(p.i)) resumeIfClear();
    }, STALL_GIVE_UP));
    for (const q of players.values()) if (q !== p) q.video.pause();
    root.classList.add("vgg-is-waiting");
  }

  function onCanPlay(p) {
    const timer = stalled.get(p.i);
    if (timer === undefined) return;
    clearTimeout(timer);
    stalled.delete(p.i);
    resumeIfClear();
  }

  function resumeIfClear() {
    if (stalled.size) return;
    root.classList.remove("vgg-is-waiting");
    if (st.playing && st.master) {
      alignAll(st.master.currentTime, true);
      playAll();
    }
  }

  function showTime(t) {
    const m = st.master;
    const now = t !== undefined ? t : m ? m.currentTime : 0;
    const duration = m ? m.duration : 0;
    for (const s of root.querySelectorAll(".vgg-seek")) if (!st.scrubbing) s.value = String(now);
    const text = `${fmt(now)} / ${fmt(duration)} s`;
    for (const e of root.querySelectorAll(".vgg-time")) e.textContent = text;
    const f = fps();
    const total = Math.max(1, Math.round(duration * f));
    const frame = m && f > 0 ? `frame ${Math.min(total, frameOf(now, f) + 1)} / ${total}` : "frame –";
    for (const e of root.querySelectorAll(".vgg-frame")) e.textContent = frame;
  }

  function tick() {
    st.raf = 0;
    const m = st.master;
    if (m) {
      const t = m.currentTime;
      showTime(t);
      if (st.playing && !stalled.size) {
        // A wrap (the master restarted by itself) re-aligns everyone to the start.
        if (t + 0.3 < st.lastT) alignAll(t, true);
        else for (const p of followers()) if (p.video !== m) align(p, t, false);
        for (const p of followers()) {
          if (p.video.paused && t < p.video.duration - 0.05) p.video.play().catch(() => {});
        }
      }
      st.lastT = t;
    }
    if (st.playing) tickSoon();
  }

  function tickSoon() {
    if (!st.raf) st.raf = requestAnimationFrame(tick);
  }

  // --- sound: one cell at a time ---------------------------------------------------------

  function applySound() {
    const shown = new Set([...mirrors].map((m) => m.i));
    // While the viewer shows a cell, its sound comes from the viewer, not from the grid.
    for (const p of players.values()) p.video.muted = !(st.sound === p.i && !shown.has(p.i));
    let given = false;
    for (const m of mirrors) {
      const loud = st.sound === m.i && !given;
      m.video.muted = !loud;
      if (loud) given = true;
    }
    for (const b of root.querySelectorAll(".vgg-sound")) {
      const loud = Number(b.dataset.i) === st.sound;
      b.title = loud ? "Sound on: click to mute" : "Sound from this video (the others are muted)";
      b.setAttribute("aria-pressed", String(loud));
      b.classList.toggle("vgg-chosen", loud);
    }
  }

  function toggleSound(i) {
    st.sound = st.sound === i ? null : i;
    applySound();
    // A click is the gesture a browser wants before it plays sound: resume if needed.
    if (st.playing) playAll();
  }

  // --- bytes from the kernel -----------------------------------------------------------

  function setBlob(p, blob, token) {
    if (p.url) URL.revokeObjectURL(p.url);
    p.url = URL.createObjectURL(blob);
    p.loaded = token;
    p.video.src = p.url;
  }

  function onCustom(msg, buffers) {
    if (!msg || typeof msg !== "object") return;
    if (msg.type === "video") {
      const p = players.get(msg.cell);
      if (!p || p.token !== msg.token || p.loaded === msg.token) return;
      let acc = incoming.get(msg.cell);
      if (!acc || acc.token !== msg.token) {
        acc = { token: msg.token, parts: new Array(msg.parts), got: 0 };
        incoming.set(msg.cell, acc);
      }
      if (!acc.parts[msg.part] && buffers && buffers[0]) {
        acc.parts[msg.part] = buffers[0];
        acc.got += 1;
      }
      if (acc.got === msg.parts) {
        incoming.delete(msg.cell);
        setBlob(p, new Blob(acc.parts, { type: msg.mime || "video/mp4" }), msg.token);
      }
    } else if (msg.type === "video_error") {
      setCellNote(msg.cell, msg.message || "the video could not be sent");
    }
  }

  function setCellNote(i, text) {
    const note = table.querySelector(`.vgg-cell[data-i="${Number(i)}"] .vgg-note`);
    if (note) note.textContent = String(text);
  }

  function say(text) {
    msgEl.textContent = String(text);
  }

  // --- layout: real shapes, fitted to the width ------------------------------------------

  function aspectOf(cell) {
    return aspects.get(cell.i) || Number(cell.aspect) || DEFAULT_ASPECT;
  }

  function columnAspects() {
    const { cols, cells } = current;
    return cols.map((_col, c) => {
      const known = cells.filter((cell) => cell.c === c).map(aspectOf).sort((a, b) => a - b);
      return known.length ? known[Math.floor(known.length / 2)] : DEFAULT_ASPECT;
    });
  }

  // Columns as wide as their videos' shape asks, one video height for the whole table so a
  // 9:16 column is narrow and tall and a 16:9 one wide; the height fills the width, up to a
  // cap. When that leaves a column under MIN_CELL, a one-row grid wraps its cells onto more
  // lines and a taller grid scrolls sideways with its row labels held at the left.
  function fitLayout() {
    const { rows, cols } = current;
    const n = Math.max(1, cols.length);
    const width = scroller.clientWidth || root.clientWidth || 800;
    const maxH = Math.max(160, Math.min(480, (window.innerHeight || 800) * 0.6));
    const colAspects = columnAspects();
    root.style.setProperty("--vgg-bar-h", `${bar.offsetHeight || 40}px`);
    const headW = Math.round(Math.min(220, Math.max(100, width * 0.15)));
    const sum = colAspects.reduce((a, b) => a + b, 0) || DEFAULT_ASPECT;
    const avail = width - headW - GAP * n - n * CELL_PAD - 2;
    let videoH = Math.min(maxH, Math.max(40, avail / sum));
    const narrowest = Math.min(...colAspects) * videoH + CELL_PAD;
    let mode = narrowest >= MIN_CELL || n === 1 ? "fit" : rows.length <= 1 ? "wrap" : "scroll";
    if (mode === "scroll") videoH = (MIN_CELL - CELL_PAD) / Math.min(...colAspects);
    table.classList.toggle("vgg-wrap", mode === "wrap");
    scroller.classList.toggle("vgg-scrolling", mode === "scroll");
    root.dataset.layout = mode;
    if (mode === "wrap") {
      const perLine = Math.max(1, Math.min(n, Math.floor((width + GAP) / (WRAP_CELL + GAP))));
      const cellW = Math.floor((width - GAP * (perLine - 1)) / perLine) - 1;
      table.style.gridTemplateColumns = `repeat(${perLine}, ${cellW}px)`;
      for (const box of table.querySelectorAll(".vgg-cell")) {
        const a = box.dataset.i !== undefined ? aspectOf(byIndex(box.dataset.i)) : DEFAULT_ASPECT;
        let w = cellW - CELL_PAD;
        let hgt = w / a;
        if (hgt > maxH) { hgt = maxH; w = hgt * a; }
        sizeCell(box, w, hgt);
      }
      return;
    }
    const widths = colAspects.map((a) => Math.floor(a * videoH + CELL_PAD));
    table.style.gridTemplateColumns = `${headW}px ${widths.map((w) => `${w}px`).join(" ")}`;
    for (const box of table.querySelectorAll(".vgg-cell")) {
      const c = Number(box.dataset.c);
      const w = (widths[c] || MIN_CELL) - CELL_PAD;
      const a = box.dataset.i !== undefined ? aspectOf(byIndex(box.dataset.i)) : colAspects[c];
      sizeCell(box, w, w / a);
    }
  }

  function sizeCell(box, w, hgt) {
    const media = box.querySelector(".vgg-media");
    if (!media) return;
    media.style.width = `${Math.round(w)}px`;
    const video = media.querySelector("video");
    if (video) {
      video.style.width = `${Math.round(w)}px`;
      video.style.height = `${Math.round(hgt)}px`;
    } else {
      media.style.minHeight = `${Math.round(Math.min(hgt, 220))}px`;
    }
  }

  function byIndex(i) {
    return current.cells.find((cell) => cell.i === Number(i)) || {};
  }

  let fitRaf = 0;
  function fitSoon() {
    if (!fitRaf) fitRaf = requestAnimationFrame(() => { fitRaf = 0; fitLayout(); });
  }

  // --- building the table ------------------------------------------------------------

  function statusPanel(cell) {
    const box = h("div", `vgg-status vgg-status-${cell.state}`);
    let head = cell.status;
    if (cell.state === "pending" && cell.progress !== null && cell.progress !== undefined) {
      head = `${cell.status} ${cell.progress}%`;
    }
    box.appendChild(h("strong", null, head));
    if (cell.state === "pending") {
      const meter = h("div", "vgg-meter");
      const fill = h("div", "vgg-meter-fill");
      fill.style.width = `${Math.max(0, Math.min(100, Number(cell.progress) || 0))}%`;
      meter.appendChild(fill);
      box.appendChild(meter);
    }
    if (cell.error) {
      // Readable words first; the gateway's whole text (with the task id) one click away.
      const details = h("details", "vgg-error");
      details.appendChild(h("summary", "vgg-reason", cell.reason || "what went wrong"));
      details.appendChild(h("div", "vgg-error-text", cell.error));
      box.appendChild(details);
    }
    if (cell.state === "failed" && model.get("retry_enabled")) {
      const retry = button("vgg-retry", "Retry", "submit this request again");
      on(retry, "click", (e) => {
        e.stopPropagation();
        retry.disabled = true;
        model.send({ type: "retry", cell: cell.i });
      });
      box.appendChild(retry);
    }
    if (cell.video === "too_large") {
      const mb = (Number(cell.size) / 1e6).toFixed(0);
      box.appendChild(h("div", "vgg-note",
        `${mb} MB is too large to send to the browser${cell.path ? `: ${cell.path}` : ""}`));
    } else if (cell.video === "missing") {
      box.appendChild(h("div", "vgg-note", `file not found${cell.path ? `: ${cell.path}` : ""}`));
    }
    return box;
  }

  function caption(cell, c) {
    const cap = h("div", "vgg-caption");
    if (current.blind) cap.appendChild(h("span", "vgg-letter", current.cols[c].label));
    // The column heading already names these (the model, across): no need to repeat it.
    const skip = new Set((model.get("axes") || {}).col_fields || []);
    for (const [key, text] of cell.caption || []) {
      if (!skip.has(key)) cap.appendChild(h("span", `vgg-cap vgg-cap-${key}`, text));
    }
    if (cell.prompt) cap.title = cell.prompt;
    return cap;
  }

  function tools(cell, playable) {
    const row = h("div", "vgg-tools");
    if (playable) {
      const sound = button("vgg-sound", "♪", "Sound from this video (the others are muted)");
      sound.dataset.i = String(cell.i);
      sound.setAttribute("aria-pressed", "false");
      on(sound, "click", (e) => { e.stopPropagation(); toggleSound(cell.i); });
      row.appendChild(sound);
    }
    const favs = model.get("favourites");
    if (Array.isArray(favs)) {
      const marked = favs.includes(cell.i);
      const fav = button("vgg-fav", marked ? "★" : "☆", marked ? "Favourite (click to unmark)" : "Mark as favourite");
      fav.classList.toggle("vgg-chosen", marked);
      fav.setAttribute("aria-pressed", String(marked));
      on(fav, "click", (e) => { e.stopPropagation(); model.send({ type: "favourite", cell: cell.i, on: !marked }); });
      row.appendChild(fav);
    }
    if (playable) {
      const big = button("vgg-enlarge", "View", "Enlarge (a viewer with controls, in step with the grid)");
      on(big, "click", (e) => { e.stopPropagation(); openViewer(cell.i); });
      row.appendChild(big);
    }
    const more = button("vgg-more", "⋯", "More: download, copy, re-run, remix, A/B wipe");
    on(more, "click", (e) => { e.stopPropagation(); openMenu(cell, more); });
    row.appendChild(more);
    return row;
  }

  function rebuild() {
    const axes = model.get("axes") || {};
    const rows = axes.rows || [];
    const cols = axes.cols || [];
    const cells = model.get("cells") || [];
    const blind = !!model.get("blind");
    const revealed = !!model.get("revealed");
    const voted = model.get("voted") || {};
    current = { rows, cols, cells, blind, revealed };
    titleEl.textContent = model.get("title") || "";
    titleEl.hidden = !titleEl.textContent;
    msgEl.textContent = model.get("message") || "";
    revealBtn.hidden = !blind || revealed;
    // An open menu survives a rebuild (a progress update elsewhere): it moves to the new box.
    const openMenuEl = menuEl;

    const keep = new Set();
    const byPos = new Map(cells.map((c) => [`${c.r}:${c.c}`, c]));
    table.replaceChildren();
    table.style.setProperty("--vgg-cols", String(Math.max(1, cols.length)));

    const corner = h("div", "vgg-corner", [axes.row_title, axes.col_title].filter(Boolean).join(" \\ "));
    table.appendChild(corner);
    for (const col of cols) {
      const head = h("div", "vgg-colhead", col.label);
      head.title = col.label;
      table.appendChild(head);
    }

    rows.forEach((row, r) => {
      const head = h("div", "vgg-rowhead");
      const label = h("div", "vgg-rowlabel", row.label);
      label.title = row.label; // the whole prompt, however long
      head.appendChild(label);
      const v = voted[String(r)];
      if (blind) {
        const vote = h("div", "vgg-rowvote");
        for (const kind of ["tie", "skip"]) {
          const b = button(`vgg-${kind}`, kind === "tie" ? "Tie" : "Skip");
          if (v && v.kind === kind) b.classList.add("vgg-chosen");
          b.disabled = revealed;
          on(b, "click", (e) => { e.stopPropagation(); model.send({ type: "vote", row: r, kind }); });
          vote.appendChild(b);
        }
        if (v) vote.appendChild(h("span", "vgg-voted", v.kind === "best" ? "voted" : v.kind));
        head.appendChild(vote);
      }
      table.appendChild(head);

      cols.forEach((col, c) => {
        const cell = byPos.get(`${r}:${c}`);
        const box = h("div", "vgg-cell");
        box.dataset.c = String(c);
        if (!cell) {
          box.classList.add("vgg-empty");
          table.appendChild(box);
          return;
        }
        box.dataset.i = String(cell.i);
        box.dataset.state = cell.state;
        if (pickedA === cell.i) box.classList.add("vgg-picked");
        box.appendChild(h("div", "vgg-cellhead", col.label));
        const media = h("div", "vgg-media");
        const playable = cell.state === "ready" && (cell.video === "stream" || cell.video === "url");
        if (playable) {
          let p = players.get(cell.i);
          if (p && (p.token !== cell.token || p.kind !== cell.video)) {
            dropPlayer(p);
            p = null;
          }
          if (!p) p = makePlayer(cell);
          keep.add(cell.i);
          if (cell.prompt) p.video.title = cell.prompt;
          media.appendChild(p.video);
          media.appendChild(h("div", "vgg-note"));
          if (cell.video === "stream" && p.loaded !== cell.token && p.requested !== cell.token) {
            p.requested = cell.token;
            model.send({ type: "want", cell: cell.i });
          }
          on(media, "click", () => openViewer(cell.i));
        } else {
          media.appendChild(statusPanel(cell));
        }
        box.appendChild(media);
        box.appendChild(caption(cell, c));
        box.appendChild(tools(cell, playable));
        if (blind) {
          const best = button("vgg-best", "Best");
          // Once revealed a vote would not be blind: the kernel refuses it, so say so here.
          best.disabled = cell.state !== "ready" || revealed;
          if (v && v.kind === "best" && v.cell === cell.i) {
            best.classList.add("vgg-chosen");
            box.classList.add("vgg-won");
          }
          on(best, "click", (e) => {
            e.stopPropagation();
            model.send({ type: "vote", row: r, kind: "best", cell: cell.i });
          });
          box.appendChild(best);
        }
        table.appendChild(box);
      });
    });
    for (const p of [...players.values()]) if (!keep.has(p.i)) dropPlayer(p);
    if (openMenuEl) {
      const home = table.querySelector(`.vgg-cell[data-i="${Number(openMenuEl.dataset.i)}"] .vgg-tools`);
      if (home) home.appendChild(openMenuEl);
      else closeMenu();
    }
    if (view && !view.cells.every((i) => players.has(i))) closeView();
    fitLayout();
    applySound();
    pickMaster();
    if (st.playing) playAll();
  }

  // --- the cell menu ---------------------------------------------------------------------

  function videoUrl(i) {
    const p = players.get(i);
    return p && p.loaded ? p.video.currentSrc || p.video.src : null;
  }

  function fileName(cell) {
    const base = cell.path ? String(cell.path).split(/[\\/]/).pop() : "";
    return base || `video-${cell.i + 1}.mp4`;
  }

  async function copyText(text, what) {
    try {
      await navigator.clipboard.writeText(text);
    } catch (_err) {
      // No clipboard permission (an http page, an iframe): the old way still copies.
      const area = h("textarea");
      area.value = text;
      root.appendChild(area);
      area.select();
      document.execCommand("copy");
      area.remove();
    }
    say(`${what} copied`);
  }

  function menuItem(menu, cls, text, title, fn) {
    const b = button(`vgg-act ${cls}`, text, title);
    on(b, "click", (e) => { e.stopPropagation(); fn(b); });
    menu.appendChild(b);
    return b;
  }

  function menuLink(menu, cls, text, href, extra) {
    const a = h("a", `vgg-act ${cls}`, text);
    a.href = href;
    Object.assign(a, extra);
    on(a, "click", (e) => { e.stopPropagation(); closeMenu(); });
    menu.appendChild(a);
  }

  function openMenu(cell, anchor) {
    closeMenu();
    const masked = current.blind && !current.revealed;
    const menu = h("div", "vgg-menu");
    menu.setAttribute("role", "menu");
    menu.dataset.i = String(cell.i);
    const url = videoUrl(cell.i);
    if (url && !masked) {
      menuLink(menu, "vgg-act-download", "Download video", url, { download: fileName(cell) });
      menuLink(menu, "vgg-act-open", "Open in a new tab", url, { target: "_blank", rel: "noopener" });
    }
    if (cell.prompt) {
      menuItem(menu, "vgg-act-copy-prompt", "Copy prompt", cell.prompt, () => { copyText(cell.prompt, "prompt"); closeMenu(); });
    }
    if (cell.request) {
      const json = JSON.stringify(cell.request, null, 2);
      menuItem(menu, "vgg-act-copy-request", "Copy request (JSON)", json, () => { copyText(json, "request"); closeMenu(); });
    }
    if (players.has(cell.i)) {
      menuItem(menu, "vgg-act-wipe", pickedA === null || pickedA === cell.i ? "A/B wipe: pick as A" : "A/B wipe against A",
        "Compare two videos in one frame, a divider wiping between them", () => { closeMenu(); wipePick(cell.i); });
    }
    if (model.get("actions_enabled") && !masked) {
      menuItem(menu, "vgg-act-rerun", "Re-run this request", "Submit the same request again; the new video joins the grid",
        (b) => { b.disabled = true; model.send({ type: "rerun", cell: cell.i }); closeMenu(); say("re-run sent"); });
      if (cell.state === "ready") remixItem(menu, cell);
    }
    anchor.parentElement.appendChild(menu);
    menuEl = menu;
    const first = menu.querySelector("button, a");
    if (first) first.focus({ preventScroll: true });
  }

  function remixItem(menu, cell) {
    if (!model.get("remix_supported")) {
      const b = menuItem(menu, "vgg-act-remix", "Remix…", model.get("remix_note"), () => {});
      b.disabled = true;
      menu.appendChild(h("div", "vgg-menu-note", model.get("remix_note") || "this gateway has no remix call"));
      return;
    }
    const form = h("form", "vgg-remix");
    const input = h("input", "vgg-remix-prompt");
    input.placeholder = "what should change (e.g. at night)";
    input.required = true;
    const go = button("vgg-remix-go", "Remix", "A new video from this one and the new prompt");
    go.type = "submit";
    form.append(input, go);
    form.hidden = true;
    menuItem(menu, "vgg-act-remix", "Remix…", "A new video from this one and a new prompt", () => {
      form.hidden = false;
      input.focus();
    });
    on(form, "submit", (e) => {
      e.preventDefault();
      e.stopPropagation();
      const prompt = input.value.trim();
      if (!prompt) return;
      model.send({ type: "remix", cell: cell.i, prompt });
      closeMenu();
      say("remix sent");
    });
    on(form, "click", (e) => e.stopPropagation());
    menu.appendChild(form);
  }

  function closeMenu() {
    if (menuEl) menuEl.remove();
    menuEl = null;
  }

  // --- the viewer and the A/B wipe ---------------------------------------------------------

  function mirror(i) {
    const p = players.get(i);
    const video = h("video", "vgg-video vgg-mirror");
    video.playsInline = true;
    video.preload = "auto";
    video.muted = true;
    const m = { i, video, lastFix: 0 };
    on(video, "loadedmetadata", () => {
      video.playbackRate = rate();
      if (st.master) align(m, st.master.currentTime, true);
      if (st.playing) playAll();
    });
    video.src = p.video.currentSrc || p.video.src;
    mirrors.add(m);
    return m;
  }

  function dropMirrors() {
    for (const m of mirrors) {
      m.video.pause();
      m.video.removeAttribute("src");
      m.video.load();
    }
    mirrors.clear();
  }

  function playableOrder() {
    return current.cells
      .filter((cell) => players.has(cell.i))
      .sort((a, b) => a.r - b.r || a.c - b.c)
      .map((cell) => cell.i);
  }

  function stageSize(a) {
    const maxW = window.innerWidth * 0.86;
    const maxH = window.innerHeight * 0.92 - 190; // room for the controls and the prompt
    let w = maxW;
    let hgt = w / a;
    if (hgt > maxH) { hgt = Math.max(120, maxH); w = hgt * a; }
    return [Math.round(w), Math.round(hgt)];
  }

  function panelControls(panel) {
    const row = h("div", "vgg-viewer-bar");
    const vseek = h("input", "vgg-seek");
    Object.assign(vseek, { type: "range", min: "0", max: seek.max, step: "any", value: seek.value });
    on(vseek, "pointerdown", () => { st.scrubbing = true; });
    on(vseek, "input", () => { const t = Number(vseek.value); if (st.playing) setPlaying(false); seekAll(t); });
    on(vseek, "change", () => { st.scrubbing = false; });
    row.append(...controls(), vseek, h("span", "vgg-time"));
    panel.appendChild(row);
    return row;
  }

  function panelHead(panel, title) {
    const head = h("div", "vgg-viewer-head");
    head.appendChild(h("div", "vgg-viewer-title", title));
    const close = button("vgg-close", "✕", "Close (Esc)");
    on(close, "click", (e) => { e.stopPropagation(); closeView(); });
    head.appendChild(close);
    panel.appendChild(head);
    return head;
  }

  function cellTitle(cell) {
    const col = current.cols[cell.c] ? current.cols[cell.c].label : "";
    const row = current.rows[cell.r] ? current.rows[cell.r].label : "";
    return [col, row].filter(Boolean).join(" · ");
  }

  function openViewer(i) {
    if (!players.has(i)) return;
    closeView();
    const cell = byIndex(i);
    const panel = h("div", "vgg-panel vgg-viewer");
    const head = panelHead(panel, cellTitle(cell));
    const order = playableOrder();
    const at = order.indexOf(i);
    const prev = button("vgg-prev", "‹ Previous", "Previous video (PageUp)");
    const next = button("vgg-next", "Next ›", "Next video (PageDown)");
    prev.disabled = order.length < 2;
    next.disabled = order.length < 2;
    on(prev, "click", (e) => { e.stopPropagation(); openViewer(order[(at - 1 + order.length) % order.length]); });
    on(next, "click", (e) => { e.stopPropagation(); openViewer(order[(at + 1) % order.length]); });
    head.prepend(prev);
    head.insertBefore(next, head.querySelector(".vgg-close"));
    const m = mirror(i);
    const [w, hgt] = stageSize(aspectOf(cell));
    Object.assign(m.video.style, { width: `${w}px`, height: `${hgt}px` });
    panel.appendChild(m.video);
    const bar2 = panelControls(panel);
    const sound = button("vgg-sound", "♪", "Sound from this video (the others are muted)");
    sound.dataset.i = String(i);
    on(sound, "click", (e) => { e.stopPropagation(); toggleSound(i); });
    bar2.appendChild(sound);
    panel.appendChild(h("div", "vgg-viewer-prompt", cell.prompt || ""));
    panel.appendChild(caption(cell, cell.c));
    view = { kind: "viewer", cells: [i], prev, next };
    showOverlay(panel);
  }

  function wipePick(i) {
    if (pickedA === null || pickedA === i || !players.has(pickedA)) {
      pickedA = i;
      for (const box of table.querySelectorAll(".vgg-cell")) {
        box.classList.toggle("vgg-picked", Number(box.dataset.i) === i);
      }
      say("A chosen: open another video's ⋯ menu and pick “A/B wipe against A”");
      return;
    }
    const a = pickedA;
    pickedA = null;
    for (const box of table.querySelectorAll(".vgg-picked")) box.classList.remove("vgg-picked");
    openWipe(a, i);
  }

  function openWipe(a, b) {
    closeView();
    const cellA = byIndex(a);
    const cellB = byIndex(b);
    const panel = h("div", "vgg-panel vgg-wipe");
    panelHead(panel, `A: ${cellTitle(cellA)}  |  B: ${cellTitle(cellB)}`);
    const [w, hgt] = stageSize(aspectOf(cellA));
    const stage = h("div", "vgg-wipe-stage");
    Object.assign(stage.style, { width: `${w}px`, height: `${hgt}px` });
    const ma = mirror(a);
    const mb = mirror(b);
    for (const m of [ma, mb]) Object.assign(m.video.style, { width: `${w}px`, height: `${hgt}px` });
    mb.video.classList.add("vgg-wipe-b");
    const line = h("div", "vgg-wipe-line");
    stage.append(ma.video, mb.video, line, h("span", "vgg-wipe-label vgg-wipe-la", "A"), h("span", "vgg-wipe-label vgg-wipe-lb", "B"));
    const pos = h("input", "vgg-wipe-pos");
    Object.assign(pos, { type: "range", min: "0", max: "100", step: "0.5", value: "50" });
    pos.title = "Where the divider is: A on its left, B on its right";
    const place = (x) => {
      const pct = Math.max(0, Math.min(100, x));
      mb.video.style.clipPath = `inset(0 0 0 ${pct}%)`;
      line.style.left = `${pct}%`;
      pos.value = String(pct);
    };
    place(50);
    on(pos, "input", () => place(Number(pos.value)));
    let dragging = false;
    const fromPointer = (e) => {
      const box = stage.getBoundingClientRect();
      place(((e.clientX - box.left) / box.width) * 100);
    };
    on(stage, "pointerdown", (e) => { dragging = true; fromPointer(e); });
    on(stage, "pointermove", (e) => { if (dragging) fromPointer(e); });
    on(window, "pointerup", () => { dragging = false; });
    panel.append(stage, pos);
    panelControls(panel);
    view = { kind: "wipe", cells: [a, b] };
    showOverlay(panel);
  }

  function showOverlay(panel) {
    overlay.replaceChildren(panel);
    overlay.hidden = false;
    applySound();
    showTime();
    if (st.playing) playAll();
    root.focus({ preventScroll: true });
  }

  function closeView() {
    if (!view) return;
    view = null;
    dropMirrors();
    overlay.hidden = true;
    overlay.replaceChildren();
    applySound();
  }

  // --- wiring ----------------------------------------------------------------------------

  on(revealBtn, "click", () => model.send({ type: "reveal" }));
  on(seek, "pointerdown", () => { st.scrubbing = true; });
  on(window, "pointerup", () => { st.scrubbing = false; });
  on(seek, "input", () => {
    // Read the target first: pausing redraws the slider at the current time (unless a
    // pointer is scrubbing), so a keyboard seek during playback would otherwise be lost.
    const t = Number(seek.value);
    if (st.playing) setPlaying(false);
    seekAll(t);
  });
  on(seek, "change", () => { st.scrubbing = false; });
  on(speed, "change", () => {
    for (const p of followers()) p.video.playbackRate = rate();
  });
  on(overlay, "click", (e) => { if (e.target === overlay) closeView(); });
  on(root, "click", (e) => { if (menuEl && !menuEl.contains(e.target)) closeMenu(); });
  on(root, "keydown", (e) => {
    if (e.key === "Escape" && (menuEl || view)) {
      if (menuEl) closeMenu();
      else closeView();
      e.preventDefault();
      return;
    }
    const tag = e.target && e.target.tagName;
    if (tag === "BUTTON" || tag === "INPUT" || tag === "SELECT" || tag === "TEXTAREA" || tag === "A") return;
    if (e.key === " " || e.key === "Spacebar") setPlaying(!st.playing);
    else if (e.key === "ArrowLeft") step(-1);
    else if (e.key === "ArrowRight") step(1);
    else if (e.key === "PageUp" && view && view.prev) view.prev.click();
    else if (e.key === "PageDown" && view && view.next) view.next.click();
    else return;
    e.preventDefault();
    e.stopPropagation();
  });
  const resize = typeof ResizeObserver === "function" ? new ResizeObserver(() => fitSoon()) : null;
  if (resize) resize.observe(root);

  const onChange = () => rebuild();
  const onMessage = () => { msgEl.textContent = model.get("message") || ""; };
  const changeEvents = ["change:axes", "change:cells", "change:voted", "change:revealed", "change:retry_enabled",
    "change:blind", "change:title", "change:favourites", "change:actions_enabled", "change:remix_supported"];
  for (const ev of changeEvents) model.on(ev, onChange);
  model.on("change:message", onMessage);
  model.on("msg:custom", onCustom);
  rebuild();

  return () => {
    for (const ev of changeEvents) model.off(ev, onChange);
    model.off("change:message", onMessage);
    model.off("msg:custom", onCustom);
    ac.abort();
    if (resize) resize.disconnect();
    if (st.raf) cancelAnimationFrame(st.raf);
    if (fitRaf) cancelAnimationFrame(fitRaf);
    for (const timer of stalled.values()) clearTimeout(timer);
    dropMirrors();
    for (const p of [...players.values()]) dropPlayer(p);
    root.remove();
  };
}

export default { render };
