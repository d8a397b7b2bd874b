// Per-layer timing of netc's wasm code: each step of the kernel program emitted alone as its
// own module (same kernels, shapes and memory layout; every float 1/64) and timed.
import { readFileSync } from 'node:fs';

/** The median of the step's own time over a few calls, per step, in program order. */
export async function timeLayers(config) {
  const { compileSource } = await import('../dist/src/frontend/index.js');
  const { runPasses } = await import('../dist/src/passes/pipeline.js');
  const { lowerGraph } = await import('../dist/src/lower/index.js');
  const { WASM_SIMD_X64 } = await import('../dist/src/lower/schedule.js');
  const graph = compileSource(readFileSync(config.source, 'utf8')).graphs[0];
  const program = lowerGraph(runPasses(graph), { schedule: WASM_SIMD_X64 });
  const macsByName = new Map();
  for (const n of graph.nodes)
    macsByName.set(
      n.name,
      n.layer.macs(
        n,
        n.inputs.map((i) => graph.nodes[i].shape),
      ),
    );
  const rows = [];
  for (const step of program.steps) {
    if (config.only && !step.layer.includes(config.only) && !step.kernel.includes(config.only))
      continue;
    const { run, bytes } = await stepAlone(program, step, config.quick ? 20 : 100);
    const t0 = performance.now();
    run();
    const once = performance.now() - t0;
    const reps = Math.max(
      3,
      Math.min(50, Math.ceil((config.quick ? 20 : 200) / Math.max(once, 0.01))),
    );
    const times = [];
    for (let i = 0; i < reps; i++) {
      const s = performance.now();
      run();
      times.push(performance.now() - s);
    }
    times.sort((a, b) => a - b);
    rows.push({
      layer: step.layer,
      kernel: step.kernel,
      ms: times[Math.floor(times.length / 2)],
      macs: macsByName.get(step.layer) ?? null,
      wasmBytes: bytes.length,
    });
  }
  return rows;
}

/**
 * `step` of `program` emitted alone as a module of its own (its kernel only, the program's
 * memory layout) and instantiated, every float 1/64 (untouched pages all map to the one zero
 * page, which would keep a layer's weights in cache however large they are), then run for
 * `warmMs` (at least 3 calls), long enough for V8 to tier the kernel up from Liftoff to
 * TurboFan. Its `run` and the module's bytes.
 */
export async function stepAlone(program, step, warmMs) {
  const { emitWasm } = await import('../dist/codegen/wasm/emit.js');
  const kernels = program.kernels.filter((k) => k.name === step.kernel).slice(0, 1);
  const bytes = emitWasm({ ...program, kernels, steps: [step], prepare: [], streams: [] });
  const { instance } = await WebAssembly.instantiate(bytes, {});
  const run = instance.exports.run;
  new Float32Array(instance.exports.memory.buffer).fill(1 / 64);
  const w0 = performance.now();
  for (let calls = 0; calls < 3 || (performance.now() - w0 < warmMs && calls < 2000); calls++)
    run();
  return { run, bytes };
}
