// Signature pad: pointer events (pen, touch, mouse) drawn on a canvas; strokes kept in 0–1
// box coordinates and synced to Python when each stroke ends. Keyboard users get the clear
// button and a label; the box itself is described for screen readers.
function render({ model, el }) {
  const wrap = document.createElement("div");
  wrap.className = "weshare-signature";
  const label = document.createElement("p");
  label.className = "weshare-signature-label";
  label.id = "sig-" + Math.random().toString(36).slice(2);
  label.textContent = model.get("label");
  const canvas = document.createElement("canvas");
  canvas.setAttribute("role", "img");
  canvas.setAttribute("aria-labelledby", label.id);
  canvas.className = "weshare-signature-box";
  const clear = document.createElement("button");
  clear.type = "button";
  clear.className = "weshare-signature-clear";
  clear.textContent = model.get("clear_label");
  wrap.append(label, canvas, clear);
  el.appendChild(wrap);

  let strokes = (model.get("strokes") || []).map((s) => s.slice());
  let current = null;
  const ctx = canvas.getContext("2d");

  function resize() {
    const box = canvas.getBoundingClientRect();
    const ratio = window.devicePixelRatio || 1;
    canvas.width = Math.max(1, Math.round(box.width * ratio));
    canvas.height = Math.max(1, Math.round(box.height * ratio));
    draw();
  }
  function draw() {
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    ctx.lineWidth = 2 * (window.devicePixelRatio || 1);
    ctx.lineCap = "round";
    ctx.strokeStyle = "#102a43";
    for (const stroke of current ? strokes.concat([current]) : strokes) {
      ctx.beginPath();
      stroke.forEach(([x, y], i) => {
        const px = x * canvas.width, py = y * canvas.height;
        if (i === 0) ctx.moveTo(px, py); else ctx.lineTo(px, py);
      });
      ctx.stroke();
    }
  }
  function point(event) {
    const box = canvas.getBoundingClientRect();
    const x = Math.min(1, Math.max(0, (event.clientX - box.left) / box.width));
    const y = Math.min(1, Math.max(0, (event.clientY - box.top) / box.height));
    return [Math.round(x * 10000) / 10000, Math.round(y * 10000) / 10000];
  }
  canvas.addEventListener("pointerdown", (event) => {
    event.preventDefault();
    canvas.setPointerCapture(event.pointerId);
    current = [point(event)];
  });
  canvas.addEventListener("pointermove", (event) => {
    if (!current) return;
    event.preventDefault();
    current.push(point(event));
    draw();
  });
  function end(event) {
    if (!current) return;
    if (current.length >= 2) strokes.push(current);
    current = null;
    model.set("strokes", strokes.map((s) => s.slice()));
    model.save_changes();
    draw();
  }
  canvas.addEventListener("pointerup", end);
  canvas.addEventListener("pointercancel", end);
  clear.addEventListener("click", () => {
    strokes = [];
    model.set("strokes", []);
    model.save_changes();
    draw();
  });
  model.on("change:strokes", () => {
    strokes = (model.get("strokes") || []).map((s) => s.slice());
    draw();
  });
  new ResizeObserver(resize).observe(canvas);
  resize();
}
export default { render };
