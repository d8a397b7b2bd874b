// Kernel replay (after tinygrad's process replay): builds every example and every public
// conformance case on both targets and records a hash per generated kernel and per module file,
// so a refactor can prove it changed no kernel it did not mean to.
//
//   npm run replay              compare against tools/replay.json; exit 1 on any difference
//   npm run replay -- --update  record the current hashes in tools/replay.json
//
// A kernel's hash is that of its TypeScript print (the KIR as both backends see it); a module's
// hashes are those of its files (.js, .d.ts, .wasm or .ts), so a change in a backend shows too.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { buildNetwork } from '../dist/src/driver.js';
import { compileSource } from '../dist/src/frontend/index.js';
import { printKernelTS } from '../dist/codegen/ts/print.js';

const root = path.resolve(import.meta.dirname, '..');
const record = path.join(root, 'tools/replay.json');
const args = process.argv.slice(2);
const update = args.includes('--update');
/** A word on the command line: replay only the builds whose label holds it. */
const filter = args.find((a) => !a.startsWith('-'));
const hash = (data) => createHash('sha256').update(data).digest('hex').slice(0, 16);

/** Every source to replay: `examples/NAME.net` and `conformance/CASE` (model.net). */
function sources() {
  const list = readdirSync(path.join(root, 'examples'))
    .filter((f) => f.endsWith('.net'))
    .sort()
    .map((f) => [`examples/${f}`, path.join(root, 'examples', f)]);
  const cases = path.resolve(root, '../shared/conformance/cases');
  if (existsSync(cases))
    for (const c of readdirSync(cases).sort()) {
      const file = path.join(cases, c, 'model.net');
      if (existsSync(file)) list.push([`conformance/${c}`, file]);
    }
  return list;
}

const now = {};
for (const [label, file] of sources()) {
  if (filter && !label.includes(filter)) continue;
  const { graphs, diagnostics } = compileSource(readFileSync(file, 'utf8'));
  if (diagnostics.length || graphs.length === 0) continue; // error cases: nothing is built
  for (const graph of graphs)
    for (const target of ['wasm', 'ts']) {
      const key = `${label}:${graph.name}:${target}`;
      let built;
      try {
        built = await buildNetwork(graph, { target, seed: 1 });
      } catch (e) {
        now[key] = { error: String(e.message).split('\n')[0] };
        continue;
      }
      if (!built.ok) {
        now[key] = { error: built.error };
        continue;
      }
      const kernels = {};
      for (const k of built.program.kernels)
        kernels[k.name] = hash(printKernelTS(k, { types: true }));
      const files = {};
      for (const f of built.files) files[f.name] = hash(f.data);
      now[key] = { files, kernels };
      process.stderr.write('.');
    }
}
process.stderr.write('\n');

if (update || !existsSync(record)) {
  writeFileSync(record, JSON.stringify(now, null, 1) + '\n');
  console.log(`recorded ${Object.keys(now).length} builds in tools/replay.json`);
  process.exit(0);
}

const before = JSON.parse(readFileSync(record, 'utf8'));
let changes = 0;
const say = (line) => (changes++, console.log(line));
for (const key of new Set([...Object.keys(before), ...Object.keys(now)])) {
  if (filter && !key.includes(filter)) continue;
  const a = before[key];
  const b = now[key];
  if (!a) say(`+ ${key}: new build`);
  else if (!b) say(`- ${key}: no longer built`);
  else if (a.error || b.error) {
    if (a.error !== b.error) say(`~ ${key}: ${a.error ?? 'built'} -> ${b.error ?? 'built'}`);
  } else {
    for (const k of new Set([...Object.keys(a.kernels), ...Object.keys(b.kernels)]))
      if (a.kernels[k] !== b.kernels[k])
        say(`~ ${key}: kernel ${k} ${a.kernels[k] ? (b.kernels[k] ? 'changed' : 'gone') : 'new'}`);
    for (const f of new Set([...Object.keys(a.files), ...Object.keys(b.files)]))
      if (a.files[f] !== b.files[f]) say(`~ ${key}: file ${f} changed`);
  }
}
console.log(
  changes === 0
    ? `replay: ${Object.keys(now).length} builds, every kernel and module unchanged`
    : `replay: ${changes} difference(s); explain each in the commit or fix it`,
);
process.exit(changes === 0 ? 0 : 1);
