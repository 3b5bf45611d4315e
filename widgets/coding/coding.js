// Coding widget view. One block per speaker turn; each utterance is cut into pieces at coding
// boundaries, and every piece carries its start in Unicode CODE POINTS (data-s / data-e), the
// unit Python and REFI-QDA use. The browser's selection is in UTF-16 code units inside a piece's
// text node; it is converted here (an emoji is one position, never two) before it is sent.
// Only the turns a change touches are redrawn, so applying a code costs the same on a long
// transcript as on a short one.

const SURROGATE = /[\uD800-\uDBFF][\uDC00-\uDFFF]/;

// Code points in s[0:u16]; an offset inside a surrogate pair takes the whole character.
export function cpCount(s, u16) {
  let n = 0;
  for (let i = 0; i < u16 && i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) i++;
    }
    n++;
  }
  return n;
}

// Maps code-point offsets to UTF-16 indices of the whole text (identity without astral characters).
class CodePoints {
  constructor(text) {
    this.text = text;
    this.map = null;
    if (SURROGATE.test(text)) {
      const map = [];
      for (let i = 0; i < text.length; i++) {
        map.push(i);
        const c = text.charCodeAt(i);
        if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) i++;
      }
      map.push(text.length);
      this.map = Int32Array.from(map);
    }
    this.length = this.map ? this.map.length - 1 : text.length;
  }
  u16(cp) { return this.map ? this.map[Math.max(0, Math.min(cp, this.length))] : cp; }
  slice(a, b) { return this.text.slice(this.u16(a), this.u16(b)); }
}

function h(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

function fmtMs(ms) {
  if (ms === null || ms === undefined) return "";
  const s = Math.floor(ms / 1000);
  const pad = (n) => String(n).padStart(2, "0");
  return `${pad(Math.floor(s / 3600))}:${pad(Math.floor(s / 60) % 60)}:${pad(s % 60)}`;
}

function alpha(color, a) {
  const m = /^#?([0-9a-f]{6})$/i.exec(color || "");
  if (!m) return `rgba(136,136,136,${a})`;
  const n = parseInt(m[1], 16);
  return `rgba(${(n >> 16) & 255},${(n >> 8) & 255},${n & 255},${a})`;
}

function render({ model, el }) {
  const began = performance.now();
  const L = model.get("labels");
  let text = new CodePoints(model.get("text"));
  let turns = model.get("turns");
  let codes = model.get("codes");
  let codeById = new Map(codes.map((c) => [c.id, c]));
  let codings = model.get("codings");
  let byId = new Map(codings.map((c) => [c.id, c]));
  let byTurn = [];
  let turnEls = [];
  let lastSelection = null;

  const root = h("div", "wsc");
  root.tabIndex = 0;
  root.setAttribute("role", "application");
  root.setAttribute("aria-label", "Codage / Coding");
  const bar = h("div", "wsc-bar");
  const palette = h("div", "wsc-palette");
  palette.setAttribute("aria-label", L.codes);
  const filters = h("div", "wsc-filters");
  const actions = h("div", "wsc-actions");
  const applyBtn = h("button", "wsc-apply", L.apply);
  applyBtn.type = "button";
  const undoBtn = h("button", "wsc-undo", L.undo);
  undoBtn.type = "button";
  const selInfo = h("span", "wsc-selinfo");
  selInfo.setAttribute("aria-live", "polite");
  actions.append(applyBtn, undoBtn, selInfo);
  const keys = h("p", "wsc-keys", L.keys);
  const blindNote = h("p", "wsc-blind", L.blind);
  bar.append(actions, palette, filters, keys, blindNote);
  const body = h("div", "wsc-body");
  root.append(bar, body);
  el.appendChild(root);

  const me = () => model.get("coder");

  function turnOf(cp) {
    let lo = 0, hi = turns.length - 1, ans = 0;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (turns[mid][0] <= cp) { ans = mid; lo = mid + 1; } else hi = mid - 1;
    }
    return ans;
  }
  function turnRange(c) { return [turnOf(c.start), turnOf(Math.max(c.start, c.end - 1))]; }

  function visible(c) {
    const fc = model.get("filter_codes"), fk = model.get("filter_coders"), fs = model.get("filter_speakers");
    if (fc.length && !fc.includes(c.code)) return false;
    if (fk.length && !fk.includes(c.coder)) return false;
    if (fs.length && !fs.includes(turns[turnOf(c.start)][3])) return false;
    return codeById.has(c.code);
  }

  function index() {
    byTurn = turns.map(() => []);
    for (const c of codings) {
      if (!visible(c)) continue;
      const [a, b] = turnRange(c);
      for (let i = a; i <= b; i++) byTurn[i].push(c);
    }
  }

  function turnShown(i) {
    const fs = model.get("filter_speakers");
    if (fs.length && !fs.includes(turns[i][3])) return false;
    return !model.get("only_coded") || byTurn[i].length > 0;
  }

  function pieces(i) {
    const [, s, e] = turns[i];
    const list = byTurn[i];
    const cuts = new Set([s, e]);
    for (const c of list) { cuts.add(Math.max(s, c.start)); cuts.add(Math.min(e, c.end)); }
    const points = [...cuts].sort((x, y) => x - y);
    const frag = document.createDocumentFragment();
    for (let k = 0; k + 1 < points.length; k++) {
      const a = points[k], b = points[k + 1];
      if (a >= b) continue;
      const p = h("span", "wsc-p", text.slice(a, b));
      p.dataset.s = a;
      p.dataset.e = b;
      const on = list.filter((c) => c.start < b && a < c.end);
      if (on.length) {
        p.classList.add("wsc-coded");
        const colors = on.map((c) => alpha(codeById.get(c.code).color, 0.38));
        const step = 100 / colors.length;
        p.style.backgroundImage = colors.length === 1
          ? `linear-gradient(${colors[0]}, ${colors[0]})`
          : `linear-gradient(to bottom, ${colors.map((col, j) => `${col} ${j * step}% ${(j + 1) * step}%`).join(", ")})`;
        p.dataset.codes = on.map((c) => c.id).join(" ");
        p.title = on.map((c) => codeById.get(c.code).name + (c.coder !== me() ? ` (${c.coder})` : "")).join(" · ");
      }
      frag.appendChild(p);
    }
    return frag;
  }

  function memoEditor(c) {
    const box = h("div", "wsc-memo");
    const code = codeById.get(c.code);
    const title = h("p", "wsc-memo-title", `${code ? code.name : c.code} — « ${text.slice(c.start, c.end).slice(0, 160)} »`);
    box.appendChild(title);
    if (c.coder === me()) {
      const label = h("label", "", L.memo);
      const area = h("textarea", "wsc-memo-text");
      area.value = c.memo || "";
      area.rows = 2;
      label.appendChild(area);
      const save = h("button", "wsc-memo-save", L.save_memo);
      const remove = h("button", "wsc-remove", L.remove);
      const close = h("button", "wsc-close", L.close);
      for (const b of [save, remove, close]) b.type = "button";
      save.onclick = () => send({ type: "memo", id: c.id, memo: area.value });
      remove.onclick = () => send({ type: "remove", id: c.id });
      close.onclick = () => { model.set("active", -1); model.save_changes(); };
      box.append(label, save, remove, close);
      setTimeout(() => area.focus(), 0);
    } else {
      box.append(h("p", "wsc-memo-other", `${c.coder} : ${c.memo || "—"}`));
    }
    return box;
  }

  function drawTurn(i) {
    const t = turns[i];
    const row = turnEls[i] || h("div", "wsc-turn");
    row.textContent = "";
    row.dataset.i = i;
    row.hidden = !turnShown(i);
    const who = h("div", "wsc-spk");
    who.append(h("span", "wsc-name", t[3] || "—"));
    if (t[4] !== null && t[4] !== undefined) who.append(h("span", "wsc-time", fmtMs(t[4])));
    const utt = h("div", "wsc-utt");
    utt.appendChild(pieces(i));
    const chips = h("div", "wsc-chips");
    const active = model.get("active");
    let editing = null;
    for (const c of byTurn[i]) {
      if (turnOf(c.start) !== i) continue;
      const code = codeById.get(c.code);
      const chip = h("button", "wsc-chip", code.name + (c.coder !== me() ? ` · ${c.coder}` : "") + (c.memo ? " ✎" : ""));
      chip.type = "button";
      chip.dataset.id = c.id;
      chip.style.borderLeftColor = code.color;
      chip.title = c.memo || code.definition || code.name;
      if (c.id === active) { chip.classList.add("wsc-chip-active"); editing = c; }
      chip.onclick = () => { model.set("active", c.id === model.get("active") ? -1 : c.id); model.save_changes(); };
      chips.appendChild(chip);
    }
    row.append(who, utt, chips);
    if (editing) row.appendChild(memoEditor(editing));
    turnEls[i] = row;
    return row;
  }

  // Turns are drawn in order: the first screenful at once (the coder can select and code), the
  // rest in slices of a few milliseconds, so a long transcript never blocks the page; anything
  // that needs a turn not drawn yet (jump, scroll target) finishes the drawing first.
  let drawn = 0, drawGen = 0;
  const FIRST_TURNS = 40, SLICE_MS = 8;
  function drawUpTo(limit) {
    const frag = document.createDocumentFragment();
    for (; drawn < limit; drawn++) frag.appendChild(drawTurn(drawn));
    body.appendChild(frag);
  }
  function finishDrawing() {
    drawGen++;
    drawUpTo(turns.length);
    if (!el.dataset.wscComplete) el.dataset.wscCompleteMs = (performance.now() - began).toFixed(1);
    el.dataset.wscComplete = "1";
  }
  function drawRest(gen) {
    if (gen !== drawGen) return;
    const until = performance.now() + SLICE_MS;
    while (drawn < turns.length && performance.now() < until) drawUpTo(Math.min(turns.length, drawn + 25));
    if (drawn < turns.length) setTimeout(() => drawRest(gen), 0);
    else finishDrawing();
  }
  function drawAll() {
    index();
    turnEls = [];
    drawn = 0;
    body.textContent = "";
    drawUpTo(Math.min(turns.length, FIRST_TURNS));
    const gen = ++drawGen;
    if (drawn < turns.length) setTimeout(() => drawRest(gen), 0);
    else finishDrawing();
  }

  function drawPalette() {
    palette.textContent = "";
    const armed = model.get("armed");
    for (const c of codes) {
      const item = h("div", "wsc-code");
      item.style.borderLeftColor = c.color;
      const box = h("input");
      box.type = "checkbox";
      box.checked = armed.includes(c.id);
      box.setAttribute("aria-label", c.name);
      box.onchange = () => toggleArm(c.id);
      const btn = h("button", "wsc-code-apply", (c.key ? `${c.key} ` : "") + c.name);
      btn.type = "button";
      btn.dataset.code = c.id;
      btn.title = c.definition || c.name;
      btn.onclick = () => applyNow([c.id, ...model.get("armed").filter((x) => x !== c.id)]);
      const prev = h("button", "wsc-jump", "◀");
      prev.type = "button";
      prev.title = L.previous;
      prev.setAttribute("aria-label", `${L.previous}: ${c.name}`);
      prev.onclick = () => send({ type: "jump", code: c.id, step: -1 });
      const next = h("button", "wsc-jump", "▶");
      next.type = "button";
      next.title = L.next;
      next.setAttribute("aria-label", `${L.next}: ${c.name}`);
      next.onclick = () => send({ type: "jump", code: c.id, step: 1 });
      item.append(box, btn, prev, next);
      palette.appendChild(item);
    }
  }

  function select(name, allLabel, values, labelOf) {
    const s = h("select", "wsc-filter");
    s.setAttribute("aria-label", allLabel);
    s.appendChild(new Option(allLabel, ""));
    for (const v of values) s.appendChild(new Option(labelOf ? labelOf(v) : v, v));
    const cur = model.get(name);
    s.value = cur.length ? cur[0] : "";
    s.onchange = () => { model.set(name, s.value ? [s.value] : []); model.save_changes(); };
    return s;
  }

  function drawFilters() {
    filters.textContent = "";
    const speakers = [...new Set(turns.map((t) => t[3]).filter(Boolean))];
    const coders = [...new Set(codings.map((c) => c.coder))].sort();
    filters.append(select("filter_codes", L.all_codes, codes.map((c) => c.id), (id) => codeById.get(id).name),
      select("filter_speakers", L.all_speakers, speakers));
    if (!model.get("blind")) filters.append(select("filter_coders", L.all_coders, coders));
    const label = h("label", "wsc-only");
    const box = h("input");
    box.type = "checkbox";
    box.checked = model.get("only_coded");
    box.onchange = () => { model.set("only_coded", box.checked); model.save_changes(); };
    label.append(box, document.createTextNode(" " + L.only_coded));
    filters.appendChild(label);
    blindNote.hidden = !model.get("blind");
  }

  // -- selection: DOM boundary (UTF-16) -> code points --------------------------------------
  const isPiece = (n) => n.nodeType === 1 && n.classList.contains("wsc-p");
  function walker() {
    return document.createTreeWalker(body, NodeFilter.SHOW_ELEMENT,
      { acceptNode: (n) => (isPiece(n) ? NodeFilter.FILTER_ACCEPT : NodeFilter.FILTER_SKIP) });
  }
  function boundary(node, offset, isEnd) {
    if (node.nodeType === 3 && node.parentElement && isPiece(node.parentElement)) {
      return +node.parentElement.dataset.s + cpCount(node.data, offset);
    }
    if (isPiece(node)) return offset === 0 ? +node.dataset.s : +node.dataset.e;
    const w = walker();
    if (!isEnd) {  // first piece at or after the boundary
      let ref = node.nodeType === 1 && offset < node.childNodes.length ? node.childNodes[offset] : null;
      if (ref) {
        if (isPiece(ref)) return +ref.dataset.s;
        w.currentNode = ref;
        let n = w.nextNode();
        return n ? +n.dataset.s : null;
      }
      w.currentNode = node;
      let n = w.nextNode();
      while (n && node.contains(n)) n = w.nextNode();
      return n ? +n.dataset.s : null;
    }
    let ref = node.nodeType === 1 && offset > 0 ? node.childNodes[offset - 1] : null;
    if (ref) {
      if (isPiece(ref)) return +ref.dataset.e;
      const inner = ref.nodeType === 1 ? ref.querySelectorAll(".wsc-p") : [];
      if (inner.length) return +inner[inner.length - 1].dataset.e;
      w.currentNode = ref;
    } else {
      w.currentNode = node;
    }
    const n = w.previousNode();
    return n ? +n.dataset.e : null;
  }

  function readSelection() {
    const sel = window.getSelection();
    if (!sel || sel.rangeCount === 0 || sel.isCollapsed) return null;
    const r = sel.getRangeAt(0);
    if (!body.contains(r.commonAncestorContainer)) return null;
    const start = boundary(r.startContainer, r.startOffset, false);
    const end = boundary(r.endContainer, r.endOffset, true);
    if (start === null || end === null || start >= end) return null;
    return { start, end };
  }

  function noteSelection() {
    const s = readSelection();
    if (!s) return;
    lastSelection = s;
    const quote = text.slice(s.start, s.end);
    selInfo.textContent = `${L.selection} [${s.start}, ${s.end}) « ${quote.length > 60 ? quote.slice(0, 59) + "…" : quote} »`;
    model.set("selection", s);
    model.save_changes();
  }
  let selTimer = null;
  const onSelectionChange = () => { clearTimeout(selTimer); selTimer = setTimeout(noteSelection, 40); };
  document.addEventListener("selectionchange", onSelectionChange);

  // -- actions ----------------------------------------------------------------------------
  function send(msg) { root.classList.add("wsc-busy"); model.send(msg); }

  function applyNow(ids) {
    const s = readSelection() || lastSelection;
    if (!ids.length || !s) { send({ type: "apply", codes: ids }); return; }  // Python explains what is missing
    send({ type: "apply", codes: ids, start: s.start, end: s.end });
    lastSelection = null;
    const sel = window.getSelection();
    if (sel) sel.removeAllRanges();
    selInfo.textContent = "";
  }

  function toggleArm(id) {
    const armed = model.get("armed");
    model.set("armed", armed.includes(id) ? armed.filter((x) => x !== id) : [...armed, id]);
    model.save_changes();
  }

  applyBtn.onclick = () => applyNow(model.get("armed"));
  undoBtn.onclick = () => send({ type: "undo" });

  root.addEventListener("keydown", (ev) => {
    const typing = ev.target instanceof HTMLTextAreaElement || ev.target instanceof HTMLInputElement
      || ev.target instanceof HTMLSelectElement;
    if (ev.key === "Escape") {
      model.set("armed", []); model.set("active", -1); model.save_changes();
      return;
    }
    if (typing) return;
    if ((ev.ctrlKey || ev.metaKey) && ev.key.toLowerCase() === "z") { ev.preventDefault(); send({ type: "undo" }); return; }
    if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
    if (/^[1-9]$/.test(ev.key)) {
      const c = codes.find((x) => x.key === ev.key);
      if (c) { ev.preventDefault(); toggleArm(c.id); }
    } else if (ev.key === "Enter" || ev.key === "a") {
      ev.preventDefault();
      applyNow(model.get("armed"));
    } else if (ev.key === "u") {
      send({ type: "undo" });
    } else if (ev.key === "n" || ev.key === "p") {
      const target = model.get("armed")[0] || model.get("filter_codes")[0] || (model.get("focus_span") || {}).code;
      if (target) send({ type: "jump", code: target, step: ev.key === "n" ? 1 : -1 });
    }
  });

  // -- model changes ----------------------------------------------------------------------
  function onCodings() {
    const fresh = model.get("codings");
    const next = new Map(fresh.map((c) => [c.id, c]));
    const touched = new Set();
    const mark = (c) => { const [a, b] = turnRange(c); for (let i = a; i <= b; i++) touched.add(i); };
    for (const [id, c] of byId) {
      const n = next.get(id);
      if (!n || n.memo !== c.memo || n.start !== c.start || n.end !== c.end || n.code !== c.code) mark(c);
    }
    for (const [id, c] of next) if (!byId.has(id)) mark(c);
    codings = fresh;
    byId = next;
    index();
    if (touched.size > turns.length / 2) drawAll();
    else for (const i of touched) if (i < drawn) drawTurn(i);  // later turns: drawn with this index
    if (!model.get("blind")) drawFilters();
  }

  model.on("change:codings", onCodings);
  model.on("change:revision", () => {
    root.classList.remove("wsc-busy");
    undoBtn.disabled = !model.get("can_undo");
  });
  model.on("change:armed", drawPalette);
  for (const name of ["filter_codes", "filter_speakers", "filter_coders", "only_coded"]) {
    model.on(`change:${name}`, () => { drawAll(); drawFilters(); });
  }
  model.on("change:blind", () => { drawFilters(); });
  let prevActive = model.get("active");
  model.on("change:active", () => {
    const cur = model.get("active");
    for (const id of [prevActive, cur]) {
      const c = byId.get(id);
      if (c && turnOf(c.start) < drawn) drawTurn(turnOf(c.start));
    }
    prevActive = cur;
  });
  model.on("change:focus_span", () => {
    const f = model.get("focus_span");
    if (!f || f.start === undefined) return;
    root.classList.remove("wsc-busy");
    if (drawn < turns.length) finishDrawing();
    const row = turnEls[turnOf(f.start)];
    if (!row) return;
    row.hidden = false;
    row.scrollIntoView({ block: "center" });
    for (const p of body.querySelectorAll(".wsc-flash")) p.classList.remove("wsc-flash");
    for (const p of row.querySelectorAll(".wsc-p")) {
      if (+p.dataset.s < f.end && f.start < +p.dataset.e) p.classList.add("wsc-flash");
    }
    selInfo.textContent = `${codeById.get(f.code) ? codeById.get(f.code).name : f.code} ${f.index}/${f.of}`;
  });
  model.on("change:text", () => {
    text = new CodePoints(model.get("text"));
    turns = model.get("turns");
    drawAll();
  });
  model.on("change:codes", () => {
    codes = model.get("codes");
    codeById = new Map(codes.map((c) => [c.id, c]));
    drawPalette(); drawFilters(); drawAll();
  });

  // Other coders' work: ask for a reload now and then while the page is in view.
  const timer = setInterval(() => {
    if (document.visibilityState === "visible" && !root.classList.contains("wsc-busy")) model.send({ type: "sync" });
  }, 20000);

  drawPalette();
  drawFilters();
  drawAll();
  undoBtn.disabled = !model.get("can_undo");
  el.dataset.wscRenderMs = (performance.now() - began).toFixed(1);
  el.dataset.wscReady = "1";
  root.dataset.ready = "1";
  return () => {
    drawGen++;
    clearInterval(timer);
    document.removeEventListener("selectionchange", onSelectionChange);
  };
}

export default { render };
