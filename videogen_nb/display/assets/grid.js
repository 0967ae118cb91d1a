// ComparisonGrid front end: an anywidget ES module, also inlined in the HTML report with a
// static model shim. No framework, no build step. All data goes in via textContent.

const SPEEDS = [0.25, 0.5, 0.75, 1, 1.25, 1.5, 2];
const DRIFT = 0.05; // seconds a follower may be off the master before it is seeked
const FIX_COOLDOWN = 400; // ms before the same follower is corrected again (slow decoders)
const STALL_GIVE_UP = 4000; // ms a stalled video may hold the others before it is left behind

function h(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined && text !== null) e.textContent = String(text);
  return e;
}

function fmt(t) {
  return Number.isFinite(t) ? t.toFixed(2) : "0.00";
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
  const playBtn = h("button", "vgg-play", "▶ Play");
  playBtn.type = "button";
  playBtn.title = "Play / pause all (space)";
  const seek = h("input", "vgg-seek");
  Object.assign(seek, { type: "range", min: "0", max: "0", step: "any", value: "0" });
  seek.title = "Seek all videos (← → step)";
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
  const revealBtn = h("button", "vgg-reveal", "Reveal models");
  revealBtn.type = "button";
  const msgEl = h("span", "vgg-msg");
  bar.append(playBtn, seek, timeEl, loopLabel, speed, revealBtn, msgEl);
  const table = h("div", "vgg-table");
  const overlay = h("div", "vgg-overlay");
  overlay.hidden = true;
  root.append(titleEl, bar, table, overlay);

  const st = { playing: false, scrubbing: false, raf: 0, master: null, lastT: 0 };
  const stalled = new Map(); // cell index -> give-up timer
  const players = new Map(); // cell index -> player (one <video> and its source)
  const incoming = new Map(); // cell index -> {token, parts, got}
  let enlarged = null; // {player, home}

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
    pon("loadedmetadata", () => { pickMaster(); video.playbackRate = rate(); });
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

  // The master clock is the first ready video, or a longer one that becomes ready, so
  // that no video is cut short by the loop restart.
  function pickMaster() {
    let best = null;
    for (const p of readyPlayers()) {
      if (!best || p.video.duration > best.video.duration + 0.01) best = p;
    }
    const changed = (best ? best.video : null) !== st.master;
    st.master = best ? best.video : null;
    if (best) seek.max = String(best.video.duration);
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
    for (const p of readyPlayers()) if (p.video !== st.master || force) align(p, t, force);
  }

  function playAll() {
    const r = rate();
    const t = st.master ? st.master.currentTime : 0;
    for (const p of readyPlayers()) {
      p.video.playbackRate = r;
      // A shorter video stays on its last frame until the master loops.
      if (t < p.video.duration - 0.01 || p.video === st.master) p.video.play().catch(() => {});
    }
    tickSoon();
  }

  function pauseAll() {
    for (const p of players.values()) p.video.pause();
  }

  function setPlaying(playing) {
    st.playing = playing;
    playBtn.textContent = playing ? "❚❚ Pause" : "▶ Play";
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
    for (const p of readyPlayers()) align(p, t, true);
    st.lastT = t;
    showTime(t);
  }

  function step(dir) {
    if (!st.master) return;
    if (st.playing) setPlaying(false);
    const fps = Number(model.get("fps")) || 0;
    const dt = fps > 0 ? 1 / fps : 0.1;
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
    if (!st.scrubbing) seek.value = String(now);
    timeEl.textContent = `${fmt(now)} / ${fmt(m ? m.duration : 0)} s`;
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
        else for (const p of readyPlayers()) if (p.video !== m) align(p, t, false);
        for (const p of readyPlayers()) {
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
      const retry = h("button", "vgg-retry", "Retry");
      retry.type = "button";
      retry.title = "submit this request again";
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

  function rebuild() {
    const axes = model.get("axes") || {};
    const rows = axes.rows || [];
    const cols = axes.cols || [];
    const cells = model.get("cells") || [];
    const blind = !!model.get("blind");
    const revealed = !!model.get("revealed");
    const voted = model.get("voted") || {};
    titleEl.textContent = model.get("title") || "";
    titleEl.hidden = !titleEl.textContent;
    msgEl.textContent = model.get("message") || "";
    revealBtn.hidden = !blind || revealed;
    if (enlarged) closeOverlay();

    const keep = new Set();
    const byPos = new Map(cells.map((c) => [`${c.r}:${c.c}`, c]));
    table.replaceChildren();
    table.style.setProperty("--vgg-cols", String(Math.max(1, cols.length)));

    const corner = h("div", "vgg-corner", [axes.row_title, axes.col_title].filter(Boolean).join(" \\ "));
    table.appendChild(corner);
    for (const col of cols) table.appendChild(h("div", "vgg-colhead", col.label));

    rows.forEach((row, r) => {
      const head = h("div", "vgg-rowhead");
      head.appendChild(h("div", "vgg-rowlabel", row.label));
      const v = voted[String(r)];
      if (blind) {
        const tools = h("div", "vgg-rowvote");
        for (const kind of ["tie", "skip"]) {
          const b = h("button", `vgg-${kind}`, kind === "tie" ? "Tie" : "Skip");
          b.type = "button";
          if (v && v.kind === kind) b.classList.add("vgg-chosen");
          b.disabled = revealed;
          on(b, "click", (e) => { e.stopPropagation(); model.send({ type: "vote", row: r, kind }); });
          tools.appendChild(b);
        }
        if (v) tools.appendChild(h("span", "vgg-voted", v.kind === "best" ? "voted" : v.kind));
        head.appendChild(tools);
      }
      table.appendChild(head);

      cols.forEach((_col, c) => {
        const cell = byPos.get(`${r}:${c}`);
        const box = h("div", "vgg-cell");
        if (!cell) {
          box.classList.add("vgg-empty");
          table.appendChild(box);
          return;
        }
        box.dataset.i = String(cell.i);
        box.dataset.state = cell.state;
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
          media.appendChild(p.video);
          media.appendChild(h("div", "vgg-note"));
          if (cell.video === "stream" && p.loaded !== cell.token && p.requested !== cell.token) {
            p.requested = cell.token;
            model.send({ type: "want", cell: cell.i });
          }
          on(media, "click", () => openOverlay(p, media, cell));
        } else {
          media.appendChild(statusPanel(cell));
        }
        box.appendChild(media);
        const cap = h("div", "vgg-caption");
        if (blind) cap.appendChild(h("span", "vgg-letter", cols[c].label));
        for (const [key, text] of cell.caption || []) {
          cap.appendChild(h("span", `vgg-cap vgg-cap-${key}`, text));
        }
        box.appendChild(cap);
        if (blind) {
          const best = h("button", "vgg-best", "Best");
          best.type = "button";
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
    pickMaster();
    if (st.playing) playAll();
  }

  // --- enlarge ---------------------------------------------------------------------------

  function openOverlay(p, home, cell) {
    if (enlarged) return;
    enlarged = { player: p, home };
    overlay.replaceChildren();
    const panel = h("div", "vgg-panel");
    const close = h("button", "vgg-close", "✕");
    close.type = "button";
    close.title = "Close (Esc)";
    on(close, "click", (e) => { e.stopPropagation(); closeOverlay(); });
    const cap = h("div", "vgg-caption");
    for (const [key, text] of cell.caption || []) cap.appendChild(h("span", `vgg-cap vgg-cap-${key}`, text));
    panel.append(close, p.video, cap);
    overlay.appendChild(panel);
    overlay.hidden = false;
    root.focus({ preventScroll: true });
  }

  function closeOverlay() {
    if (!enlarged) return;
    const { player, home } = enlarged;
    enlarged = null;
    home.prepend(player.video);
    overlay.hidden = true;
    overlay.replaceChildren();
  }

  // --- wiring ----------------------------------------------------------------------------

  on(playBtn, "click", () => setPlaying(!st.playing));
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
  on(speed, "change", () => { for (const p of players.values()) p.video.playbackRate = rate(); });
  on(overlay, "click", (e) => { if (e.target === overlay) closeOverlay(); });
  on(root, "keydown", (e) => {
    if (e.key === "Escape" && enlarged) {
      closeOverlay();
      e.preventDefault();
      return;
    }
    const tag = e.target && e.target.tagName;
    if (tag === "BUTTON" || tag === "INPUT" || tag === "SELECT" || tag === "TEXTAREA") return;
    if (e.key === " " || e.key === "Spacebar") setPlaying(!st.playing);
    else if (e.key === "ArrowLeft") step(-1);
    else if (e.key === "ArrowRight") step(1);
    else return;
    e.preventDefault();
    e.stopPropagation();
  });

  const onChange = () => rebuild();
  const onMessage = () => { msgEl.textContent = model.get("message") || ""; };
  const changeEvents = ["change:axes", "change:cells", "change:voted", "change:revealed", "change:retry_enabled",
    "change:blind", "change:title"];
  for (const ev of changeEvents) model.on(ev, onChange);
  model.on("change:message", onMessage);
  model.on("msg:custom", onCustom);
  rebuild();

  return () => {
    for (const ev of changeEvents) model.off(ev, onChange);
    model.off("change:message", onMessage);
    model.off("msg:custom", onCustom);
    ac.abort();
    if (st.raf) cancelAnimationFrame(st.raf);
    for (const timer of stalled.values()) clearTimeout(timer);
    for (const p of [...players.values()]) dropPlayer(p);
    root.remove();
  };
}

export default { render };
