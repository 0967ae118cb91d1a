// Building the table: headings, cells, status panels, captions, per-cell tools, votes.

function gridTable(g) {
  const { model, on, st, players, table, titleEl, msgEl, revealBtn } = g;

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
    if (g.current.blind) cap.appendChild(h("span", "vgg-letter", g.current.cols[c].label));
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
      on(sound, "click", (e) => { e.stopPropagation(); g.toggleSound(cell.i); });
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
      on(big, "click", (e) => { e.stopPropagation(); g.openViewer(cell.i); });
      row.appendChild(big);
    }
    const more = button("vgg-more", "⋯", "More: download, copy, re-run, remix, A/B wipe");
    on(more, "click", (e) => { e.stopPropagation(); g.openMenu(cell, more); });
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
    g.current = { rows, cols, cells, blind, revealed };
    titleEl.textContent = model.get("title") || "";
    titleEl.hidden = !titleEl.textContent;
    msgEl.textContent = model.get("message") || "";
    revealBtn.hidden = !blind || revealed;
    // An open menu survives a rebuild (a progress update elsewhere): it moves to the new box.
    const openMenuEl = g.menuEl;

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
        if (g.pickedA === cell.i) box.classList.add("vgg-picked");
        box.appendChild(h("div", "vgg-cellhead", col.label));
        const media = h("div", "vgg-media");
        const playable = cell.state === "ready" && (cell.video === "stream" || cell.video === "url");
        if (playable) {
          let p = players.get(cell.i);
          if (p && (p.token !== cell.token || p.kind !== cell.video)) {
            g.dropPlayer(p);
            p = null;
          }
          if (!p) p = g.makePlayer(cell);
          keep.add(cell.i);
          if (cell.prompt) p.video.title = cell.prompt;
          media.appendChild(p.video);
          media.appendChild(h("div", "vgg-note"));
          if (cell.video === "stream" && p.loaded !== cell.token && p.requested !== cell.token) {
            p.requested = cell.token;
            model.send({ type: "want", cell: cell.i });
          }
          on(media, "click", () => g.openViewer(cell.i));
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
    for (const p of [...players.values()]) if (!keep.has(p.i)) g.dropPlayer(p);
    if (openMenuEl) {
      const home = table.querySelector(`.vgg-cell[data-i="${Number(openMenuEl.dataset.i)}"] .vgg-tools`);
      if (home) home.appendChild(openMenuEl);
      else g.closeMenu();
    }
    if (g.view && !g.view.cells.every((i) => players.has(i))) g.closeView();
    g.fitLayout();
    g.applySound();
    g.pickMaster();
    if (st.playing) g.playAll();
  }

  return { caption, rebuild };
}
