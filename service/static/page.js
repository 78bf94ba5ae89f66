// mixfit's EM simulator page. Plain JavaScript that talks to the REST API on the same origin and
// draws its plots as hand-written SVG: no framework, no plotting library, no build step, nothing
// fetched from elsewhere (service/page.py explains why).
//
// Elements the browser test reads carry stable ids and data-* attributes: data-status on
// #fit-status, data-curve on the histogram's curves, data-start/data-best on the traces,
// data-criterion/data-k on the criteria points, data-param/data-value on estimate cells,
// data-status/data-job-id on #boot-job and #lrt-job, data-estimate/data-se/data-lower/data-upper
// on an estimate's interval bar (.ci), data-k/data-field on the LRT table and data-role on its
// histograms' observed-statistic markers.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const SVGNS = "http://www.w3.org/2000/svg";
  const COLORS = ["#e8590c", "#0c8599", "#7048e8", "#2f9e44", "#c2255c",
    "#1971c2", "#f08c00", "#5c940d", "#862e9c", "#495057"];
  const ACCENT = "#2563eb";
  const TERMINAL = new Set(["finished", "failed", "canceled"]);
  const RECENT_KEY = "mixfit.recentDatasets";
  const KEY_STORE = "mixfit.apiKey";

  const state = {
    x: null, // the 1-D values shown in the histogram; null when only a dataset id is known
    w: null, // their weights, or null
    truth: null, // {family, comps: [{pi, mu, sd, a, b}]} when simulated
    label: "",
    datasetId: null,
    summary: null, // {n, min, max}
    uploaded: new Map(), // dataset id -> {x, w, truth, label}: data sent from this page
    run: 0, // bumped by every fit and every new data: a superseded run's answers are dropped
    fitId: null,
    result: null,
    modelId: null,
    showK: null,
    iter: null,
    scores: null, // {points, result}
    jobs: { boot: null, lrt: null }, // the selected model's intervals and LRT: {id, modelId, k, doc}
    liveTrace: null, // {k, start, trace} while a fit runs
    playTimer: null,
  };

  // ---------------------------------------------------------------- numbers and formatting

  const isNum = (v) => typeof v === "number" && Number.isFinite(v);
  // Not Math.min(...xs): a spread of 10^5 values overflows the call stack.
  const minOf = (xs) => xs.reduce((a, b) => (b < a ? b : a), Infinity);
  const maxOf = (xs) => xs.reduce((a, b) => (b > a ? b : a), -Infinity);
  const fmt = (v, sig = 4) => {
    if (v === null || v === undefined) return "—";
    if (v !== 0 && (Math.abs(v) >= 1e6 || Math.abs(v) < 1e-3)) return v.toExponential(sig - 1);
    return String(Number(v.toPrecision(sig)));
  };
  const fix = (v, digits = 2) => (v === null || v === undefined ? "—" : v.toFixed(digits));
  // Tick steps are 1, 2 or 5 times a power of ten, so the step fixes the decimals needed.
  const tickFmt = (v, step) => {
    if (Math.abs(v) >= 1e9) return v.toExponential(3);
    return v.toFixed(Math.min(10, Math.max(0, -Math.floor(Math.log10(step) + 1e-9))));
  };

  function parseNumbers(text, what) {
    const parts = text.split(/[\s,;]+/).filter((s) => s !== "");
    const values = parts.map(Number);
    const bad = parts.find((s, i) => !Number.isFinite(values[i]));
    if (bad !== undefined) throw new Error(`${what}: '${bad}' is not a number`);
    return values;
  }

  function readNumber(id, what, { integer = false, min = -Infinity, max = Infinity } = {}) {
    const raw = $(id).value.trim();
    const v = Number(raw);
    if (raw === "" || !Number.isFinite(v) || (integer && !Number.isInteger(v)) || v < min || v > max) {
      const kind = integer ? "an integer" : "a number";
      const range = Number.isFinite(max) ? ` from ${min} to ${max}` : Number.isFinite(min) ? ` ≥ ${min}` : "";
      throw new Error(`${what} must be ${kind}${range} (got '${raw}')`);
    }
    return v;
  }

  // A seeded generator (mulberry32) so a simulation is reproducible from its seed.
  function mulberry32(seed) {
    let a = seed >>> 0;
    return () => {
      a = (a + 0x6d2b79f5) >>> 0;
      let t = a;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
  }
  const normal = (u) => Math.sqrt(-2 * Math.log(1 - u())) * Math.cos(2 * Math.PI * u());
  function gamma(u, shape) { // Marsaglia and Tsang (2000)
    if (shape < 1) return gamma(u, shape + 1) * Math.pow(1 - u(), 1 / shape);
    const d = shape - 1 / 3;
    const c = 1 / Math.sqrt(9 * d);
    for (;;) {
      let z;
      let v;
      do { z = normal(u); v = 1 + c * z; } while (v <= 0);
      v = v * v * v;
      const x = 1 - u();
      if (Math.log(x) < 0.5 * z * z + d - d * v + d * Math.log(v)) return d * v;
    }
  }

  const LANCZOS = [0.99999999999980993, 676.5203681218851, -1259.1392167224028,
    771.32342877765313, -176.61502916214059, 12.507343278686905, -0.13857109526572012,
    9.9843695780195716e-6, 1.5056327351493116e-7];
  function lgamma(z) {
    if (z < 0.5) return Math.log(Math.PI / Math.abs(Math.sin(Math.PI * z))) - lgamma(1 - z);
    z -= 1;
    let s = LANCZOS[0];
    for (let i = 1; i < 9; i++) s += LANCZOS[i] / (z + i);
    const t = z + 7.5;
    return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(s);
  }
  const LOG_SQRT_2PI = 0.5 * Math.log(2 * Math.PI);

  // The page's family table: one entry per family, everything the page knows about it.
  // unpack: the API's parameters -> one object per component (with its mean and sd, for the
  // grid and the ordering); pack: the inverse, for the truth; fromMoments: a component from the
  // simulation's (μ, σ) or an error; draw: one point; cols: the estimates table's [key, label];
  // start: the explicit start values' two rows; score: default score points in the support;
  // options: the family's own request options the page sends.
  const tLogNorm = (nu) => lgamma((nu + 1) / 2) - lgamma(nu / 2) - 0.5 * Math.log(nu * Math.PI);
  const FAMILY = {
    gaussian: {
      label: "normal",
      sim: [{ mu: 0, sd: 1, pi: 0.4 }, { mu: 4, sd: 1.5, pi: 0.6 }],
      support: [-Infinity, Infinity], options: ["covariance"], score: "0.1, 4, 12",
      unpack: (p) => p.means.map((m, j) => ({ mean: m, sd: p.sds.length === 1 ? p.sds[0] : p.sds[j] })),
      pack: (weights, cs) => ({ weights, means: cs.map((c) => c.mean), sds: cs.map((c) => c.sd) }),
      fromMoments: (mu, sd) => ({ mean: mu, sd }),
      logpdf: (c, x) => -0.5 * ((x - c.mean) / c.sd) ** 2 - Math.log(c.sd) - LOG_SQRT_2PI,
      draw: (u, c) => c.mean + c.sd * normal(u),
      cols: [["mean", "μ"], ["sd", "σ"]],
      start: { names: ["μ", "σ"], values: ["-1, 5", "1, 1"], json: (weights, a, b) => ({ weights, means: a, sds: b }) },
    },
    beta: {
      label: "beta (mean, sd)",
      sim: [{ mu: 0.25, sd: 0.08, pi: 0.4 }, { mu: 0.7, sd: 0.1, pi: 0.6 }],
      support: [0, 1], open: true, options: ["boundary"], score: "0.05, 0.5, 0.97", moments: true,
      unpack: (p) => p.alphas.map((a, j) => {
        const b = p.betas[j];
        return { a, b, mean: a / (a + b), sd: Math.sqrt((a * b) / ((a + b) ** 2 * (a + b + 1))), lb: lgamma(a) + lgamma(b) - lgamma(a + b) };
      }),
      pack: (weights, cs) => ({ weights, alphas: cs.map((c) => c.a), betas: cs.map((c) => c.b) }),
      fromMoments: (mu, sd) => {
        const v = sd * sd;
        if (!(mu > 0 && mu < 1) || v >= mu * (1 - mu)) throw new Error("a beta needs 0 < μ < 1 and σ² < μ(1 − μ)");
        const nu = (mu * (1 - mu)) / v - 1;
        return FAMILY.beta.unpack({ alphas: [mu * nu], betas: [(1 - mu) * nu] })[0];
      },
      logpdf: (c, x) => (x <= 0 || x >= 1 ? -Infinity : (c.a - 1) * Math.log(x) + (c.b - 1) * Math.log1p(-x) - c.lb),
      draw: (u, c) => { let v; do { const g = gamma(u, c.a); v = g / (g + gamma(u, c.b)); } while (!(v > 0 && v < 1)); return v; },
      cols: [["alpha", "α", "a"], ["beta", "β", "b"], ["mean", "mean"]],
      start: { names: ["α", "β"], values: ["2, 5", "5, 2"], json: (weights, a, b) => ({ weights, alphas: a, betas: b }) },
    },
    poisson: {
      label: "Poisson (mean)",
      sim: [{ mu: 2, sd: 1.4, pi: 0.4 }, { mu: 9, sd: 3, pi: 0.6 }],
      support: [0, Infinity], discrete: true, score: "0, 5, 30",
      unpack: (p) => p.lambdas.map((l) => ({ lambda: l, mean: l, sd: Math.sqrt(l) })),
      pack: (weights, cs) => ({ weights, lambdas: cs.map((c) => c.lambda) }),
      fromMoments: (mu) => {
        if (!(mu > 0 && mu <= 1e4)) throw new Error("a Poisson needs 0 < μ ≤ 10000 (σ is √μ)");
        return { lambda: mu, mean: mu, sd: Math.sqrt(mu) };
      },
      logpdf: (c, x) => (x < 0 || x !== Math.round(x) ? -Infinity : x * Math.log(c.lambda) - c.lambda - lgamma(x + 1)),
      draw: (u, c) => { let k = 0; let t = -Math.log(1 - u()); while (t < c.lambda) { k++; t -= Math.log(1 - u()); } return k; },
      cols: [["lambda", "λ"]],
      start: { names: ["λ", "–"], values: ["2, 9", ""], json: (weights, a) => ({ weights, lambdas: a }) },
    },
    gamma: {
      label: "gamma (mean, sd)",
      sim: [{ mu: 2, sd: 1.4, pi: 0.4 }, { mu: 9, sd: 1.6, pi: 0.6 }],
      support: [0, Infinity], open: true, score: "0.5, 5, 40",
      unpack: (p) => p.shapes.map((a, j) => ({ shape: a, rate: p.rates[j], mean: a / p.rates[j], sd: Math.sqrt(a) / p.rates[j] })),
      pack: (weights, cs) => ({ weights, shapes: cs.map((c) => c.shape), rates: cs.map((c) => c.rate) }),
      fromMoments: (mu, sd) => {
        if (!(mu > 0)) throw new Error("a gamma needs μ > 0");
        const a = (mu / sd) ** 2;
        return { shape: a, rate: mu / (sd * sd), mean: mu, sd };
      },
      logpdf: (c, x) => (x <= 0 ? -Infinity : (c.shape - 1) * Math.log(x) - c.rate * x + c.shape * Math.log(c.rate) - lgamma(c.shape)),
      draw: (u, c) => gamma(u, c.shape) / c.rate,
      cols: [["shape", "shape"], ["rate", "rate"], ["mean", "mean"]],
      start: { names: ["shape", "rate"], values: ["2, 20", "1, 2"], json: (weights, a, b) => ({ weights, shapes: a, rates: b }) },
    },
    lognormal: {
      label: "log-normal (mean, sd)",
      sim: [{ mu: 2, sd: 1, pi: 0.4 }, { mu: 9, sd: 2, pi: 0.6 }],
      support: [0, Infinity], open: true, score: "0.5, 5, 40",
      unpack: (p) => p.meanlogs.map((m, j) => {
        const s = p.sdlogs[j];
        const mean = Math.exp(m + 0.5 * s * s);
        return { meanlog: m, sdlog: s, mean, sd: mean * Math.sqrt(Math.expm1(s * s)) };
      }),
      pack: (weights, cs) => ({ weights, meanlogs: cs.map((c) => c.meanlog), sdlogs: cs.map((c) => c.sdlog) }),
      fromMoments: (mu, sd) => {
        if (!(mu > 0)) throw new Error("a log-normal needs μ > 0");
        const s2 = Math.log1p((sd * sd) / (mu * mu));
        return FAMILY.lognormal.unpack({ meanlogs: [Math.log(mu) - s2 / 2], sdlogs: [Math.sqrt(s2)] })[0];
      },
      logpdf: (c, x) => (x <= 0 ? -Infinity : -0.5 * ((Math.log(x) - c.meanlog) / c.sdlog) ** 2 - Math.log(c.sdlog) - LOG_SQRT_2PI - Math.log(x)),
      draw: (u, c) => Math.exp(c.meanlog + c.sdlog * normal(u)),
      cols: [["meanlog", "meanlog"], ["sdlog", "sdlog"]],
      start: { names: ["meanlog", "sdlog"], values: ["0.5, 2", "0.5, 0.3"], json: (weights, a, b) => ({ weights, meanlogs: a, sdlogs: b }) },
    },
    student_t: {
      label: "Student t (location, scale; 4 df)",
      sim: [{ mu: 0, sd: 1, pi: 0.4 }, { mu: 5, sd: 1, pi: 0.6 }],
      support: [-Infinity, Infinity], score: "0.1, 4, 30",
      unpack: (p) => p.means.map((m, j) => ({ mean: m, scale: p.scales[j], df: p.dfs[j], sd: p.scales[j] })),
      pack: (weights, cs) => ({ weights, means: cs.map((c) => c.mean), scales: cs.map((c) => c.scale), dfs: cs.map((c) => c.df) }),
      fromMoments: (mu, sd) => ({ mean: mu, scale: sd, df: 4, sd }), // σ is the scale; 4 df
      logpdf: (c, x) => tLogNorm(c.df) - Math.log(c.scale) - 0.5 * (c.df + 1) * Math.log1p(((x - c.mean) / c.scale) ** 2 / c.df),
      draw: (u, c) => c.mean + (c.scale * normal(u)) / Math.sqrt((2 * gamma(u, c.df / 2)) / c.df),
      cols: [["mean", "location"], ["scale", "scale"], ["df", "df"]],
      start: { names: ["location", "scale"], values: ["-1, 5", "1, 1"], json: (weights, a, b) => ({ weights, means: a, scales: b }) },
    },
  };
  const familyOf = (name) => FAMILY[name] || FAMILY.gaussian;

  // The components of a mixture, each with its weight w and logpdf: the same shape for the
  // truth, the fitted parameters and every iteration of the path.
  function components(family, params) {
    const F = familyOf(family);
    return F.unpack(params).map((c, j) => ({ ...c, w: params.weights[j], logpdf: (x) => F.logpdf(c, x) }));
  }

  function truthParams(truth) {
    return familyOf(truth.family).pack(truth.comps.map((c) => c.pi), truth.comps.map((c) => c.p));
  }

  // ---------------------------------------------------------------- messages and the API

  function showError(err) {
    const box = $("message");
    box.textContent = err.status ? `${err.status}: ${err.message}` : err.message;
    box.hidden = false;
  }
  function clearError() {
    $("message").hidden = true;
    $("message").textContent = "";
  }

  async function api(method, path, body) {
    const options = { method, headers: { Accept: "application/json" } };
    const key = $("api-key").value.trim();
    if (key) options.headers.Authorization = `Bearer ${key}`;
    if (body !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(path, options);
    } catch (e) {
      throw new Error(`the mixfit API did not answer (${e.message})`);
    }
    const text = await response.text();
    let doc = null;
    try { doc = text ? JSON.parse(text) : null; } catch (e) { doc = null; }
    if (!response.ok) {
      let message = doc && doc.message ? doc.message : `HTTP ${response.status}`;
      if (response.status === 401) message += " (enter an API key at the top right)";
      const err = new Error(message);
      err.status = response.status;
      throw err;
    }
    return doc;
  }

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

  // ---------------------------------------------------------------- fit settings

  function syncFamily() {
    const familySelect = $("fit-family");
    for (const option of familySelect.options) {
      const ok = fitsSupport(familyOf(option.value));
      option.disabled = !ok;
      option.title = ok ? "" : `${option.value} needs data inside its support`;
    }
    if (familySelect.selectedOptions[0] && familySelect.selectedOptions[0].disabled) familySelect.value = "gaussian";
    const family = familySelect.value;
    const F = familyOf(family);
    const options = F.options || [];
    $("variances-label").hidden = !options.includes("covariance");
    $("boundary-label").hidden = !options.includes("boundary");
    const init = $("fit-init");
    const moments = [...init.options].find((o) => o.value === "moments");
    moments.disabled = !F.moments;
    if (!F.moments && init.value === "moments") init.value = "auto";
    const explicit = init.value === "explicit";
    $("explicit").hidden = !explicit;
    for (const id of ["fit-kmin", "fit-kmax", "fit-starts"]) $(id).disabled = explicit;
    const names = F.start.names;
    if ($("init-a-name").textContent !== names[0]) {
      $("init-a-name").textContent = names[0];
      $("init-b-name").textContent = names[1];
      $("init-a").value = F.start.values[0];
      $("init-b").value = F.start.values[1];
    }
    defaultScorePoints(family);
  }

  // Score points inside each family's support (a beta model refuses 4 and 12 with a 422). The box
  // follows the family while it holds a default (data-default names it); typing in it ends that.
  function defaultScorePoints(family) {
    const box = $("score-input");
    const typed = !("default" in box.dataset) && box.value.trim() !== "";
    if (typed || !(family in FAMILY) || box.dataset.default === family) return;
    box.value = FAMILY[family].score;
    box.dataset.default = family;
  }

  function fitRequest() {
    const family = $("fit-family").value;
    const req = {
      dataset_id: state.datasetId,
      family,
      keep_path: true,
      max_iter: readNumber("fit-maxiter", "max iterations", { integer: true, min: 1, max: 10000 }),
      tol: readNumber("fit-tol", "tol", { min: 0 }),
      tol_type: $("fit-toltype").value,
      criterion: $("fit-criterion").value,
    };
    if ($("fit-seed").value.trim() !== "") req.seed = readNumber("fit-seed", "seed", { integer: true, min: 0 });
    const own = familyOf(family).options || [];
    if (own.includes("boundary")) req.boundary = $("fit-boundary").value;
    if (own.includes("covariance")) req.covariance = $("fit-covariance").value;
    const init = $("fit-init").value;
    if (init === "explicit") {
      const weights = parseNumbers($("init-weights").value, "start weights");
      const a = parseNumbers($("init-a").value, `start ${$("init-a-name").textContent}`);
      const b = familyOf(family).start.names[1] === "–" ? null
        : parseNumbers($("init-b").value, `start ${$("init-b-name").textContent}`);
      req.init = familyOf(family).start.json(weights, a, b);
    } else {
      req.init = init;
      const kmin = readNumber("fit-kmin", "K from", { integer: true, min: 1, max: 20 });
      const kmax = readNumber("fit-kmax", "K to", { integer: true, min: 1, max: 20 });
      req.k = { min: kmin, max: kmax };
      req.n_starts = readNumber("fit-starts", "starts", { integer: true, min: 1, max: 200 });
    }
    return req;
  }

  // A fit is a run: a newer run (another fit, new data) supersedes it, and from then on its answers
  // are dropped, so a late one never overwrites newer results. A superseded fit is left to end on
  // the server rather than canceled: a DELETE racing its end would be a 409.
  async function startFit({ opening = false } = {}) {
    clearError();
    stopPlay();
    const req = fitRequest();
    const run = ++state.run;
    const current = () => state.run === run;
    // A fit the user asked for holds the button until it ends (Cancel stops it); the opening fit
    // leaves it free, so a click on Fit supersedes it.
    $("fit-button").disabled = !opening;
    $("fit-status").dataset.status = "submitting";
    $("status-text").textContent = opening ? "fitting the default simulation…" : "submitting…";
    try {
      if (!state.datasetId) {
        const data = { x: state.x, w: state.w, truth: state.truth, label: state.label };
        const doc = await api("POST", "/v1/datasets", { data: data.x, weights: data.w });
        state.uploaded.set(doc.id, data);
        rememberDataset(doc.id, doc.n, data.label);
        if (!current()) return;
        state.datasetId = doc.id;
        req.dataset_id = doc.id;
      }
      const doc = await api("POST", "/v1/fits", req);
      if (!current()) return;
      state.fitId = doc.id;
      state.result = null;
      state.modelId = null;
      state.scores = null;
      resetJobs();
      state.showK = null;
      state.iter = null;
      state.liveTrace = null;
      $("show-k").replaceChildren();
      $("show-k").disabled = true;
      $("score-button").disabled = true;
      $("score-section").hidden = true;
      $("progress").replaceChildren();
      renderAll();
      $("cancel-button").hidden = false;
      renderStatus(doc);
      await poll(doc.id, current);
    } catch (err) {
      if (!current()) return; // the run that failed is no longer shown
      if ($("fit-status").dataset.status === "submitting") {
        $("fit-status").dataset.status = "idle";
        $("status-text").textContent = "not fitted: see the message above";
      }
      throw err;
    } finally {
      if (current()) {
        $("fit-button").disabled = false;
        $("cancel-button").hidden = true;
      }
    }
  }

  async function poll(fitId, current) {
    let failures = 0;
    while (current()) {
      let doc;
      try {
        doc = await api("GET", `/v1/fits/${fitId}?wait=1`);
        failures = 0;
      } catch (err) {
        if (err.status || ++failures > 5) throw err;
        await new Promise((resolve) => setTimeout(resolve, 1000));
        continue;
      }
      if (!current()) return;
      renderStatus(doc);
      if (TERMINAL.has(doc.status)) return;
    }
  }

  // Like the EM simulator it reproduces, the page opens on the default simulation fitted through
  // the API with the default settings, exactly as the Fit button would fit it.
  async function openingFit() {
    simulate();
    await startFit({ opening: true });
  }

  async function cancelFit() {
    if (!state.fitId) return;
    const doc = await api("DELETE", `/v1/fits/${state.fitId}`);
    renderStatus(doc);
  }

  // ---------------------------------------------------------------- status and progress

  function renderStatus(doc) {
    const status = $("fit-status");
    status.dataset.status = doc.status;
    status.dataset.fitId = doc.id;
    $("fit-id").textContent = `fit ${doc.id}`;
    const text = $("status-text");
    if (doc.status === "queued") {
      text.textContent = `queued${doc.queue_position !== null ? ` (position ${doc.queue_position})` : ""}`;
    } else if (doc.status === "started") {
      renderProgress(doc.progress);
    } else if (doc.status === "finished") {
      const r = doc.result;
      const seconds = (Date.parse(doc.ended_at) - Date.parse(doc.started_at)) / 1000;
      text.textContent = `finished${Number.isFinite(seconds) ? ` in ${fmt(seconds, 2)} s` : ""}: `
        + `K = ${r.k_selected} selected by ${r.criterion.toUpperCase()}`;
      status.dataset.modelId = doc.model_id;
      renderProgressDone(r);
      state.result = r;
      if (state.modelId !== doc.model_id) resetJobs();
      state.modelId = doc.model_id;
      syncIntervalMethods(r.family);
      state.liveTrace = null;
      state.showK = r.k_selected;
      state.iter = null;
      defaultScorePoints(r.family);
      fillShowK();
      $("score-button").disabled = false;
      renderAll();
    } else if (doc.status === "failed") {
      text.textContent = `failed: ${doc.error ? doc.error.message : "no reason recorded"}`;
      if (doc.error) showError(new Error(`${doc.error.type}: ${doc.error.message}`));
    } else if (doc.status === "canceled") {
      text.textContent = "canceled";
    }
  }

  function progressRow(k, done, total, text) {
    const label = document.createElement("span");
    label.textContent = `k = ${k}`;
    const bar = document.createElement("div");
    bar.className = "bar";
    const fill = document.createElement("div");
    fill.style.width = `${total ? (100 * done) / total : 0}%`;
    bar.appendChild(fill);
    bar.dataset.k = String(k);
    const info = document.createElement("span");
    info.className = "mono";
    info.textContent = text;
    return [label, bar, info];
  }

  function renderProgress(progress) {
    const text = $("status-text");
    if (!progress) {
      text.textContent = "started";
      return;
    }
    const cells = [];
    let running = null;
    let starts = 0;
    const perK = progress.per_k.length ? progress.per_k[0].n_starts : 0;
    const total = perK * progress.k_values.length;
    for (const k of progress.k_values) {
      const p = progress.per_k.find((e) => e.k === k);
      if (!p) {
        cells.push(...progressRow(k, 0, 1, "waiting"));
        continue;
      }
      starts += p.starts_done;
      if (p.state === "running") running = p;
      cells.push(...progressRow(k, p.starts_done, p.n_starts,
        `${p.starts_done}/${p.n_starts} starts · it ${p.iteration} · LL ${fix(p.best_loglik)}`));
    }
    $("progress").replaceChildren(...cells);
    text.textContent = running
      ? `running: k = ${running.k}, iteration ${running.iteration} (${starts}/${total} starts done)`
      : `running (${starts}/${total} starts done)`;
    if (running && running.trace.length) {
      state.liveTrace = { k: running.k, start: running.trace_start, trace: running.trace };
      renderTrace();
    }
  }

  function renderProgressDone(result) {
    $("progress").replaceChildren(...result.results.flatMap((r) => progressRow(r.k, 1, 1,
      r.status === "ok" ? `${r.starts.length} starts · ${r.n_iter} it · LL ${fix(r.loglik)}` : "failed")));
  }

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

  // ---------------------------------------------------------------- K shown and the slider

  function fillShowK() {
    const select = $("show-k");
    select.replaceChildren(...state.result.results.map((k) => {
      const o = document.createElement("option");
      o.value = String(k.k);
      o.textContent = `${k.k}${k.k === state.result.k_selected ? " (selected)" : ""}${k.status !== "ok" ? " (failed)" : ""}`;
      return o;
    }));
    select.value = String(state.showK);
    select.disabled = false;
  }

  function setShowK(k) {
    stopPlay();
    state.showK = k;
    state.iter = null;
    $("show-k").value = String(k);
    renderAll();
  }

  function setupSlider() {
    const slider = $("iter-slider");
    const kres = shownResult();
    const path = kres && kres.status === "ok" ? kres.path : null;
    if (!path || !path.length) {
      slider.disabled = true;
      $("play").disabled = true;
      slider.max = "0";
      slider.value = "0";
      $("iter-label").textContent = kres && !path ? "EM iteration — (no path kept)" : "EM iteration —";
      return;
    }
    slider.max = String(path.length - 1);
    if (state.iter === null) state.iter = path.length - 1;
    slider.value = String(state.iter);
    slider.disabled = false;
    $("play").disabled = false;
    updateIterLabel();
  }

  function updateIterLabel() {
    const kres = shownResult();
    const best = kres.starts.find((s) => s.start === kres.best_start);
    const ll = best && state.iter < best.trace.length ? best.trace[state.iter] : null;
    const label = $("iter-label");
    label.textContent = `EM iteration ${state.iter} / ${kres.path.length - 1} · LL ${fix(ll)}`;
    label.dataset.iteration = String(state.iter);
  }

  function onSlider() {
    state.iter = Number($("iter-slider").value);
    updateIterLabel();
    renderHist();
    renderTrace();
  }

  function stopPlay() {
    if (state.playTimer !== null) clearInterval(state.playTimer);
    state.playTimer = null;
    $("play").textContent = "▶";
  }

  function togglePlay() {
    if (state.playTimer !== null) {
      stopPlay();
      return;
    }
    const slider = $("iter-slider");
    const last = Number(slider.max);
    const step = Math.max(1, Math.ceil(last / 120));
    if (Number(slider.value) >= last) slider.value = "0";
    $("play").textContent = "❚❚";
    state.playTimer = setInterval(() => {
      const next = Math.min(last, Number(slider.value) + step);
      slider.value = String(next);
      onSlider();
      if (next >= last) stopPlay();
    }, 50);
  }

  // ---------------------------------------------------------------- scoring

  async function score() {
    clearError();
    if (!state.modelId) throw new Error("fit first: scoring uses the fitted model");
    const points = parseNumbers($("score-input").value, "points");
    if (!points.length) throw new Error("give at least one point to score");
    const alpha = readNumber("score-alpha", "α", {});
    const modelId = state.modelId;
    const result = await api("POST", `/v1/models/${modelId}/score`, { points, alpha });
    if (state.modelId !== modelId) return;
    state.scores = { points, result };
    $("score-model").textContent = `against the selected model (k = ${state.result.k_selected}), α = ${result.alpha}`;
    $("score-table").tBodies[0].replaceChildren(...points.map((p, i) => {
      const tr = document.createElement("tr");
      tr.dataset.index = String(i);
      cell(tr, String(p), { "data-field": "point" });
      cell(tr, fmt(result.log_density[i]), { "data-field": "log_density", "data-value": result.log_density[i] });
      cell(tr, String(result.component[i] + 1), { "data-field": "component" });
      cell(tr, fmt(result.p_value[i]), { "data-field": "p_value", "data-value": result.p_value[i] });
      cell(tr, result.is_anomaly[i] ? "anomaly" : "no", { "data-field": "is_anomaly", "data-value": String(result.is_anomaly[i]) }, result.is_anomaly[i] ? "anomaly" : "");
      return tr;
    }));
    $("score-section").hidden = false;
    renderHist();
  }

  // ---------------------------------------------------------------- intervals and the LRT

  // Two jobs about the selected model, each a REST resource polled like a fit: its parameters'
  // intervals (POST /v1/models/{id}/bootstrap, then /v1/bootstraps/{job}) and the bootstrap LRT
  // of K against K + 1 (POST /v1/models/{id}/lrt, then /v1/lrts/{job}); DELETE cancels either.
  // A new fit or new data drop both jobs, and with them their late answers.
  const JOBS = {
    boot: { post: (model) => `/v1/models/${model}/bootstrap`, path: (id) => `/v1/bootstraps/${id}`, what: "intervals" },
    lrt: { post: (model) => `/v1/models/${model}/lrt`, path: (id) => `/v1/lrts/${id}`, what: "LRT" },
  };
  const METHOD_LABEL = {
    observed_information: "observed information (Wald)",
    nonparametric: "nonparametric bootstrap",
    weighted: "weighted bootstrap",
  };
  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

  function resetJobs() {
    state.jobs = { boot: null, lrt: null };
    renderJob("boot");
    renderJob("lrt");
    renderLrt();
  }

  // Observed information is the 1-D Gaussian's fast default; the other families bootstrap.
  function syncIntervalMethods(family) {
    const select = $("boot-method");
    const observed = [...select.options].find((o) => o.value === "observed_information");
    observed.disabled = family !== "gaussian";
    observed.title = observed.disabled ? "the 1-D Gaussian family only" : "";
    if (observed.disabled && select.value === "observed_information") select.value = "nonparametric";
    $("boot-nboot").disabled = select.value === "observed_information";
  }

  function bootRequest() {
    const method = $("boot-method").value;
    if (method === "observed_information") return { method, seed: 0 };
    const nboot = readNumber("boot-nboot", "replicates", { integer: true, min: 2, max: 9999 });
    return { method, nboot, seed: 0 };
  }

  // mclust's mclustBootstrapLRT(maxG = K): every K from 1 up to the model's against K + 1.
  function lrtRequest() {
    if (!state.result) throw new Error("fit first: the LRT tests the fitted model's K");
    const nboot = readNumber("lrt-nboot", "replicates per test", { integer: true, min: 2, max: 9999 });
    return { k_min: 1, max_k: state.result.k_selected, nboot, seed: 0 };
  }

  async function startJob(kind, body) {
    clearError();
    if (!state.modelId) throw new Error("fit first: intervals and the LRT are about the fitted model");
    const J = JOBS[kind];
    const job = { id: null, modelId: state.modelId, k: state.result.k_selected, doc: { status: "submitting" } };
    // The last result stays shown until this job's replaces it.
    const previous = finishedJob(kind);
    job.previous = previous ? { ...previous, previous: null } : null;
    state.jobs[kind] = job;
    const current = () => state.jobs[kind] === job;
    const show = () => {
      renderJob(kind);
      if (kind === "boot") renderEstimates(); else renderLrt();
    };
    show();
    try {
      const doc = await api("POST", J.post(job.modelId), body);
      if (!current()) return;
      job.id = doc.id;
      job.doc = doc;
      show();
      let failures = 0;
      while (current() && !TERMINAL.has(job.doc.status)) {
        const asked = Date.now();
        let next;
        try {
          next = await api("GET", `${J.path(job.id)}?wait=1`);
          failures = 0;
        } catch (err) {
          if (err.status || ++failures > 5) throw err;
          await sleep(1000);
          continue;
        }
        if (!current()) return;
        job.doc = next;
        show();
        // Should an answer come at once (no long poll), ask at most about three times a second.
        if (!TERMINAL.has(next.status) && Date.now() - asked < 300) await sleep(300);
      }
      if (current() && job.doc.status === "failed") {
        const e = job.doc.error;
        throw new Error(`${J.what} failed: ${e ? e.message : "no reason recorded"}`);
      }
    } catch (err) {
      if (!current()) return;
      if (!TERMINAL.has(job.doc.status)) {
        job.doc = { ...job.doc, status: "failed", error: { message: err.message } };
        show();
      }
      throw err;
    }
  }

  async function cancelJob(kind) {
    const job = state.jobs[kind];
    if (!job || !job.id) return;
    let doc;
    try {
      doc = await api("DELETE", JOBS[kind].path(job.id));
    } catch (err) {
      if (err.status === 409) return; // it ended meanwhile: the poll shows how
      throw err;
    }
    if (state.jobs[kind] !== job || !doc || !doc.status) return; // the poll hears the rest
    job.doc = doc;
    renderJob(kind);
  }

  // The job's line under its button: status, progress (a bar and done/total), what came out.
  function renderJob(kind) {
    const job = state.jobs[kind];
    const box = $(`${kind}-job`);
    const status = job ? job.doc.status : "idle";
    const running = status !== "idle" && !TERMINAL.has(status);
    box.dataset.status = status;
    if (job && job.id) box.dataset.jobId = job.id; else delete box.dataset.jobId;
    $(`${kind}-button`).disabled = !state.modelId || running;
    $(`${kind}-cancel`).hidden = !(running && job.id);
    const progress = job && job.doc.progress;
    const bar = box.querySelector(".bar");
    bar.hidden = !running;
    const done = progress ? progress.done : 0;
    const total = progress ? progress.total : 0;
    bar.firstElementChild.style.width = `${total ? (100 * done) / total : 0}%`;
    box.dataset.done = String(done);
    box.dataset.total = String(total);
    let line = "";
    if (status === "submitting") line = "submitting…";
    else if (status === "queued") line = "queued";
    else if (status === "started") line = total ? `running: ${done}/${total} replicates` : "running";
    else if (status === "failed") line = `failed: ${job.doc.error ? job.doc.error.message : "no reason recorded"}`;
    else if (status === "canceled") line = "canceled";
    if ((status === "failed" || status === "canceled") && job.previous) line += " · the earlier result stays shown";
    else if (status === "finished" && kind === "boot") {
      const r = job.doc.result;
      line = `${Math.round(100 * r.conf_level)} % intervals of k = ${job.k} by ${methodText(r)}`;
      if (job.modelId === state.modelId && state.showK !== job.k) line += ` · show k = ${job.k} to see them`;
    } else if (status === "finished") {
      const r = job.doc.result;
      line = `${r.steps.length} test${r.steps.length === 1 ? "" : "s"}, ${r.nboot} replicates each, seed ${r.seed}`;
    }
    box.querySelector(".job-text").textContent = line;
  }

  function methodText(r) {
    if (r.method === "observed_information") return METHOD_LABEL[r.method];
    return `${METHOD_LABEL[r.method] || r.method}, B = ${r.nboot}${r.failed ? ` (${r.failed} failed to refit)` : ""}, seed ${r.seed}`;
  }

  // The job whose result is shown: this one once finished, until then the one before it.
  function finishedJob(kind) {
    const job = state.jobs[kind];
    if (!job) return null;
    return job.doc.status === "finished" && job.doc.result ? job : job.previous;
  }

  // The interval result for the table as shown: only at the K of the model it is about.
  function shownIntervals(kres) {
    const job = finishedJob("boot");
    return job && job.modelId === state.modelId && kres.k === job.k ? job.doc.result : null;
  }

  // An estimates column's parameter array: the API's plural (weight -> weights, mean -> means).
  // Derived columns (a beta's or a gamma's mean) have none and get no bar.
  const paramKey = (name) => (name === "weight" ? "weights" : `${name}s`);
  // Equal variances keep one sd for every component.
  const pick = (arr, j) => (arr.length === 1 ? arr[0] : arr[j]);

  function spreadOf(boot, name, j) {
    const p = boot.parameters[paramKey(name)];
    if (!p) return null;
    const v = { estimate: pick(p.estimate, j), se: pick(p.se, j), lower: pick(p.lower, j), upper: pick(p.upper, j) };
    return Object.values(v).every(isNum) ? v : null;
  }

  // A bar is centred on its estimate; the bars of a column share one scale, so their widths
  // compare (components' means lie too far apart for one axis to show their intervals). The
  // scale is the column's longest reach from an estimate to its interval's ends or its truth.
  function intervalScales(boot, cols, fitted, truth) {
    const scales = {};
    for (const [name, , get] of cols) {
      const spreads = fitted.map((c) => spreadOf(boot, name, c.j));
      if (spreads.some((v) => v === null)) continue;
      const reach = spreads.flatMap((v, row) => [v.lower, v.upper, truth ? get(truth[row]) : v.estimate]
        .filter(isNum).map((x) => Math.abs(x - v.estimate)));
      scales[name] = 1.08 * maxOf(reach) || Math.abs(spreads[0].estimate) || 1;
    }
    return scales;
  }

  function intervalBar(boot, name, j, reach, truthValue) {
    const v = spreadOf(boot, name, j);
    const box = document.createElement("div");
    box.className = "ci";
    for (const [key, value] of Object.entries(v)) box.dataset[key] = String(value);
    const W = 100;
    const H = 12;
    const sx = (x) => W / 2 + ((x - v.estimate) / reach) * (W / 2 - 2);
    const svg = el("svg", { width: W, height: H, viewBox: `0 0 ${W} ${H}`, "aria-hidden": "true" }, box);
    el("line", { x1: 2, x2: W - 2, y1: H / 2, y2: H / 2, class: "ci-track" }, svg);
    el("rect", { x: sx(v.lower), width: Math.max(1.5, sx(v.upper) - sx(v.lower)), y: 3, height: H - 6, rx: 2, class: "ci-interval", "data-role": "interval" }, svg);
    if (isNum(truthValue)) el("line", { x1: sx(truthValue), x2: sx(truthValue), y1: 1, y2: H - 1, class: "ci-truth" }, svg);
    el("line", { x1: sx(v.estimate), x2: sx(v.estimate), y1: 0, y2: H, class: "ci-estimate", "data-role": "estimate" }, svg);
    const small = document.createElement("div");
    small.className = "ci-text";
    small.textContent = `${fmt(v.lower, 3)} – ${fmt(v.upper, 3)}`;
    box.append(small);
    const pct = Math.round(100 * boot.conf_level);
    box.title = `estimate ${fmt(v.estimate)}, SE ${fmt(v.se)}, ${pct} % interval ${fmt(v.lower)} to ${fmt(v.upper)}`
      + `${isNum(truthValue) ? `, true ${fmt(truthValue)} (grey tick)` : ""} · ${methodText(boot)}`;
    return box;
  }

  // The LRT table: one row per test of K against K + 1 with its bootstrap histogram.
  function renderLrt() {
    const job = finishedJob("lrt");
    const r = job && job.modelId === state.modelId ? job.doc.result : null;
    const table = $("lrt-table");
    const selected = $("lrt-selected");
    table.hidden = !r;
    selected.hidden = !r;
    $("lrt-model").textContent = r ? `K = 1 … ${job.k} each against K + 1, level ${r.level}` : "";
    if (!r) {
      table.tBodies[0].replaceChildren();
      return;
    }
    table.tBodies[0].replaceChildren(...r.steps.map((step) => {
      const tr = document.createElement("tr");
      tr.dataset.k = String(step.k);
      const significant = step.p_value < r.level;
      if (significant) tr.className = "significant";
      cell(tr, `${step.k} vs ${step.k + 1}`, { "data-field": "k", "data-value": step.k });
      cell(tr, fmt(step.statistic), { "data-field": "statistic", "data-value": step.statistic });
      cell(tr, fmt(step.p_value), { "data-field": "p_value", "data-value": step.p_value }).title =
        significant ? `below ${r.level}: ${step.k + 1} components fit better than ${step.k}` : `not below ${r.level}`;
      const td = cell(tr, "", { "data-field": "bootstrap" }, "lrt-hist");
      td.append(lrtHistogram(step));
      return tr;
    }));
    selected.dataset.k = String(r.k_selected);
    selected.textContent = `selected: K = ${r.k_selected}, the first K whose test against K + 1 is not `
      + `significant at level ${r.level} (${r.nboot} replicates per test, seed ${r.seed}).`;
  }

  // A step's bootstrap LRTS as a histogram, replicates at or above the observed statistic
  // shaded, and the observed statistic as a line; one far beyond every replicate (a K that
  // plainly needs K + 1 components) would squash the histogram to a bar, so the axis stops
  // after the replicates and an arrow at its end says where the observed statistic is.
  function lrtHistogram(step) {
    const W = 240;
    const H = 54;
    const m = { left: 4, right: 6, top: 4, bottom: 14 };
    const boot = step.bootstrap.filter(isNum);
    const obs = step.statistic;
    const bmax = boot.length ? maxOf(boot) : 0;
    const lo = Math.min(0, boot.length ? minOf(boot) : 0, obs);
    const far = bmax > lo && obs > lo + 1.5 * (bmax - lo);
    let hi = far ? bmax + 0.08 * (bmax - lo) : Math.max(bmax, obs) + 0.06 * (Math.max(bmax, obs) - lo);
    if (!(hi > lo)) hi = lo + 1;
    const pw = W - m.left - m.right;
    const ph = H - m.top - m.bottom;
    const sx = (x) => m.left + ((x - lo) / (hi - lo)) * pw;
    const nb = Math.min(30, Math.max(6, Math.round(2 * Math.sqrt(boot.length))));
    const width = (hi - lo) / nb;
    const counts = new Array(nb).fill(0);
    for (const b of boot) counts[Math.min(nb - 1, Math.max(0, Math.floor((b - lo) / width)))] += 1;
    const top = Math.max(1, ...counts);
    const svg = el("svg", {
      width: W, height: H, viewBox: `0 0 ${W} ${H}`, role: "img", class: "lrt-svg",
      "data-role": "lrt-histogram", "data-k": step.k, "data-nboot": boot.length,
      "data-xmin": lo, "data-xmax": hi, "data-far": String(far),
    });
    el("title", {}, svg).textContent = `k = ${step.k} vs ${step.k + 1}: ${boot.length} bootstrap LRTS`
      + ` from ${fmt(lo)} to ${fmt(bmax)}; observed ${fmt(obs)}, p = ${fmt(step.p_value)}`;
    const g = el("g", { class: "hist" }, svg);
    counts.forEach((c, i) => {
      if (!c) return;
      const h = (c / top) * ph;
      el("rect", {
        x: sx(lo + i * width), width: Math.max(0.5, sx(lo + (i + 1) * width) - sx(lo + i * width)),
        y: m.top + ph - h, height: h, "data-count": c, class: lo + i * width >= obs ? "tail" : "",
      }, g);
    });
    el("line", { x1: m.left, x2: m.left + pw, y1: m.top + ph, y2: m.top + ph, class: "baseline" }, svg);
    text(svg, m.left, H - 2, fmt(lo, 3));
    if (far) {
      text(svg, m.left + pw, H - 2, fmt(hi, 3), { "text-anchor": "end" });
      const x = m.left + pw;
      const y = m.top + 8;
      const marker = el("g", { "data-role": "observed", "data-value": obs, "data-far": "true", class: "observed" }, svg);
      el("path", { d: `M${x - 16},${y}L${x - 1},${y}M${x - 6},${y - 4}L${x - 1},${y}L${x - 6},${y + 4}` }, marker);
      text(marker, x - 19, y + 4, `observed ${fmt(obs)} far right`, { "text-anchor": "end", class: "halo" });
    } else {
      const x = sx(obs);
      text(svg, m.left + pw, H - 2, fmt(hi, 3), { "text-anchor": "end" });
      el("line", { x1: x, x2: x, y1: m.top - 2, y2: m.top + ph + 2, class: "observed", "data-role": "observed", "data-value": obs, "data-far": "false" }, svg);
    }
    return svg;
  }

  // ---------------------------------------------------------------- wiring

  function renderAll() {
    setupSlider();
    renderHist();
    renderTrace();
    renderCriteria();
    renderEstimates();
    renderKTable();
    renderJob("boot");
    renderJob("lrt");
    renderLrt();
  }

  // Every handler reports its error in the message box instead of failing silently.
  const guarded = (fn) => async (...args) => {
    try {
      await fn(...args);
    } catch (err) {
      showError(err);
    }
  };

  function switchSource() {
    const source = document.querySelector("input[name=source]:checked").value;
    for (const name of ["simulate", "csv", "dataset"]) $(`pane-${name}`).hidden = name !== source;
  }

  async function loadFamilies() {
    try {
      const doc = await api("GET", "/v1/families");
      const select = $("fit-family");
      const current = select.value;
      select.replaceChildren(...doc.families.map((f) => {
        const o = document.createElement("option");
        o.value = f.name;
        o.textContent = f.name;
        o.title = f.description;
        return o;
      }));
      if ([...select.options].some((o) => o.value === current)) select.value = current;
      syncFamily();
    } catch (err) {
      // The static list stands in; a dead API shows up when the user fits.
    }
  }

  function init() {
    // The key stays in this tab (sessionStorage), never in a URL or in localStorage.
    try { $("api-key").value = sessionStorage.getItem(KEY_STORE) || ""; } catch (e) { /* no storage */ }
    $("api-key").addEventListener("change", () => {
      try { sessionStorage.setItem(KEY_STORE, $("api-key").value.trim()); } catch (e) { /* no storage */ }
      loadFamilies();
    });
    $("sim-family").replaceChildren(...Object.entries(FAMILY).map(([name, F]) => {
      const o = document.createElement("option");
      o.value = name;
      o.textContent = F.label;
      return o;
    }));
    setSimRows(FAMILY.gaussian.sim);
    fillRecent();
    document.querySelectorAll("input[name=source]").forEach((r) => r.addEventListener("change", switchSource));
    $("sim-family").addEventListener("change", () => setSimRows(familyOf($("sim-family").value).sim));
    $("sim-add").addEventListener("click", () => {
      const body = $("sim-components").tBodies[0];
      if (body.rows.length < 10) body.appendChild(simRow(body.rows.length, { mu: 0, sd: 1, pi: 0.1 }));
    });
    $("sim-remove").addEventListener("click", () => {
      const body = $("sim-components").tBodies[0];
      if (body.rows.length > 1) body.deleteRow(body.rows.length - 1);
    });
    $("simulate").addEventListener("click", guarded(async () => { clearError(); simulate(); }));
    $("csv-use").addEventListener("click", guarded(async () => { clearError(); useCsv(); }));
    $("csv-file").addEventListener("change", guarded(async (ev) => {
      const file = ev.target.files[0];
      if (!file) return;
      $("csv-text").value = await file.text();
      clearError();
      useCsv();
    }));
    $("dataset-load").addEventListener("click", guarded(async () => { clearError(); await loadDataset(); }));
    $("fit-family").addEventListener("change", syncFamily);
    $("fit-init").addEventListener("change", syncFamily);
    $("fit-button").addEventListener("click", guarded(() => startFit()));
    $("cancel-button").addEventListener("click", guarded(cancelFit));
    $("score-button").addEventListener("click", guarded(score));
    $("score-input").addEventListener("input", () => { delete $("score-input").dataset.default; });
    $("boot-method").addEventListener("change", () => syncIntervalMethods(state.result ? state.result.family : "gaussian"));
    $("boot-button").addEventListener("click", guarded(() => startJob("boot", bootRequest())));
    $("lrt-button").addEventListener("click", guarded(() => startJob("lrt", lrtRequest())));
    $("boot-cancel").addEventListener("click", guarded(() => cancelJob("boot")));
    $("lrt-cancel").addEventListener("click", guarded(() => cancelJob("lrt")));
    $("show-k").addEventListener("change", () => setShowK(Number($("show-k").value)));
    $("iter-slider").addEventListener("input", onSlider);
    $("play").addEventListener("click", togglePlay);
    let resizeTimer = null;
    window.addEventListener("resize", () => {
      clearTimeout(resizeTimer);
      resizeTimer = setTimeout(() => { renderHist(); renderTrace(); renderCriteria(); }, 100);
    });
    syncFamily();
    renderAll();
    loadFamilies();
    guarded(openingFit)();
  }

  init();
})();
