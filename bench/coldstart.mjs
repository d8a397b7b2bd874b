// Cold start: how long after process start a network's first result comes, and where the time
// goes. `npm run build && node bench/coldstart.mjs [NAME...] [--runs N]` (default mnist and
// resnet50, 5 fresh processes each, the median printed).
//
// Each network is built for wasm (unformatted) into a temporary directory. Then, in fresh Node
// processes:
// - "module API": process start -> `import` done -> `load()` done -> first `run` -> second run,
//   through the generated module as an app uses it (times from performance.now(), which counts
//   from the process's start; then the same from "node ready", when user code starts), with
//   the threads load() took ('auto');
// - "steps": the loader's steps done by hand on the same files, each timed: compile the code
//   part of the .wasm, instantiate, read the weights into memory, run the prepare steps
//   (Winograd's transforms), the first run, a second run.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const root = path.resolve(import.meta.dirname, '..');
const args = process.argv.slice(2);
const runsAt = args.indexOf('--runs');
const runs = runsAt >= 0 ? Number(args[runsAt + 1]) : 5;
const names = args.filter((a, i) => !a.startsWith('--') && i !== runsAt + 1);
const { buildNetwork } = await import(pathToFileURL(path.join(root, 'dist/src/driver.js')).href);
const { compileSource } = await import(
  pathToFileURL(path.join(root, 'dist/src/frontend/index.js')).href
);

const API = `
const t = [performance.now()];
const mod = await import(process.argv[1]);
t.push(performance.now());
const net = await mod.load();
t.push(performance.now());
const feeds = {};
for (const [k, s] of Object.entries(mod.inputs)) feeds[k] = new Float32Array(s.reduce((a, b) => a * b, 1)).fill(0.5);
net.run(feeds);
t.push(performance.now());
net.run(feeds);
t.push(performance.now());
t.push(net.threads);
process.stdout.write(JSON.stringify(t));
`;

const STEPS = `
import fs from 'node:fs';
const t0 = performance.now();
const [js, wasmPath] = [process.argv[1], process.argv[2]];
const layout = JSON.parse(/const WASM = (\\{.*?\\});/.exec(fs.readFileSync(js, 'utf8'))[1]);
const fd = fs.openSync(wasmPath, 'r');
const read = (at, n) => { const b = new Uint8Array(n); fs.readSync(fd, b, 0, n, at); return b; };
const marks = [];
let t = performance.now();
const mark = (name) => { const now = performance.now(); marks.push([name, now - t]); t = now; };
const module = new WebAssembly.Module(read(0, layout.codeBytes));
mark('compile');
const instance = new WebAssembly.Instance(module, {});
mark('instantiate');
const memory = instance.exports.memory.buffer;
fs.readSync(fd, new Uint8Array(memory, 0, layout.weightBytes), 0, layout.weightBytes, layout.weightsAt);
mark('weights');
instance.exports.prepare();
mark('prepare');
instance.exports.run();
mark('first run');
instance.exports.run();
mark('second run');
process.stdout.write(JSON.stringify({ start: t0, marks }));
`;

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const ms = (x) => `${x.toFixed(0)} ms`;
const tmp = mkdtempSync(path.join(tmpdir(), 'netc-coldstart-'));
try {
  for (const name of names.length ? names : ['mnist', 'resnet50']) {
    const source = readFileSync(path.join(root, 'examples', `${name}.net`), 'utf8');
    const graph = compileSource(source).graphs[0];
    const built = await buildNetwork(graph, { target: 'wasm', seed: 0, format: false });
    if (!built.ok) throw new Error(built.error);
    const dir = path.join(tmp, name);
    mkdirSync(dir, { recursive: true });
    for (const f of built.files) writeFileSync(path.join(dir, f.name), f.data);
    const js = path.join(dir, `${graph.name}.js`);
    const node = (script, ...a) =>
      JSON.parse(
        execFileSync(process.execPath, ['--input-type=module', '-e', script, ...a], {
          encoding: 'utf8',
        }),
      );
    const api = Array.from({ length: runs }, () => node(API, pathToFileURL(js).href));
    const col = (i) => median(api.map((t) => t[i]));
    // Also from "node ready" (Node's own start-up, ~80 ms, is not netc's), per process.
    const since = (i) => median(api.map((t) => t[i] - t[0])).toFixed(0);
    console.log(
      `${name}, module API (ms after process start, median of ${runs}): node ready ${col(0).toFixed(0)}, ` +
        `imported ${col(1).toFixed(0)}, loaded ${col(2).toFixed(0)}, first result ${col(3).toFixed(0)}, ` +
        `second ${col(4).toFixed(0)} (warm run ${(col(4) - col(3)).toFixed(0)}; threads ${col(5)})`,
    );
    console.log(
      `${name}, module API (ms after node ready): imported ${since(1)}, loaded ${since(2)}, ` +
        `first result ${since(3)}, second ${since(4)}`,
    );
    const steps = Array.from({ length: runs }, () =>
      node(STEPS, js, path.join(dir, `${graph.name}.wasm`)),
    );
    const parts = steps[0].marks.map(
      ([n], i) => `${n} ${ms(median(steps.map((s) => s.marks[i][1])))}`,
    );
    console.log(`${name}, steps by hand: ${parts.join(', ')}`);
    // The pages a load touches first (each a page fault: about 13 us in a Firecracker VM).
    const p = built.program;
    const mb = (floats) => `${((floats * 4) / 2 ** 20).toFixed(1)} MB`;
    console.log(
      `${name}, memory ${mb(p.memoryFloats)} (${Math.ceil((p.memoryFloats * 4) / 4096)} pages): ` +
        `stored weights ${mb(p.storedFloats)}, weights once prepared ${mb(p.weightFloats)}, ` +
        `activations and scratch ${mb(p.memoryFloats - p.weightFloats)}`,
    );
  }
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
