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
  // Derived columns (a mean from shape parameters) have none and get no bar.
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

