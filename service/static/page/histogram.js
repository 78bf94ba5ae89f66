  // ---------------------------------------------------------------- the histogram

  function shownResult() {
    if (!state.result) return null;
    return state.result.results.find((r) => r.k === state.showK) || null;
  }

  // The parameters drawn: the iteration chosen on the slider, else the fitted ones.
  function shownParams(kres) {
    if (!kres || kres.status !== "ok") return null;
    if (kres.path && state.iter !== null && state.iter < kres.path.length) return kres.path[state.iter];
    return kres.params;
  }

  function histogramBins(lo, hi) {
    const x = state.x;
    const w = state.w;
    const total = w ? w.reduce((a, b) => a + b, 0) : x.length;
    const bins = Math.min(60, Math.max(8, Math.round(Math.sqrt(x.length) * 1.3)));
    const width = (hi - lo) / bins;
    const counts = new Array(bins).fill(0);
    x.forEach((v, i) => {
      const j = Math.min(bins - 1, Math.max(0, Math.floor((v - lo) / width)));
      counts[j] += w ? w[i] : 1;
    });
    return counts.map((c, j) => ({ a: lo + j * width, b: lo + (j + 1) * width, d: c / (total * width) }));
  }

  function renderHist() {
    const box = $("hist-plot");
    if (!state.summary) {
      placeholder(box, "No data yet: simulate, paste a CSV or load a dataset.");
      return;
    }
    const family = state.result ? state.result.family : state.truth ? state.truth.family : "gaussian";
    const s = state.summary;
    const F = familyOf(family);
    const bounded = Number.isFinite(F.support[0]) && Number.isFinite(F.support[1]);
    let lo;
    let hi;
    if (bounded) {
      [lo, hi] = F.support;
    } else {
      const pad = 0.06 * (s.max - s.min || 1);
      lo = s.min - pad;
      hi = s.max + pad;
      // Score points widen the view by up to 30 % of the data's span each side; farther ones sit
      // at the edge, labelled with their value.
      if (state.scores) {
        const reach = 0.3 * (s.max - s.min || 1);
        for (const p of state.scores.points) {
          if (p < lo) lo = Math.max(p - pad, s.min - reach);
          if (p > hi) hi = Math.min(p + pad, s.max + reach);
        }
      }
      if (Number.isFinite(F.support[0])) lo = Math.max(lo, F.support[0] - (F.discrete ? 0.5 : 0));
    }
    const bins = state.x ? histogramBins(bounded ? lo : s.min, bounded ? hi : s.max) : [];
    const grid = [];
    const G = 400;
    for (let i = 0; i <= G; i++) {
      const v = lo + ((hi - lo) * i) / G;
      // Inside an open support (a density may be infinite at its end); a count's probability at
      // the nearest integer.
      const inside = F.open ? Math.min(F.support[1] - 1e-6 * (hi - lo), Math.max(F.support[0] + 1e-6 * (hi - lo), v)) : v;
      grid.push(F.discrete ? Math.max(0, Math.round(inside)) : inside);
    }
    const curves = [];
    if (state.truth) {
      const comps = components(state.truth.family, truthParams(state.truth));
      curves.push({ kind: "truth", ys: grid.map((v) => comps.reduce((a, c) => a + c.w * Math.exp(c.logpdf(v)), 0)) });
    }
    const kres = shownResult();
    const params = shownParams(kres);
    let comps = [];
    if (params) {
      comps = components(family, params);
      const parts = comps.map((c) => grid.map((v) => c.w * Math.exp(c.logpdf(v))));
      // The mixture first, its components on top of it.
      curves.push({ kind: "mixture", ys: grid.map((_, i) => parts.reduce((a, p) => a + p[i], 0)) });
      parts.forEach((ys, j) => curves.push({ kind: "component", j, ys, comp: comps[j] }));
    }
    const histMax = bins.reduce((a, b) => Math.max(a, b.d), 0);
    const curveMax = curves.reduce((a, c) => Math.max(a, maxOf(c.ys.filter(Number.isFinite))), 0);
    // A beta density with a shape below 1 is infinite at the edge: do not let it flatten the rest.
    const ymax = 1.08 * (histMax > 0 ? Math.max(histMax, Math.min(curveMax, 2.5 * histMax)) : curveMax || 1);
    const f = frame(box, { x: [lo, hi], y: [0, ymax], xlabel: "x", ylabel: "density", id: "hist", height: 300 });
    f.svg.id = "hist-svg";
    const hg = el("g", { class: "hist" }, f.g);
    for (const b of bins) {
      el("rect", { x: f.sx(b.a), width: Math.max(0, f.sx(b.b) - f.sx(b.a)), y: f.sy(b.d), height: f.sy(0) - f.sy(b.d), "data-density": b.d }, hg);
    }
    for (const c of curves) {
      const d = pathData(grid.map((v, i) => [f.sx(v), f.sy(Math.min(c.ys[i], ymax * 2))]));
      const attrs = { d, fill: "none", "data-curve": c.kind };
      if (c.kind === "truth") Object.assign(attrs, { stroke: "#475467", "stroke-width": 1.6, "stroke-dasharray": "5 4" });
      // Thick under thin: where one component carries the mixture both stay visible.
      if (c.kind === "mixture") Object.assign(attrs, { stroke: "#111827", "stroke-width": 3.4 });
      if (c.kind === "component") {
        Object.assign(attrs, { stroke: COLORS[c.j % COLORS.length], "stroke-width": 1.5, "data-component": c.j, "data-weight": c.comp.w });
        for (const [name, , key] of F.cols) attrs[`data-${name}`] = c.comp[key || name];
        if (!attrs["data-mean"]) Object.assign(attrs, { "data-mean": c.comp.mean, "data-sd": c.comp.sd });
      }
      el("path", attrs, f.g);
    }
    if (state.scores) drawScoreMarkers(f, lo, hi);
    const items = [];
    if (bins.length) items.push({ box: true, label: state.w ? "data (weighted)" : "data" });
    if (state.truth) items.push({ color: "#475467", dash: "5 4", label: "truth" });
    if (params) {
      items.push({ color: "#111827", width: 3.4, label: `fitted mixture, k = ${kres.k}` });
      comps.forEach((c, j) => items.push({ color: COLORS[j % COLORS.length], label: `component ${j + 1}` }));
    }
    legend(f.svg, f.m.left + f.pw - 150, f.m.top + 14, items);
    if (!state.x) text(f.svg, f.m.left + 8, f.m.top + 14, "data values are not in this browser: no histogram");
  }

  function drawScoreMarkers(f, lo, hi) {
    const { points, result } = state.scores;
    const g = el("g", { class: "scores" }, f.svg);
    points.forEach((p, i) => {
      const clamped = Math.min(hi, Math.max(lo, p));
      const px = f.sx(clamped);
      const py = f.m.top + f.ph;
      const bad = result.is_anomaly[i];
      const color = bad ? "#c2410c" : "#15803d";
      const mark = el("path", {
        d: `M${px},${py - 13}L${px - 6},${py - 1}L${px + 6},${py - 1}Z`, fill: color, stroke: "#fff",
        "data-score-point": i, "data-x": p, "data-anomaly": String(bad),
      }, g);
      el("title", {}, mark).textContent = `x = ${p}: log-density ${fmt(result.log_density[i])}, p = ${fmt(result.p_value[i])}`;
      if (bad || clamped !== p) text(g, px, py - 16, clamped !== p ? `${fmt(p)} →` : fmt(p), { "text-anchor": "middle", fill: color });
    });
  }

