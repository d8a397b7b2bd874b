// Thread scaling of netc's wasm modules, one process: per example network, the gzipped code
// (the .wasm without its weights, as bench/run.mjs's "code gz"), the phases and parts of the
// threads build, and with --time the run time at 1 and N threads (--threads N, default 2), both
// loaded at once and run alternately (median of the rounds; the ratio is what a shared machine
// can show). Run after `npx tsc -p tsconfig.json`: node bench/threads.mjs [--time] [NET...]
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import zlib from 'node:zlib';
import { compileSource } from '../dist/src/frontend/index.js';
import { buildNetwork } from '../dist/src/driver.js';
import { median, sineFeeds } from './stats.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..');
const args = process.argv.slice(2);
const timed = args.includes('--time');
const threadsAt = args.indexOf('--threads');
const N = threadsAt >= 0 ? Number(args[threadsAt + 1]) : 2;
const roundsAt = args.indexOf('--rounds');
const ROUNDS = roundsAt >= 0 ? Number(args[roundsAt + 1]) : 40;
const skip = new Set([threadsAt, roundsAt].filter((at) => at >= 0).map((at) => at + 1));
const picked = args.filter((a, i) => !a.startsWith('--') && !skip.has(i));
const NETS = ['mnist', 'mobilenet_v1', 'resnet50', 'dcgan', 'separable', 'autoencoder'];
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'netc-threads-'));
const kb = (b) => `${(b / 1024).toFixed(1)} KB`;

for (const name of NETS.filter((n) => picked.length === 0 || picked.includes(n))) {
  const graph = compileSource(fs.readFileSync(path.join(root, 'examples', `${name}.net`), 'utf8'))
    .graphs[0];
  const built = await buildNetwork(graph, { target: 'wasm', seed: 0 });
  if (!built.ok) throw new Error(built.error);
  const wasm = built.files.find((f) => f.name.endsWith('.wasm'));
  const code = wasm.data.subarray(0, wasm.data.length - 4 * built.program.storedFloats);
  const gz = zlib.gzipSync(code, { level: 9 }).length;
  const par = built.program.parallel;
  const phases = par?.phases.length ?? 0;
  const split = par?.phases.filter((p) => p.parts.length > 1).length ?? 0;
  let line = `${name.padEnd(13)} code gz ${kb(gz).padStart(9)}  kernels ${built.program.kernels.length}+${par?.kernels.length ?? 0}  phases ${phases} (${split} split)`;
  if (timed) {
    const netDir = path.join(dir, name);
    fs.mkdirSync(netDir);
    for (const f of built.files) fs.writeFileSync(path.join(netDir, f.name), f.data);
    const mod = await import(pathToFileURL(path.join(netDir, `${graph.name}.js`)).href);
    const one = await mod.load({ threads: 1 });
    const many = await mod.load({ threads: N });
    const feeds = sineFeeds(mod.inputs);
    const a = one.run(feeds);
    const b = many.run(feeds);
    for (const k of Object.keys(a))
      if (!a[k].every((v, i) => Object.is(v, b[k][i]))) throw new Error(`${name}: ${k} differs`);
    const t1 = [];
    const tN = [];
    const time = (net) => {
      const t = performance.now();
      net.run(feeds);
      return performance.now() - t;
    };
    for (let i = 0; i < 3; i++) (time(one), time(many));
    for (let r = 0; r < ROUNDS; r++) {
      t1.push(time(one));
      tN.push(time(many));
    }
    const m1 = median(t1);
    const mN = median(tN);
    line += `  1 thread ${m1.toFixed(2)} ms  ${many.threads} threads ${mN.toFixed(2)} ms  speed-up ${(m1 / mN).toFixed(2)}x`;
    one.dispose();
    many.dispose();
  }
  console.log(line);
}
fs.rmSync(dir, { recursive: true, force: true });
