  // ---------------------------------------------------------------- the criteria

  function renderCriteria() {
    const box = $("criteria-plot");
    if (!state.result) {
      placeholder(box, "BIC, AIC and ICL against K appear here after a fit.");
      return;
    }
    const r = state.result;
    const ok = r.results.filter((k) => k.status === "ok");
    if (!ok.length) {
      placeholder(box, "every K failed");
      return;
    }
    const series = [
      { name: "bic", color: ACCENT },
      { name: "aic", color: "#e8590c" },
      { name: "icl", color: "#7048e8", dash: "4 3" },
    ];
    const values = ok.flatMap((k) => series.map((s) => k[s.name])).filter(isNum);
    const ks = r.results.map((k) => k.k);
    const kmin = Math.min(...ks);
    const kmax = Math.max(...ks);
    const f = frame(box, {
      x: [kmin - 0.4, kmax + 0.4], y: padRange(minOf(values), maxOf(values)),
      xticks: ks, xlabel: "K", ylabel: "criterion", id: "criteria", height: 260,
    });
    if (state.showK !== null) {
      el("rect", { x: f.sx(state.showK - 0.3), width: f.sx(0.6) - f.sx(0), y: f.m.top, height: f.ph, fill: "#eef4ff" }, f.g);
    }
    for (const s of series) {
      const pts = ok.filter((k) => isNum(k[s.name]));
      el("path", { d: pathData(pts.map((k) => [f.sx(k.k), f.sy(k[s.name])])), fill: "none", stroke: s.color, "stroke-width": 1.8, "stroke-dasharray": s.dash || "" }, f.g);
      for (const k of pts) {
        const c = el("circle", {
          cx: f.sx(k.k), cy: f.sy(k[s.name]), r: 3.5, fill: s.color,
          "data-criterion": s.name, "data-k": k.k, "data-value": k[s.name],
        }, f.g);
        c.addEventListener("click", () => setShowK(k.k));
      }
    }
    const chosen = ok.find((k) => k.k === r.k_selected);
    if (chosen) {
      const cx = f.sx(chosen.k);
      const cy = f.sy(chosen[r.criterion]);
      el("circle", { cx, cy, r: 9, fill: "none", stroke: "#111827", "stroke-width": 1.8, "data-selected": "true", "data-k": chosen.k }, f.g);
      const above = cy - 14 > f.m.top + 10;
      text(f.svg, cx, above ? cy - 14 : cy + 22, `selected: k = ${chosen.k} (${r.criterion.toUpperCase()})`, { fill: "#111827", "text-anchor": "middle", class: "halo" });
    }
    legend(f.svg, f.m.left + 10, f.m.top + 14, series.map((s) => ({ color: s.color, dash: s.dash, label: s.name.toUpperCase() })));
  }

