// The enlarged viewer: its own controls, prompt and previous/next, in step with the grid.

function gridViewer(g) {
  const { on, root, st, players, mirrors, seek, overlay } = g;

  // --- the viewer and the A/B wipe ---------------------------------------------------------

  function mirror(i) {
    const p = players.get(i);
    const video = h("video", "vgg-video vgg-mirror");
    video.playsInline = true;
    video.preload = "auto";
    video.muted = true;
    const m = { i, video, lastFix: 0 };
    on(video, "loadedmetadata", () => {
      video.playbackRate = g.rate();
      if (st.master) g.align(m, st.master.currentTime, true);
      if (st.playing) g.playAll();
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
    return g.current.cells
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
    on(vseek, "input", () => { const t = Number(vseek.value); if (st.playing) g.setPlaying(false); g.seekAll(t); });
    on(vseek, "change", () => { st.scrubbing = false; });
    row.append(...g.controls(), vseek, h("span", "vgg-time"));
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
    const col = g.current.cols[cell.c] ? g.current.cols[cell.c].label : "";
    const row = g.current.rows[cell.r] ? g.current.rows[cell.r].label : "";
    return [col, row].filter(Boolean).join(" · ");
  }

  function openViewer(i) {
    if (!players.has(i)) return;
    closeView();
    const cell = g.byIndex(i);
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
    const [w, hgt] = stageSize(g.aspectOf(cell));
    Object.assign(m.video.style, { width: `${w}px`, height: `${hgt}px` });
    panel.appendChild(m.video);
    const bar2 = panelControls(panel);
    const sound = button("vgg-sound", "♪", "Sound from this video (the others are muted)");
    sound.dataset.i = String(i);
    on(sound, "click", (e) => { e.stopPropagation(); g.toggleSound(i); });
    bar2.appendChild(sound);
    panel.appendChild(h("div", "vgg-viewer-prompt", cell.prompt || ""));
    panel.appendChild(g.caption(cell, cell.c));
    g.view = { kind: "viewer", cells: [i], prev, next };
    showOverlay(panel);
  }

  function showOverlay(panel) {
    overlay.replaceChildren(panel);
    overlay.hidden = false;
    g.applySound();
    g.showTime();
    if (st.playing) g.playAll();
    root.focus({ preventScroll: true });
  }

  function closeView() {
    if (!g.view) return;
    g.view = null;
    dropMirrors();
    overlay.hidden = true;
    overlay.replaceChildren();
    g.applySound();
  }

  return {
    mirror, dropMirrors, stageSize, panelControls, panelHead, cellTitle, openViewer, showOverlay,
    closeView,
  };
}
