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

