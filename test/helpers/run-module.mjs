// Runs a generated module in a plain Node process (as an app would): node run-module.mjs SPEC.
// SPEC (JSON): { module, inputs: {name: file}, outputs: {name: file}, weights? }. Float32 files.
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
const out = net.run(feeds);
for (const [name, file] of Object.entries(spec.outputs)) writeFileSync(file, out[name]);
