// The page and its wiring: builds the bar and the table's frame, gathers the shared context,
// installs the parts (each adds its functions to `g`), wires keys and model events, and
// undoes it all on teardown.

function render({ model, el }) {
  const ac = new AbortController();
  const on = (target, type, fn, opts) =>
    target.addEventListener(type, fn, { signal: ac.signal, ...(opts || {}) });

  const root = h("div", "vgg");
  root.tabIndex = 0;
  // JupyterLab leaves key events inside this element to us (space, arrows).
  root.setAttribute("data-lm-suppress-shortcuts", "true");
  el.appendChild(root);
  // A saved grid with no kernel shows a line, not empty players (dom.js: gridOffline).
  gridOffline(model).then((off) => { if (off) showOffline(el, root); }, () => {});

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
  const scroller = h("div", "vgg-scroll");
  const table = h("div", "vgg-table");
  scroller.appendChild(table);
  const overlay = h("div", "vgg-overlay");
  overlay.hidden = true;
  root.append(titleEl, bar, scroller, overlay);

  // The shared context: the elements, the clock's state, and (below) every part's functions.
  const g = {
    model, on, root, titleEl, bar, seek, speed, loopBox, revealBtn, msgEl, scroller, table, overlay,
    st: { playing: false, scrubbing: false, raf: 0, master: null, lastT: 0, sound: null },
    stalled: new Map(), // cell index -> give-up timer
    players: new Map(), // cell index -> player (one <video> and its source)
    incoming: new Map(), // cell index -> {token, parts, got}
    mirrors: new Set(), // extra <video>s of the viewer and the wipe, following the master
    aspects: new Map(), // cell index -> width/height measured from the video
    view: null, // the open viewer or wipe: {kind, cells, ...}
    pickedA: null, // the cell chosen as A of an A/B wipe
    menuEl: null,
    current: { rows: [], cols: [], cells: [], blind: false, revealed: false },
  };
  for (const part of [gridSync, gridSound, gridLayout, gridTable, gridMenu, gridViewer, gridWipe]) {
    Object.assign(g, part(g));
  }
  const { st, players, stalled } = g;
  const transport = g.controls(); // play, step back, step forward, frame counter
  bar.append(...transport, seek, timeEl, loopLabel, speed, revealBtn, msgEl);

  on(revealBtn, "click", () => model.send({ type: "reveal" }));
  on(seek, "pointerdown", () => { st.scrubbing = true; });
  on(window, "pointerup", () => { st.scrubbing = false; });
  on(seek, "input", () => {
    // Read the target first: pausing redraws the slider at the current time (unless a
    // pointer is scrubbing), so a keyboard seek during playback would otherwise be lost.
    const t = Number(seek.value);
    if (st.playing) g.setPlaying(false);
    g.seekAll(t);
  });
  on(seek, "change", () => { st.scrubbing = false; });
  on(speed, "change", () => {
    for (const p of g.followers()) p.video.playbackRate = g.rate();
  });
  on(overlay, "click", (e) => { if (e.target === overlay) g.closeView(); });
  on(root, "click", (e) => { if (g.menuEl && !g.menuEl.contains(e.target)) g.closeMenu(); });
  on(root, "keydown", (e) => {
    if (e.key === "Escape" && (g.menuEl || g.view)) {
      if (g.menuEl) g.closeMenu();
      else g.closeView();
      e.preventDefault();
      return;
    }
    const tag = e.target && e.target.tagName;
    if (tag === "BUTTON" || tag === "INPUT" || tag === "SELECT" || tag === "TEXTAREA" || tag === "A") return;
    const view = g.view;
    if (e.key === " " || e.key === "Spacebar") g.setPlaying(!st.playing);
    else if (e.key === "ArrowLeft") g.step(-1);
    else if (e.key === "ArrowRight") g.step(1);
    else if (e.key === "PageUp" && view && view.prev) view.prev.click();
    else if (e.key === "PageDown" && view && view.next) view.next.click();
    else return;
    e.preventDefault();
    e.stopPropagation();
  });
  const resize = typeof ResizeObserver === "function" ? new ResizeObserver(() => g.fitSoon()) : null;
  if (resize) resize.observe(root);

  const onChange = () => g.rebuild();
  const onMessage = () => { msgEl.textContent = model.get("message") || ""; };
  const changeEvents = ["change:axes", "change:cells", "change:voted", "change:revealed", "change:retry_enabled",
    "change:blind", "change:title", "change:favourites", "change:actions_enabled", "change:remix_supported"];
  for (const ev of changeEvents) model.on(ev, onChange);
  model.on("change:message", onMessage);
  model.on("msg:custom", g.onCustom);
  g.rebuild();

  return () => {
    for (const ev of changeEvents) model.off(ev, onChange);
    model.off("change:message", onMessage);
    model.off("msg:custom", g.onCustom);
    ac.abort();
    if (resize) resize.disconnect();
    if (st.raf) cancelAnimationFrame(st.raf);
    g.stopFit();
    for (const timer of stalled.values()) clearTimeout(timer);
    g.dropMirrors();
    for (const p of [...players.values()]) g.dropPlayer(p);
    root.remove();
  };
}

export default { render };
