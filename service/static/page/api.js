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

