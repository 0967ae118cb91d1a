// ComparisonGrid front end: an anywidget ES module, also inlined in the HTML report with a
// static model shim. No framework, no build step. All data goes in via textContent.
//
// anywidget loads one ES module and there is no bundler, so the parts in this folder are
// plain scripts that the kernel joins, in a fixed order, into one module
// (videogen_nb/display/grid_assets.py: GRID_PARTS). This first part holds the constants and
// the small DOM helpers every other part uses; each later part is one function taking the
// grid's shared context `g` and returning the functions it offers the others (called as
// g.name(...) across parts). main.js, last, builds the page and exports `render`.

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

// ---- offline: a saved grid with no kernel behind it (issue 15) ----
// True when no kernel can send this grid its videos: an HTML export (nbconvert, nbviewer:
// the HTML widget manager has no kernel) or a notebook reopened with its widget state
// saved (the models come back from the file, with no comm to the new kernel). The
// standalone report's stand-in model has no widget manager: not offline (its videos are
// embedded). `_models` is the manager's private table; without it, assume a kernel.
async function gridOffline(model) {
  const wm = model.widget_manager;
  if (!wm) return false;
  if (!wm.kernel) return true;
  const cells = model.get("cells");
  for (const pending of Object.values(wm._models || {})) {
    const m = await Promise.resolve(pending).catch(() => null);
    if (m && typeof m.get === "function" && m.get("cells") === cells) return !m.comm_live;
  }
  return false;
}

// Instead of players that can never load: one line, and the class that lets the notebook's
// fallback output (the posters, display/static_grid.py) show in the widget's place.
function showOffline(el, root) {
  el.classList.add("vgg-offline");
  root.hidden = true;
  el.appendChild(h("div", "vgg-note",
    "The videos play while the notebook's kernel runs: run this cell again. " +
    "The saved posters are in the output below."));
}
