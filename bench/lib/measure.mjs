/**
 * Timing helpers shared by the benchmarks in bench/.
 *
 * The machine these run on is shared and noisy, so nothing here trusts one absolute
 * number. Variants that are compared with each other are measured as a *group*: each
 * variant is warmed up and calibrated, then the group runs several rounds, and in every
 * round each variant runs one batch (the order rotates from round to round). A variant's
 * rate is the median over its batches, and the ratio of two variants is the median of
 * their per-round ratios, so a noise burst hits both sides of a comparison alike.
 *
 * A variant is `{ name, setup?(n) => state, run(state, n) }`: `setup` prepares what `n`
 * operations need (untimed, e.g. fresh request bindings), `run` performs exactly `n`
 * operations (timed with process.hrtime.bigint()). Either may be async.
 */

/** Timing profiles. `default` keeps the full core run near 1.5 minutes on 2 cores. */
export const PROFILES = Object.freeze({
  default: Object.freeze({ warmupMs: 150, batchMs: 80, rounds: 5, minOps: 3, maxOps: 200_000 }),
  quick: Object.freeze({ warmupMs: 30, batchMs: 25, rounds: 3, minOps: 2, maxOps: 50_000 }),
});

/** Times one batch of `n` operations; returns nanoseconds. */
async function timeBatch(variant, n) {
  // No forced gc() here: a full collection between batches was measured to slow the
  // JIT-compiled @noble/ciphers code by ~40% afterwards. Rotating the order of the
  // variants every round spreads the collection debt instead.
  const state = variant.setup === undefined ? undefined : await variant.setup(n);
  const start = process.hrtime.bigint();
  await variant.run(state, n);
  const end = process.hrtime.bigint();
  return Number(end - start);
}

/**
 * Warm-up doubling the batch size until `warmupMs` has been spent, then picks the batch
 * size that lasts about `batchMs` from the rate of the last (warmest) warm-up batch.
 */
export async function calibrate(variant, profile) {
  const { warmupMs, batchMs, minOps, maxOps } = profile;
  let n = 1;
  let spentNs = 0;
  let doneOps = 0;
  let nsPerOp = Infinity;
  for (;;) {
    const ns = await timeBatch(variant, n);
    spentNs += ns;
    doneOps += n;
    nsPerOp = ns / n;
    // At least two warm-up batches, so the rate comes from code that has run before.
    if (spentNs >= warmupMs * 1e6 && doneOps >= 2) break;
    // Do not grow past what the remaining warm-up time (or one batch) can hold.
    const fits = Math.ceil((Math.max(warmupMs * 1e6 - spentNs, batchMs * 1e6 / 2)) / nsPerOp);
    n = Math.max(1, Math.min(2 * n, fits, maxOps));
  }
  return Math.max(minOps, Math.min(maxOps, Math.round((batchMs * 1e6) / nsPerOp)));
}

/** Median of a non-empty array of numbers. */
export function median(values) {
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** (max − min) / median: how much the batches of one variant disagreed. */
export function spread(values) {
  const med = median(values);
  return med === 0 ? 0 : (Math.max(...values) - Math.min(...values)) / med;
}

/**
 * Measures a group of variants side by side (see the module comment).
 * @returns one entry per variant: `{ name, opsPerBatch, samples: ops/s per round, opsPerSec: median }`.
 */
export async function measureGroup(variants, profile) {
  const opsPerBatch = [];
  for (const v of variants) opsPerBatch.push(await calibrate(v, profile));
  const samples = variants.map(() => []);
  for (let round = 0; round < profile.rounds; round++) {
    for (let k = 0; k < variants.length; k++) {
      const i = (k + round) % variants.length; // rotate who goes first
      const n = opsPerBatch[i];
      const ns = await timeBatch(variants[i], n);
      samples[i].push((n * 1e9) / ns);
    }
  }
  return variants.map((v, i) => ({ name: v.name, opsPerBatch: opsPerBatch[i], samples: samples[i], opsPerSec: median(samples[i]) }));
}

/** Median of the per-round ratios a[r] / b[r] (paired samples of one group). */
export function pairedRatio(a, b) {
  return median(a.map((x, r) => x / b[r]));
}
