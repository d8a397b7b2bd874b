// Measurement shared by the bench's parent, its Node children (bench/child.mjs) and its pages
// (bench/browser-page.mjs): plain JavaScript that runs in both.

/** The median of a list of numbers (the mean of the middle two for an even count). */
export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

/** The process's CPU time so far, in µs (Node only: `timeRuns`'s `cpuMicros` there). */
export const nodeCpuMicros = () => {
  const c = process.cpuUsage();
  return c.user + c.system;
};

/**
 * Times `fn` (sync or async): warm-up, then until enough runs or time; per-run wall ms. With
 * `cpuMicros` (the process's CPU time so far, in µs: Node's `process.cpuUsage`; a page has
 * none) also per-run CPU ms and the timed loop's CPU over wall time.
 */
export async function timeRuns(
  fn,
  { minRuns, minMs, maxMs, maxRuns, warmupRuns, warmupMs },
  cpuMicros = null,
) {
  let t0 = performance.now();
  // Await only what returns a promise (the onnxruntimes): a synchronous run costs no tick.
  const probe = fn();
  const sync = !(probe && typeof probe.then === 'function');
  if (!sync) await probe;
  for (let i = 0; i < warmupRuns || performance.now() - t0 < warmupMs; i++) {
    if (sync) fn();
    else await fn();
    if (i > 1000) break;
  }
  const wall = [];
  const cpu = [];
  const c0 = cpuMicros?.();
  t0 = performance.now();
  let elapsed = 0;
  while (wall.length < maxRuns && elapsed < maxMs && (wall.length < minRuns || elapsed < minMs)) {
    const c = cpuMicros?.();
    const s = performance.now();
    if (sync) fn();
    else await fn();
    const e = performance.now();
    if (cpuMicros) cpu.push((cpuMicros() - c) / 1000);
    wall.push(e - s);
    elapsed = e - t0;
  }
  const sorted = [...wall].sort((a, b) => a - b);
  const times = {
    n: wall.length,
    median: median(wall),
    min: sorted[0],
    max: sorted[sorted.length - 1],
    elapsed,
  };
  if (!cpuMicros) return times;
  return {
    ...times,
    cpuMedian: median(cpu),
    // CPU time over wall time of the timed loop: below 1 means the process was waiting
    // (another process had the core); above 1 means it used more than one thread.
    cpuRatio: (cpuMicros() - c0) / 1000 / elapsed,
  };
}

/**
 * `run` and `runInto` over an onnxruntime session (onnxruntime-web or -node, in Node or a
 * page): feeds of batch 1 from `inputs` (name -> Float32Array), outputs by `config.outputs`.
 */
export function ortRunners(ort, session, config, inputs) {
  const feeds = () => {
    const f = {};
    for (const i of config.inputs)
      f[i.name] = new ort.Tensor('float32', inputs[i.name], [1, ...i.shape]);
    return f;
  };
  return {
    run: async () => {
      const r = await session.run(feeds());
      return Object.fromEntries(config.outputs.map((o) => [o.name, r[o.name].data]));
    },
    runInto: async (into) => {
      const fetches = {};
      for (const o of config.outputs)
        fetches[o.name] = new ort.Tensor('float32', into[o.name], [1, ...o.shape]);
      await session.run(feeds(), fetches);
      return into;
    },
  };
}

/** Feeds for a module's inputs (its `inputs` shapes): sin(0.37 k), the same in every tool. */
export function sineFeeds(inputs) {
  return Object.fromEntries(
    Object.entries(inputs).map(([key, shape]) => [
      key,
      Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, k) => Math.sin(k * 0.37)),
    ]),
  );
}
