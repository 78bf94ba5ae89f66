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

