// The child process test/helpers/module.ts runs generated modules in: plain Node, as an app
// would run them, and outside Vitest (whose module transform is slow on modules with large
// built-in weights). It serves requests over IPC (advanced serialization, so Float32Arrays
// travel as they are) until its parent disconnects:
//   { id, module, feeds, weights?, into?, threads? } -> { id, outputs } or { id, error }
// Each request imports its module afresh (a query makes a new module instance) and loads it
// with its built-in weights or the given safetensors bytes. With `into`, the outputs are
// caller-owned arrays (filled with NaN first) and run() goes twice. With `threads` (a list of
// counts), the module is loaded and run once per count (then disposed): outputs NAME@COUNT, and
// `@threads` the thread count each net reported.
import { pathToFileURL } from 'node:url';

async function run({ id, module, feeds, weights, into, threads }) {
  const mod = await import(`${pathToFileURL(module).href}?run=${id}`);
  if (threads) {
    const out = { '@threads': new Float32Array(threads.length) };
    for (const [i, count] of threads.entries()) {
      const net = await mod.load({ ...(weights ? { weights } : {}), threads: count });
      for (const [name, y] of Object.entries(net.run(feeds))) out[`${name}@${count}`] = y;
      out['@threads'][i] = net.threads;
      net.dispose();
    }
    return out;
  }
  const net = await mod.load(weights ? { weights } : undefined);
  if (!into) return net.run(feeds);
  const first = Object.keys(feeds)[0];
  const batch = feeds[first].length / mod.inputs[first].reduce((a, b) => a * b, 1);
  const arrays = {};
  for (const [name, shape] of Object.entries(mod.outputs))
    arrays[name] = new Float32Array(batch * shape.reduce((a, b) => a * b, 1)).fill(NaN);
  let out;
  for (let i = 0; i < 2; i++) out = net.run(feeds, arrays);
  for (const name of Object.keys(arrays))
    if (out[name] !== arrays[name]) throw new Error(`run(feeds, into) returned a new ${name}`);
  return out;
}

process.on('message', async (request) => {
  try {
    const outputs = { ...(await run(request)) };
    process.send({ id: request.id, outputs });
  } catch (e) {
    process.send({
      id: request.id,
      error: e instanceof Error ? (e.stack ?? e.message) : String(e),
    });
  }
});
process.on('disconnect', () => process.exit(0));
