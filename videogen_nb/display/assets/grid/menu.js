// The cell menu: download, open, copy prompt/request, A/B wipe, re-run, remix.

function gridMenu(g) {
  const { model, on, root, players } = g;

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
    g.say(`${what} copied`);
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
    const masked = g.current.blind && !g.current.revealed;
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
      menuItem(menu, "vgg-act-wipe", g.pickedA === null || g.pickedA === cell.i ? "A/B wipe: pick as A" : "A/B wipe against A",
        "Compare two videos in one frame, a divider wiping between them", () => { closeMenu(); g.wipePick(cell.i); });
    }
    if (model.get("actions_enabled") && !masked) {
      menuItem(menu, "vgg-act-rerun", "Re-run this request", "Submit the same request again; the new video joins the grid",
        (b) => { b.disabled = true; model.send({ type: "rerun", cell: cell.i }); closeMenu(); g.say("re-run sent"); });
      if (cell.state === "ready") remixItem(menu, cell);
    }
    anchor.parentElement.appendChild(menu);
    g.menuEl = menu;
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
      g.say("remix sent");
    });
    on(form, "click", (e) => e.stopPropagation());
    menu.appendChild(form);
  }

  function closeMenu() {
    if (g.menuEl) g.menuEl.remove();
    g.menuEl = null;
  }

  return { openMenu, closeMenu };
}
