// Layout: cells sized by their videos' real shape, fitted to the width (wrap or scroll).

function gridLayout(g) {
  const { root, bar, scroller, table, aspects } = g;

  // --- layout: real shapes, fitted to the width ------------------------------------------

  function aspectOf(cell) {
    return aspects.get(cell.i) || Number(cell.aspect) || DEFAULT_ASPECT;
  }

  function columnAspects() {
    const { cols, cells } = g.current;
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
    const { rows, cols } = g.current;
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
    return g.current.cells.find((cell) => cell.i === Number(i)) || {};
  }

  let fitRaf = 0;
  function fitSoon() {
    if (!fitRaf) fitRaf = requestAnimationFrame(() => { fitRaf = 0; fitLayout(); });
  }

  function stopFit() {
    if (fitRaf) cancelAnimationFrame(fitRaf);
  }

  return { aspectOf, fitLayout, byIndex, fitSoon, stopFit };
}
