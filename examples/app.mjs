// A tiny app using a generated module: classify one (synthetic) 28x28 image with build/mnist.js.
// Run `npx netc build examples/mnist.net --out build` first (`npm run demo` does both).
import { inputs, load, outputs } from '../build/mnist.js';

const net = await load(); // the weights built in (initialized from --seed; pass --weights W for trained ones)
const [h, w, c] = inputs.image;
const image = new Float32Array(h * w * c);
for (let y = 0; y < h; y++)
  for (let x = 0; x < w; x++) image[y * w + x] = Math.abs(x - 14) < 2 && y > 4 && y < 24 ? 1 : 0; // a "1"

const t0 = performance.now();
const { probs } = net.run({ image });
const ms = performance.now() - t0;
const best = probs.indexOf(Math.max(...probs));
console.log(`mnist: input [${inputs.image}] -> output [${outputs.probs}] in ${ms.toFixed(2)} ms`);
console.log(`probabilities: ${[...probs].map((p) => p.toFixed(3)).join(' ')}`);
console.log(
  `most likely class: ${best} (random weights: train in Keras and pass --weights for real ones)`,
);
