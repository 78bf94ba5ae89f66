  // ---------------------------------------------------------------- SVG plumbing

  function el(name, attrs = {}, parent = null) {
    const e = document.createElementNS(SVGNS, name);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
    if (parent) parent.appendChild(e);
    return e;
  }
  function text(parent, x, y, str, attrs = {}) {
    const t = el("text", { x, y, ...attrs }, parent);
    t.textContent = str;
    return t;
  }

  function niceTicks(lo, hi, n = 6) {
    const span = hi - lo;
    if (!(span > 0)) return [lo];
    const raw = span / n;
    const mag = 10 ** Math.floor(Math.log10(raw));
    const r = raw / mag;
    const step = (r >= 7.5 ? 10 : r >= 3.5 ? 5 : r >= 1.5 ? 2 : 1) * mag;
    // A step below the values' resolution would never move v: a live trace that had levelled
    // off to 1e-13 looped here until the array overflowed ("Invalid array length").
    if (lo + step === lo || hi + step === hi) return [lo, hi];
    const out = [];
    for (let i = Math.ceil(lo / step); i * step <= hi + step * 1e-9 && out.length <= 4 * n; i++) {
      const v = i * step;
      out.push(Math.abs(v) < step * 1e-9 ? 0 : v);
    }
    return out;
  }

  // A plot frame: axes, ticks and labels; returns scales and the clipped drawing group.
  // Drawn at the container's pixel width (redrawn on resize), so text is the same size in
  // every plot.
  function frame(container, { height = 300, x, y, xlabel, ylabel, xticks, id }) {
    const width = Math.max(320, Math.round(container.clientWidth || 640));
    const m = { left: 66, right: 14, top: 12, bottom: 38 };
    const svg = el("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": ylabel || "" });
    const pw = width - m.left - m.right;
    const ph = height - m.top - m.bottom;
    const sx = (v) => m.left + ((v - x[0]) / (x[1] - x[0] || 1)) * pw;
    const sy = (v) => m.top + ph - ((v - y[0]) / (y[1] - y[0] || 1)) * ph;
    Object.assign(svg.dataset, { xmin: x[0], xmax: x[1], ymin: y[0], ymax: y[1], left: m.left, top: m.top, width: pw, height: ph });
    const axis = el("g", { class: "axis" }, svg);
    const yticks = niceTicks(y[0], y[1], 5);
    for (const t of yticks) {
      el("line", { x1: m.left, x2: m.left + pw, y1: sy(t), y2: sy(t), class: "gridline" }, axis);
      text(axis, m.left - 6, sy(t) + 4, tickFmt(t, yticks[1] - yticks[0] || 1), { "text-anchor": "end" });
    }
    const xs = xticks || niceTicks(x[0], x[1], 8);
    for (const t of xs) {
      el("line", { x1: sx(t), x2: sx(t), y1: m.top + ph, y2: m.top + ph + 4 }, axis);
      text(axis, sx(t), m.top + ph + 16, tickFmt(t, xs[1] - xs[0] || 1), { "text-anchor": "middle" });
    }
    el("line", { x1: m.left, x2: m.left + pw, y1: m.top + ph, y2: m.top + ph }, axis);
    el("line", { x1: m.left, x2: m.left, y1: m.top, y2: m.top + ph }, axis);
    if (xlabel) text(axis, m.left + pw / 2, height - 4, xlabel, { "text-anchor": "middle" });
    if (ylabel) text(axis, 11, m.top + ph / 2, ylabel, { "text-anchor": "middle", transform: `rotate(-90 11 ${m.top + ph / 2})` });
    const clipId = `clip-${id}`;
    el("rect", { x: m.left, y: m.top, width: pw, height: ph }, el("clipPath", { id: clipId }, el("defs", {}, svg)));
    const g = el("g", { "clip-path": `url(#${clipId})` }, svg);
    container.replaceChildren(svg);
    return { svg, g, sx, sy, m, pw, ph, width, height };
  }

  const pathData = (pts) => pts.map(([px, py], i) => `${i ? "L" : "M"}${px.toFixed(2)},${py.toFixed(2)}`).join("");

  function legend(svg, x, y, items) {
    const g = el("g", { class: "legend" }, svg);
    items.forEach((it, i) => {
      const yy = y + i * 15;
      if (it.box) el("rect", { x, y: yy - 8, width: 16, height: 9, fill: "#dbe4f3" }, g);
      else el("line", { x1: x, x2: x + 16, y1: yy - 4, y2: yy - 4, stroke: it.color, "stroke-width": it.width || 2, "stroke-dasharray": it.dash || "" }, g);
      text(g, x + 21, yy, it.label);
    });
  }

  function placeholder(container, message) {
    const p = document.createElement("p");
    p.className = "hint";
    p.textContent = message;
    container.replaceChildren(p);
  }

