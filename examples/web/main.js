// The web example's script: draws a picture on a canvas, runs a network built by netc on it, and
// draws the picture again, dimmed where the network's mask is low. The page's address says which
// module and picture (defaults: ./build/selfie.js and ./sample.png) and how pixels map to the
// input's values: index.html?model=./build/selfie.js&image=./me.png&range=0,1
const params = new URLSearchParams(location.search);
const modelUrl = new URL(params.get('model') ?? './build/selfie.js', location.href);
const imageUrl = new URL(params.get('image') ?? './sample.png', location.href);
const [lo, hi] = (params.get('range') ?? '0,1').split(',').map(Number);
const status = document.getElementById('status');

/** [height, width, channels] and where channel k of pixel i is, for [H, W, C] or [C, H, W]. */
function layout(shape) {
  if (shape.length !== 3)
    throw new Error(`expected a [H, W, C] or [C, H, W] shape, got [${shape}]`);
  const [a, b, c] = shape;
  if (c <= 4 || a > 4) return { h: a, w: b, c, at: (i, k) => i * c + k };
  return { h: b, w: c, c: a, at: (i, k) => k * b * c + i };
}

async function main() {
  const { inputs, outputs, load } = await import(modelUrl.href);
  const [inName, inShape] = Object.entries(inputs)[0];
  const [outName, outShape] = Object.entries(outputs)[0];
  const inp = layout(inShape);
  const out = layout(outShape);
  if (inp.c !== 3) throw new Error(`input ${inName} should have 3 channels (RGB): [${inShape}]`);

  // The picture, drawn at the input's size.
  const image = new Image();
  image.src = imageUrl.href;
  await image.decode();
  const input = document.getElementById('input');
  input.width = inp.w;
  input.height = inp.h;
  const ctx = input.getContext('2d', { willReadFrequently: true });
  ctx.drawImage(image, 0, 0, inp.w, inp.h);
  const rgba = ctx.getImageData(0, 0, inp.w, inp.h).data;
  const x = new Float32Array(inp.h * inp.w * 3);
  for (let i = 0; i < inp.h * inp.w; i++)
    for (let k = 0; k < 3; k++) x[inp.at(i, k)] = lo + ((hi - lo) * rgba[4 * i + k]) / 255;

  const net = await load();
  const t0 = performance.now();
  const y = net.run({ [inName]: x })[outName];
  const ms = performance.now() - t0;

  // The picture, each pixel times 0.25 + 0.75 m, where m is the mask (the output's first channel,
  // clamped to [0, 1]) at the nearest position.
  const result = new ImageData(inp.w, inp.h);
  for (let r = 0; r < inp.h; r++)
    for (let q = 0; q < inp.w; q++) {
      const i = r * inp.w + q;
      const j = Math.floor((r * out.h) / inp.h) * out.w + Math.floor((q * out.w) / inp.w);
      const m = Math.min(1, Math.max(0, y[out.at(j, 0)]));
      for (let k = 0; k < 3; k++)
        result.data[4 * i + k] = Math.round(rgba[4 * i + k] * (0.25 + 0.75 * m));
      result.data[4 * i + 3] = 255;
    }
  const output = document.getElementById('output');
  output.width = inp.w;
  output.height = inp.h;
  output.getContext('2d').putImageData(result, 0, 0);
  status.textContent = `${modelUrl.pathname.split('/').pop()}: ${inName} [${inShape}] -> ${outName} [${outShape}] in ${ms.toFixed(1)} ms`;
  return { ms, width: inp.w, height: inp.h };
}

window.netcDone = main().catch((e) => {
  status.textContent = `error: ${e.message}`;
  throw e;
});
