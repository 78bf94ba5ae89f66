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

