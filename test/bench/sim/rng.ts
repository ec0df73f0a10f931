/**
 * A small seeded PRNG (mulberry32) and the few distributions the fleet simulation needs.
 * Deterministic: the same seed gives the same stream on every platform.
 */
// Builtins bound once (global lookups are slow inside jest's vm context).
const { imul, floor, sqrt, log, cos, exp, pow, round, max, PI } = Math;

export class Rng {
  private s: number;

  constructor(seed: number) {
    this.s = seed >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    this.s = (this.s + 0x6d2b79f5) >>> 0;
    let t = this.s;
    t = imul(t ^ (t >>> 15), t | 1);
    t ^= t + imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Integer in [0, n). */
  int(n: number): number {
    return floor(this.next() * n);
  }

  normal(): number {
    // Box–Muller; 1 − u keeps the log finite
    const u = 1 - this.next();
    const v = this.next();
    return sqrt(-2 * log(u)) * cos(2 * PI * v);
  }

  poisson(lambda: number): number {
    if (lambda <= 0) return 0;
    if (lambda > 40) return max(0, round(lambda + sqrt(lambda) * this.normal()));
    const l = exp(-lambda);
    let k = 0;
    let p = this.next();
    while (p > l) {
      k++;
      p *= this.next();
    }
    return k;
  }

  /** Gamma(shape, 1), Marsaglia–Tsang (with the boost for shape < 1). */
  gamma(shape: number): number {
    if (shape < 1) return this.gamma(shape + 1) * pow(1 - this.next(), 1 / shape);
    const d = shape - 1 / 3;
    const c = 1 / sqrt(9 * d);
    for (;;) {
      let x: number;
      let v: number;
      do {
        x = this.normal();
        v = 1 + c * x;
      } while (v <= 0);
      v = v * v * v;
      const u = 1 - this.next();
      if (log(u) < 0.5 * x * x + d - d * v + d * log(v)) return d * v;
    }
  }

  /** Beta with the given mean and concentration κ = α + β. */
  betaMean(mean: number, kappa: number): number {
    const a = this.gamma(mean * kappa);
    const b = this.gamma((1 - mean) * kappa);
    return a / (a + b);
  }
}

/** Mixes integers into one 32-bit seed (splitmix-style finaliser). */
export function seedOf(...parts: number[]): number {
  let h = 0x9e3779b9;
  for (const p of parts) {
    h = imul(h ^ (p >>> 0), 0x85ebca6b) >>> 0;
    h = (h ^ (h >>> 13)) >>> 0;
    h = imul(h, 0xc2b2ae35) >>> 0;
    h = (h ^ (h >>> 16)) >>> 0;
  }
  return h;
}
