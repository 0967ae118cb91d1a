// Sound, one cell at a time, and the video bytes the kernel sends in parts.

function gridSound(g) {
  const { root, st, players, incoming, mirrors, table, msgEl } = g;

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
    if (st.playing) g.playAll();
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

  return { applySound, toggleSound, onCustom, setCellNote, say };
}
