// The A/B wipe: two videos in one frame, a divider between them, following the clock.

function gridWipe(g) {
  const { on, players, table } = g;

  function wipePick(i) {
    if (g.pickedA === null || g.pickedA === i || !players.has(g.pickedA)) {
      g.pickedA = i;
      for (const box of table.querySelectorAll(".vgg-cell")) {
        box.classList.toggle("vgg-picked", Number(box.dataset.i) === i);
      }
      g.say("A chosen: open another video's ⋯ menu and pick “A/B wipe against A”");
      return;
    }
    const a = g.pickedA;
    g.pickedA = null;
    for (const box of table.querySelectorAll(".vgg-picked")) box.classList.remove("vgg-picked");
    openWipe(a, i);
  }

  function openWipe(a, b) {
    g.closeView();
    const cellA = g.byIndex(a);
    const cellB = g.byIndex(b);
    const panel = h("div", "vgg-panel vgg-wipe");
    g.panelHead(panel, `A: ${g.cellTitle(cellA)}  |  B: ${g.cellTitle(cellB)}`);
    const [w, hgt] = g.stageSize(g.aspectOf(cellA));
    const stage = h("div", "vgg-wipe-stage");
    Object.assign(stage.style, { width: `${w}px`, height: `${hgt}px` });
    const ma = g.mirror(a);
    const mb = g.mirror(b);
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
    g.panelControls(panel);
    g.view = { kind: "wipe", cells: [a, b] };
    g.showOverlay(panel);
  }

  return { wipePick, openWipe };
}
