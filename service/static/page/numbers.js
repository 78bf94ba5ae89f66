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
  function gammaVariate(u, shape) { // Marsaglia and Tsang (2000)
    if (shape < 1) return gammaVariate(u, shape + 1) * Math.pow(1 - u(), 1 / shape);
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

