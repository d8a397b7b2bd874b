// Where a threads build's time goes, phase by phase: each phase of an example's threads build
// (program.parallel) emitted alone as a module of its own (the same kernels, shapes, memory
// layout and weights; the one-thread build runs the phase's steps), loaded at 1 and N threads
// in one process and run alternately (median of the rounds). The whole network is timed the
// same way first. Run after `npx tsc -p tsconfig.json`:
//   node bench/phases.mjs [--threads N] [--rounds R] [--min MS] NET...
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { compileSource } from '../dist/src/frontend/index.js';
import { initialValues, packWeights } from '../dist/src/driver.js';
import { BACKENDS } from '../dist/src/backends.js';
import { runPasses } from '../dist/src/passes/pipeline.js';
import { lowerGraph } from '../dist/src/lower/index.js';
import { stepAlone } from './layers.mjs';
import { median, sineFeeds } from './stats.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..');
const args = process.argv.slice(2);
const opt = (name, d) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : d;
};
const N = opt('--threads', 2);
const partsMode = args.includes('--parts');
const low = args.includes('--low');
const only = args.includes('--only')
  ? args[args.indexOf('--only') + 1].split(',').map(Number)
  : null;
const ROUNDS = opt('--rounds', 30);
const skip = new Set(
  ['--threads', '--rounds', '--only'].map((a) => args.indexOf(a) + 1).filter((i) => i),
);
const nets = args.filter((a, i) => !a.startsWith('--') && !skip.has(i));
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'netc-phases-'));
const wasm = BACKENDS.wasm;
let serial = 0;

/** `program` emitted as a wasm module in a directory of its own, and imported. */
async function emitModule(graph, program, values) {
  const netDir = path.join(dir, `m${serial++}`);
  fs.mkdirSync(netDir);
  const files = await wasm.emit({
    program,
    name: graph.name,
    banner: '',
    weights: { kind: 'area', area: packWeights(program, values) },
    format: async (t) => t,
  });
  for (const f of files) fs.writeFileSync(path.join(netDir, f.name), f.data);
  return import(pathToFileURL(path.join(netDir, `${graph.name}.js`)).href);
}

/** Loads `program` as a module at 1 and N threads; the medians of alternate runs. */
async function time(graph, program, values) {
  const mod = await emitModule(graph, program, values);
  const one = await mod.load({ threads: 1 });
  const many = await mod.load({ threads: N });
  const feeds = sineFeeds(mod.inputs);
  const run = (net) => {
    const t = performance.now();
    net.run(feeds);
    return performance.now() - t;
  };
  for (let i = 0; i < 5; i++) (run(one), run(many));
  const t1 = [];
  const tN = [];
  if (process.env.CPU) {
    for (const [label, net] of [
      ['1', one],
      ['N', many],
    ]) {
      const c0 = process.cpuUsage();
      const w0 = performance.now();
      for (let i = 0; i < 50; i++) net.run(feeds);
      const c = process.cpuUsage(c0);
      console.log(
        `   ${label}: wall ${((performance.now() - w0) / 50).toFixed(3)} cpu ${((c.user + c.system) / 1000 / 50).toFixed(3)} ms/run`,
      );
    }
  }
  for (let r = 0; r < ROUNDS; r++) {
    t1.push(run(one));
    tN.push(run(many));
  }
  const threads = many.threads;
  one.dispose();
  many.dispose();
  if (low) {
    // The 10th percentile: on a machine shared with other work, the runs that had both cores.
    t1.sort((x, y) => x - y);
    tN.sort((x, y) => x - y);
    return { m1: t1[Math.floor(ROUNDS / 10)], mN: tN[Math.floor(ROUNDS / 10)], threads };
  }
  return { m1: median(t1), mN: median(tN), threads };
}

/** The threads build's phases in groups, each with the one-thread steps it computes: a split
 * layer's phase (two for a Winograd layer split in stages: same layer, one step), or a run of
 * unsplit steps. */
function groupsOf(program) {
  const par = program.parallel;
  const groups = [];
  let at = 0;
  for (const [k, phase] of par.phases.entries()) {
    const split = phase.parts.length > 1;
    const last = groups[groups.length - 1];
    if (split && last?.split && last.layer === phase.parts[0][0].layer) {
      last.phases.push(k);
      continue;
    }
    // A split phase: its layers' steps (two, a layer fused into the bands of the one before).
    const count = split ? new Set(phase.parts[0].map((c) => c.layer)).size : phase.parts[0].length;
    groups.push({
      split,
      layer: [...new Set(phase.parts[0].map((c) => c.layer))].join('+'),
      phases: [k],
      steps: program.steps.slice(at, at + count),
    });
    at += count;
  }
  return groups;
}

/** One call alone on one thread (bench/layers.mjs's stepAlone): the median time. */
async function timeCall(program, call) {
  const par = program.parallel;
  const args = call.args.map((a, i) => (i === call.scratchArg ? program.memoryFloats : a));
  const { run } = await stepAlone(
    {
      ...program,
      memoryFloats: program.memoryFloats + par.scratchFloats,
      kernels: [...program.kernels, ...par.kernels],
    },
    { ...call, args },
    100,
  );
  const times = [];
  for (let r = 0; r < 25; r++) {
    const s = performance.now();
    for (let j = 0; j < 4; j++) run();
    times.push((performance.now() - s) / 4);
  }
  return median(times);
}

/** Each split phase's parts timed alone on one thread, against the whole step: the work the
 * split adds (sum of parts / whole) and the 2-, 4- and 8-thread times of these parts (each
 * part, in order, to the least loaded thread; no barrier or memory contention counted). */
async function partsReport(name, program) {
  const par = program.parallel;
  const totals = { whole: 0, sum: 0, t2: 0, t4: 0, t8: 0, barriers: 0 };
  for (const g of groupsOf(program)) {
    if (!g.split || (only && !g.phases.some((p) => only.includes(p)))) continue;
    let whole = 0;
    for (const step of g.steps) whole += await timeCall(program, { ...step, scratchArg: null });
    const line = [];
    let sum = 0;
    let t2 = 0;
    let t4 = 0;
    let t8 = 0;
    for (const k of g.phases) {
      const parts = [];
      for (const p of par.phases[k].parts) {
        let t = 0;
        for (const c of p) t += await timeCall(program, c);
        parts.push(t);
      }
      const onT = (T) => {
        const free = Array(T).fill(0);
        for (const t of parts) {
          const i = free.indexOf(Math.min(...free));
          free[i] += t;
        }
        return Math.max(...free);
      };
      sum += parts.reduce((a, b) => a + b, 0);
      t2 += onT(2);
      t4 += onT(4);
      t8 += onT(8);
      line.push(parts.map((t) => t.toFixed(3)).join(' '));
    }
    totals.whole += whole;
    totals.sum += sum;
    totals.t2 += t2;
    totals.t4 += t4;
    totals.t8 += t8;
    totals.barriers += g.phases.length;
    console.log(
      `  phase ${g.phases.join('+').padStart(5)} ${g.layer.padEnd(22)} whole ${ms(whole)}  parts ${line.join(' | ')}  sum ${ms(sum)} (${((sum / whole - 1) * 100).toFixed(0)}% more)  at 2 ${ms(t2)} (${(whole / t2).toFixed(2)}x)  at 4 ${ms(t4)} (${(whole / t4).toFixed(2)}x)`,
    );
  }
  console.log(
    `  ${name} split phases (${totals.barriers} barriers): whole ${ms(totals.whole)}  parts ${ms(totals.sum)}  at 2 ${ms(totals.t2)} (${(totals.whole / totals.t2).toFixed(2)}x)  at 4 ${ms(totals.t4)} (${(totals.whole / totals.t4).toFixed(2)}x)  at 8 ${ms(totals.t8)} (${(totals.whole / totals.t8).toFixed(2)}x)`,
  );
}

/** The one-thread program with the steps of the split phases in `which` replaced by their
 * parts, one after another (scratch after the program's memory). */
function inSequence(program, which) {
  const par = program.parallel;
  const scratch = program.memoryFloats;
  const steps = [];
  for (const g of groupsOf(program)) {
    if (g.split && g.phases.some((k) => which.includes(k)))
      for (const k of g.phases)
        for (const p of par.phases[k].parts)
          for (const c of p)
            steps.push({
              kernel: c.kernel,
              args: c.args.map((a, i) => (i === c.scratchArg ? scratch : a)),
              layer: c.layer,
              line: c.line,
            });
    else steps.push(...g.steps);
  }
  const kernels = new Map(program.kernels.map((k) => [k.name, k]));
  for (const k of par.kernels) if (!kernels.has(k.name)) kernels.set(k.name, k);
  const { parallel, ...rest } = program;
  return {
    ...rest,
    memoryFloats: program.memoryFloats + par.scratchFloats,
    kernels: [...kernels.values()],
    steps,
  };
}

/** Loads each program as a one-thread module and runs them alternately: the medians. */
async function timeOne(graph, programs, values) {
  const nets = [];
  for (const program of programs) {
    const mod = await emitModule(graph, program, values);
    nets.push({ net: await mod.load({ threads: 1 }), mod });
  }
  const feeds = sineFeeds(nets[0].mod.inputs);
  const times = programs.map(() => []);
  for (let r = 0; r < ROUNDS + 5; r++)
    nets.forEach(({ net }, i) => {
      const t = performance.now();
      net.run(feeds);
      if (r >= 5) times[i].push(performance.now() - t);
    });
  for (const { net } of nets) net.dispose();
  return times.map(median);
}

const ms = (x) => x.toFixed(3).padStart(7);
for (const name of nets) {
  const graph = compileSource(fs.readFileSync(path.join(root, 'examples', `${name}.net`), 'utf8'))
    .graphs[0];
  const program = lowerGraph(runPasses(graph), {
    schedule: wasm.schedule,
    stream: wasm.stream,
    parallel: wasm.parallel,
  });
  if (args.includes('--sequence')) {
    // The work the split adds, in place (the network's own cache state), on one thread.
    const values = initialValues(graph, 0);
    const split = program.parallel.phases.flatMap((p, k) => (p.parts.length > 1 ? [k] : []));
    const picked = only ?? split;
    const each = args.includes('--each') ? picked.map((k) => inSequence(program, [k])) : [];
    const variants = [program, ...each, inSequence(program, picked)];
    const t = await timeOne(graph, variants, values);
    console.log(
      `${name}: one thread, whole ${ms(t[0])} ms; with the parts of a phase run in sequence instead:`,
    );
    if (each.length)
      picked.forEach((k, i) =>
        console.log(
          `  phase ${String(k).padStart(2)} ${program.parallel.phases[k].parts.length} parts: +${ms(t[i + 1] - t[0])} ms  ${program.parallel.phases[k].parts[0][0].layer}`,
        ),
      );
    console.log(`  all of them: +${ms(t[t.length - 1] - t[0])} ms`);
    continue;
  }
  if (partsMode) {
    console.log(`${name}: each part alone on one thread (ms)`);
    await partsReport(name, program);
    continue;
  }
  const values = initialValues(graph, 0);
  const par = program.parallel;
  const whole =
    only && !process.env.CPU ? { m1: 0, mN: 0, threads: N } : await time(graph, program, values);
  console.log(
    `${name}: whole ${ms(whole.m1)} ms at 1, ${ms(whole.mN)} ms at ${whole.threads}: ${(whole.m1 / whole.mN).toFixed(2)}x`,
  );
  let sum1 = 0;
  let sumN = 0;
  for (const g of groupsOf(program)) {
    const k = g.phases[0];
    if (only && !g.phases.some((p) => only.includes(p))) continue;
    if (!g.split) {
      // An unsplit phase: no threads build of its own; one thread runs it either way.
      console.log(
        `  phase ${String(k).padStart(5)} 1 part   ${g.steps.map((x) => x.layer).join(',')}`,
      );
      continue;
    }
    const phases = g.phases.map((p) => par.phases[p]);
    const t = await time(
      graph,
      { ...program, steps: g.steps, streams: [], parallel: { ...par, phases } },
      values,
    );
    sum1 += t.m1;
    sumN += t.mN;
    console.log(
      `  phase ${g.phases.join('+').padStart(5)} ${phases.map((p) => p.parts.length).join('+')} parts ${ms(t.m1)} -> ${ms(t.mN)} ms ${(t.m1 / t.mN).toFixed(2)}x T${t.threads} ${g.layer}`,
    );
  }
  console.log(`  (threads ${whole.threads})`);
  console.log(`  split phases alone: ${ms(sum1)} -> ${ms(sumN)} ms`);
}
fs.rmSync(dir, { recursive: true, force: true });
