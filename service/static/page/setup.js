// mixfit's EM simulator page. Plain JavaScript that talks to the REST API on the same origin and
// draws its plots as hand-written SVG: no framework, no plotting library, no build step, nothing
// fetched from elsewhere (service/page.py explains why).
//
// The script is the files of service/static/page/ joined in the order service/page.py's SCRIPT
// lists them, one part of the page each: this one opens the closure they all share (its
// constants, `state` and every function), wiring.js starts the page and closes it. Served inline
// as one script element, so no file is loaded by itself.
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

