  // ---------------------------------------------------------------- data: simulate, CSV, id

  function simRow(i, c) {
    const tr = document.createElement("tr");
    tr.innerHTML = `<td class="muted">${i + 1}</td>`;
    for (const field of ["mu", "sd", "pi"]) {
      const td = document.createElement("td");
      const input = document.createElement("input");
      input.type = "number";
      input.step = "any";
      input.value = c[field];
      input.dataset.field = field;
      input.dataset.row = String(i);
      input.id = `sim-${field}-${i}`;
      td.appendChild(input);
      tr.appendChild(td);
    }
    return tr;
  }
  function setSimRows(comps) {
    const body = $("sim-components").tBodies[0];
    body.replaceChildren(...comps.map((c, i) => simRow(i, c)));
  }

  function simulate() {
    const family = $("sim-family").value;
    const F = familyOf(family);
    const n = readNumber("sim-n", "N", { integer: true, min: 2, max: 100000 });
    const seed = readNumber("sim-seed", "seed", { integer: true, min: 0 });
    const rows = [...$("sim-components").tBodies[0].rows];
    const comps = rows.map((tr, i) => {
      const get = (f) => readNumber(`sim-${f}-${i}`, `${f} of component ${i + 1}`);
      const c = { mu: get("mu"), sd: get("sd"), pi: get("pi") };
      if (!(c.sd > 0)) throw new Error(`σ of component ${i + 1} must be positive`);
      if (c.pi < 0) throw new Error(`π of component ${i + 1} must not be negative`);
      try {
        c.p = F.fromMoments(c.mu, c.sd);
      } catch (e) {
        throw new Error(`component ${i + 1}: ${e.message}`);
      }
      return c;
    });
    const total = comps.reduce((s, c) => s + c.pi, 0);
    if (!(total > 0)) throw new Error("the π values must not all be zero");
    comps.forEach((c) => { c.pi /= total; });
    const u = mulberry32(seed);
    const x = new Array(n);
    for (let i = 0; i < n; i++) {
      let r = u();
      let j = 0;
      while (j < comps.length - 1 && r >= comps[j].pi) { r -= comps[j].pi; j++; }
      const c = comps[j];
      x[i] = F.draw(u, c.p);
    }
    const note = Math.abs(total - 1) > 1e-9 ? " (π rescaled to sum to 1)" : "";
    setData({ x, w: null, truth: { family, comps }, label: `simulated, seed ${seed}${note}` });
    const fitFamily = $("fit-family");
    if (![...fitFamily.options].some((o) => o.value === family)) {
      const o = document.createElement("option"); // before /v1/families has answered
      o.value = o.textContent = family;
      fitFamily.append(o);
    }
    fitFamily.value = family;
    syncFamily();
  }

  // CSV as the API reads it: blank and '#' lines skipped, a first row with a non-number is a
  // header, a column named weight(s) holds weights. The page plots 1-D data only.
  function parseCsv(text) {
    const rows = text.replace(/^\ufeff/, "").split(/\r?\n/)
      .map((line, i) => ({ no: i + 1, cells: line.split(",").map((c) => c.trim()) }))
      .filter((r) => r.cells.some((c) => c !== "") && !r.cells[0].startsWith("#"));
    if (!rows.length) throw new Error("the CSV has no data rows");
    let weightCol = -1;
    if (rows[0].cells.some((c) => c === "" || !Number.isFinite(Number(c)))) {
      const names = rows.shift().cells.map((c) => c.toLowerCase());
      weightCol = names.findIndex((c) => c === "weight" || c === "weights");
      if (!rows.length) throw new Error("the CSV has a header but no data rows");
    }
    const width = rows[0].cells.length;
    if (width - (weightCol >= 0 ? 1 : 0) !== 1) {
      throw new Error(`the CSV has ${width} columns; this page fits one column (plus an optional `
        + "weight column). Fit d-dimensional data with the mixfit CLI or the API.");
    }
    const x = [];
    const w = weightCol >= 0 ? [] : null;
    for (const r of rows) {
      if (r.cells.length !== width) throw new Error(`CSV line ${r.no} has ${r.cells.length} values; expected ${width}`);
      r.cells.forEach((c, j) => {
        const v = Number(c);
        if (c === "" || !Number.isFinite(v)) throw new Error(`CSV line ${r.no}: '${c}' is not a number`);
        if (j === weightCol) w.push(v); else x.push(v);
      });
    }
    return { x, w };
  }

  function useCsv() {
    const { x, w } = parseCsv($("csv-text").value);
    setData({ x, w, truth: null, label: "from CSV" });
  }

  async function loadDataset() {
    const id = $("dataset-id").value.trim().toLowerCase();
    if (!/^[0-9a-f]{16,64}$/.test(id)) throw new Error("a dataset id is 16 to 64 hex digits");
    const doc = await api("GET", `/v1/datasets/${id}`);
    if (doc.d !== 1) throw new Error(`dataset ${id.slice(0, 12)}… has d = ${doc.d}; this page fits 1-D data`);
    const known = state.uploaded.get(id);
    if (known) {
      setData({ ...known, datasetId: id });
    } else {
      setData({
        x: null, w: null, truth: null, label: `dataset ${id.slice(0, 12)}… (values not in this browser)`,
        datasetId: id, summary: { n: doc.n, min: doc.summary.min[0], max: doc.summary.max[0] },
      });
    }
  }

  function setData({ x, w, truth, label, datasetId = null, summary = null }) {
    stopPlay();
    state.run += 1;
    state.x = x;
    state.w = w;
    state.truth = truth;
    state.label = label;
    state.datasetId = datasetId;
    state.summary = summary || (x && {
      n: x.length, min: minOf(x), max: maxOf(x),
    });
    state.fitId = null;
    state.result = null;
    state.modelId = null;
    state.scores = null;
    state.liveTrace = null;
    resetJobs();
    const s = state.summary;
    let text = `${label}: n = ${s.n}, min ${fmt(s.min)}, max ${fmt(s.max)}`;
    if (x) {
      const n = x.length;
      const mean = x.reduce((a, b) => a + b, 0) / n;
      const sd = Math.sqrt(x.reduce((a, b) => a + (b - mean) ** 2, 0) / Math.max(1, n - 1));
      text += `, mean ${fmt(mean)}, sd ${fmt(sd)}`;
    }
    if (w) text += ", weighted";
    if (datasetId) text += ` · dataset ${datasetId.slice(0, 12)}…`;
    const summaryEl = $("data-summary");
    summaryEl.textContent = text;
    summaryEl.dataset.n = String(s.n);
    $("fit-button").disabled = false;
    $("cancel-button").hidden = true;
    $("score-button").disabled = true;
    $("fit-status").dataset.status = "idle";
    $("status-text").textContent = "Data ready: fit when you are.";
    $("fit-id").textContent = "";
    $("progress").replaceChildren();
    $("score-section").hidden = true;
    syncFamily();
    renderAll();
  }

  // Whether the data lie in a family's support (a family whose support they leave is disabled).
  function fitsSupport(F) {
    const s = state.summary;
    if (!s) return true;
    const [lo, hi] = F.support;
    const inside = F.open ? s.min > lo && s.max < hi : s.min >= lo && s.max <= hi;
    return inside && (!F.discrete || (state.x || []).every((v) => v === Math.round(v)));
  }

  function recentDatasets() {
    try { return JSON.parse(localStorage.getItem(RECENT_KEY) || "[]"); } catch (e) { return []; }
  }
  function rememberDataset(id, n, label) {
    const list = [{ id, n, label }, ...recentDatasets().filter((d) => d.id !== id)].slice(0, 10);
    try { localStorage.setItem(RECENT_KEY, JSON.stringify(list)); } catch (e) { /* private mode */ }
    fillRecent();
  }
  function fillRecent() {
    $("dataset-recent").replaceChildren(...recentDatasets().map((d) => {
      const o = document.createElement("option");
      o.value = d.id;
      o.label = `n = ${d.n}, ${d.label}`;
      return o;
    }));
  }

