// The shared clock: every video (the grid's players and the viewer's mirrors) follows one
// master video. Seeks and frame steps land every video on one frame; a stalled video holds
// the others; the loop restarts all at once from the master.

function gridSync(g) {
  const { model, on, root, st, players, stalled, mirrors, aspects, speed, loopBox } = g;

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
        if (!was || Math.abs(was / measured - 1) > 0.01) g.fitSoon();
      }
    });
    pon("waiting", () => onWaiting(p));
    pon("canplay", () => onCanPlay(p));
    pon("playing", () => onCanPlay(p));
    pon("ended", () => { if (video === st.master) onMasterEnded(); });
    pon("error", () => g.setCellNote(p.i, "the browser cannot play this video"));
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

  return {
    controls, dropPlayer, makePlayer, followers, pickMaster, rate, align, playAll,
    setPlaying, seekAll, step, showTime,
  };
}
