  // ---------------------------------------------------------------- the traces

  function renderTrace() {
    const box = $("trace-plot");
    const caption = $("trace-caption");
    if (state.liveTrace && !state.result) {
      const { k, start, trace } = state.liveTrace;
      const values = trace.filter(isNum);
      if (!values.length) return;
      const y = padRange(minOf(values), maxOf(values));
      const f = frame(box, { x: [start, Math.max(start + 1, start + trace.length - 1)], y, xlabel: "iteration", ylabel: "log-likelihood", id: "trace", height: 260 });
      const pts = trace.map((v, i) => [f.sx(start + i), f.sy(v)]).filter((p, i) => isNum(trace[i]));
      el("path", { d: pathData(pts), fill: "none", stroke: ACCENT, "stroke-width": 2, "data-live": "true" }, f.g);
      caption.textContent = `Live: the leading start of k = ${k}`;
      return;
    }
    const kres = shownResult();
    if (!kres || kres.status !== "ok") {
      placeholder(box, kres ? `k = ${kres.k} failed: ${kres.message}` : "The log-likelihood of every start appears here after a fit.");
      caption.textContent = "Log-likelihood of every start";
      return;
    }
    const all = kres.starts.flatMap((s) => s.trace).filter(isNum);
    const len = Math.max(...kres.starts.map((s) => s.trace.length));
    const f = frame(box, { x: [0, Math.max(1, len - 1)], y: padRange(minOf(all), maxOf(all)), xlabel: "iteration", ylabel: "log-likelihood", id: "trace", height: 260 });
    const ordered = [...kres.starts].sort((a, b) => (a.start === kres.best_start) - (b.start === kres.best_start));
    for (const s of ordered) {
      const best = s.start === kres.best_start;
      el("path", {
        d: pathData(s.trace.map((v, i) => [f.sx(i), f.sy(v)])), fill: "none",
        stroke: best ? ACCENT : "#b4bfd0", "stroke-width": best ? 2.6 : 1.1,
        "stroke-dasharray": s.status === "degenerate" ? "3 3" : "",
        "data-start": s.start, "data-best": String(best), "data-points": s.trace.length, "data-status": s.status,
      }, f.g);
    }
    const best = kres.starts.find((s) => s.start === kres.best_start);
    if (best && state.iter !== null && state.iter < best.trace.length) {
      const i = state.iter;
      el("line", { x1: f.sx(i), x2: f.sx(i), y1: f.m.top, y2: f.m.top + f.ph, stroke: "#111827", "stroke-dasharray": "2 3", "data-role": "iteration-marker", "data-iteration": i }, f.g);
      el("circle", { cx: f.sx(i), cy: f.sy(best.trace[i]), r: 4, fill: ACCENT, stroke: "#fff" }, f.g);
    }
    legend(f.svg, f.m.left + f.pw - 140, f.m.top + f.ph - 22, [
      { color: ACCENT, width: 2.6, label: `best start (${kres.best_start})` },
      { color: "#b4bfd0", label: `other starts (${kres.starts.length - 1})` },
    ]);
    caption.textContent = `Log-likelihood of every start, k = ${kres.k}`;
  }

  // At least a millionth of the values' size either side, so that ticks can tell them apart.
  function padRange(lo, hi) {
    const pad = Math.max(0.05 * (hi - lo), 1e-6 * Math.max(Math.abs(lo), Math.abs(hi)) || 0.05);
    return [lo - pad, hi + pad];
  }

