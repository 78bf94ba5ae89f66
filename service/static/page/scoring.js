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

