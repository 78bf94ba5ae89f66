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
