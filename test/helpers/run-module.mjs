// Runs a generated module in a plain Node process (as an app would): node run-module.mjs SPEC.
// SPEC (JSON): { module, inputs: {name: file}, outputs: {name: file}, weights?, into? }. Float32
// files. With `into`, the outputs are caller-owned arrays (filled with NaN first), run twice.
import { readFileSync, writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

const spec = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const mod = await import(pathToFileURL(spec.module).href);
const net = await mod.load(spec.weights ? { weights: readFileSync(spec.weights) } : undefined);
const feeds = {};
for (const [name, file] of Object.entries(spec.inputs)) {
  const b = readFileSync(file);
  feeds[name] = new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}
let out;
if (spec.into) {
  const into = {};
  for (const [name, shape] of Object.entries(mod.outputs)) {
    const batch =
      Object.values(feeds)[0].length / mod.inputs[Object.keys(feeds)[0]].reduce((a, b) => a * b, 1);
    into[name] = new Float32Array(batch * shape.reduce((a, b) => a * b, 1)).fill(NaN);
  }
  for (let i = 0; i < 2; i++) out = net.run(feeds, into);
  for (const name of Object.keys(into))
    if (out[name] !== into[name]) throw new Error(`run(feeds, into) returned a new ${name}`);
} else out = net.run(feeds);
for (const [name, file] of Object.entries(spec.outputs)) writeFileSync(file, out[name]);
