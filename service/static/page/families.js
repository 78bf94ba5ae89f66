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
      draw: (u, c) => { let v; do { const g = gammaVariate(u, c.a); v = g / (g + gammaVariate(u, c.b)); } while (!(v > 0 && v < 1)); return v; },
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
      draw: (u, c) => gammaVariate(u, c.shape) / c.rate,
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
      draw: (u, c) => c.mean + (c.scale * normal(u)) / Math.sqrt((2 * gammaVariate(u, c.df / 2)) / c.df),
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

