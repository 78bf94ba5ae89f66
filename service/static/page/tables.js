  // ---------------------------------------------------------------- tables

  function cell(tr, value, attrs = {}, cls = "") {
    const td = document.createElement("td");
    td.textContent = value;
    if (cls) td.className = cls;
    for (const [k, v] of Object.entries(attrs)) td.setAttribute(k, v);
    tr.appendChild(td);
    return td;
  }

  function renderEstimates() {
    const table = $("estimates");
    const kres = shownResult();
    const head = table.tHead;
    const body = table.tBodies[0];
    $("estimates-k").textContent = kres ? `k = ${kres.k}${kres.k === state.result.k_selected ? " (selected)" : ""}` : "";
    if (!kres || kres.status !== "ok") {
      head.replaceChildren();
      body.replaceChildren();
      return;
    }
    const family = state.result.family;
    const fitted = components(family, kres.params).map((c, j) => ({ ...c, j }));
    fitted.sort((a, b) => a.mean - b.mean);
    let truth = null;
    if (state.truth && state.truth.family === family && state.truth.comps.length === fitted.length) {
      truth = components(family, truthParams(state.truth)).sort((a, b) => a.mean - b.mean);
    }
    const cols = [["weight", "weight", (c) => c.w]].concat(
      familyOf(family).cols.map(([name, label, key]) => [name, label, (c) => c[key || name]]));
    const boot = shownIntervals(kres);
    const scales = boot ? intervalScales(boot, cols, fitted, truth) : {};
    if (boot) $("estimates-k").textContent += ` · bars: ${Math.round(100 * boot.conf_level)} % intervals`;
    const hr = document.createElement("tr");
    hr.innerHTML = "<th>component</th>";
    for (const [, label] of cols) {
      hr.insertAdjacentHTML("beforeend", `<th>${label}</th>`);
      if (truth) hr.insertAdjacentHTML("beforeend", "<th class=\"muted\">true</th>");
    }
    head.replaceChildren(hr);
    body.replaceChildren(...fitted.map((c, row) => {
      const tr = document.createElement("tr");
      tr.dataset.component = String(c.j);
      const first = cell(tr, "");
      const sw = document.createElement("span");
      sw.textContent = "■ ";
      sw.style.color = COLORS[c.j % COLORS.length];
      first.append(sw, `${c.j + 1}`);
      for (const [name, , get] of cols) {
        const td = cell(tr, fmt(get(c)), { "data-param": name, "data-component": c.j, "data-value": get(c) });
        if (scales[name]) {
          td.append(intervalBar(boot, name, c.j, scales[name], truth ? get(truth[row]) : null));
        }
        if (truth) cell(tr, fmt(get(truth[row])), { "data-truth": name }, "truth");
      }
      return tr;
    }));
  }

  function renderKTable() {
    const body = $("k-table").tBodies[0];
    if (!state.result) {
      body.replaceChildren();
      return;
    }
    const r = state.result;
    body.replaceChildren(...r.results.map((k) => {
      const tr = document.createElement("tr");
      tr.dataset.k = String(k.k);
      if (k.k === r.k_selected) tr.className = "selected";
      cell(tr, String(k.k));
      cell(tr, fix(k.loglik), { "data-field": "loglik", "data-value": k.loglik ?? "" });
      cell(tr, String(k.n_params), { "data-field": "n_params" });
      for (const name of ["bic", "aic", "icl"]) cell(tr, fix(k[name]), { "data-field": name, "data-value": k[name] ?? "" });
      cell(tr, String(k.n_iter), { "data-field": "n_iter" });
      cell(tr, k.status !== "ok" ? "failed" : k.converged ? "yes" : "no", { "data-field": "converged" });
      cell(tr, k.k === r.k_selected ? `◀ ${r.criterion.toUpperCase()}` : "", { "data-field": "selected" });
      if (k.message) tr.title = k.message; // why it failed, or what an ok K is (a copy of K-1)
      tr.addEventListener("click", () => setShowK(k.k));
      return tr;
    }));
  }

