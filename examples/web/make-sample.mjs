// Writes the web example's sample picture, sample.png (256 x 144, RGB): a figure before a sky
// and a floor, drawn by this script so that no third-party image ships. Usage:
//   node examples/web/make-sample.mjs [DIR]      (default: this directory)
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import zlib from 'node:zlib';

const W = 256;
const H = 144;

/** The picture, RGB bytes, row by row. */
function draw() {
  const rgb = new Uint8Array(W * H * 3);
  const put = (x, y, r, g, b) => rgb.set([r, g, b], 3 * (y * W + x));
  for (let y = 0; y < H; y++)
    for (let x = 0; x < W; x++) {
      // Sky above y = 100, a floor with stripes below.
      if (y < 100) put(x, y, 90 + (y >> 1), 150 + (y >> 2), 230 - (y >> 2));
      else put(x, y, 120 + ((x >> 4) & 1) * 40, 100, 70);
      // A figure: a head (a disc) over shoulders (half an ellipse), a shade of skin and a shirt.
      const hx = x - 128;
      const hy = y - 52;
      if (hx * hx + hy * hy < 22 * 22) put(x, y, 224, 172, 140 - (hy >> 1));
      const sx = (x - 128) / 58;
      const sy = (y - 144) / 62;
      if (y > 76 && sx * sx + sy * sy < 1) put(x, y, 40 + (y >> 2), 90, 160);
      // The sun.
      const ux = x - 214;
      const uy = y - 26;
      if (ux * ux + uy * uy < 14 * 14) put(x, y, 255, 226, 110);
    }
  return rgb;
}

/** A PNG file of RGB bytes (8 bits, no filter, one IDAT). */
function png(rgb, width, height) {
  const table = new Int32Array(256).map((_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c;
  });
  const crc = (bytes) => {
    let c = -1;
    for (const b of bytes) c = table[(c ^ b) & 255] ^ (c >>> 8);
    return (c ^ -1) >>> 0;
  };
  const chunk = (type, data) => {
    const out = Buffer.alloc(12 + data.length);
    out.writeUInt32BE(data.length, 0);
    out.write(type, 4, 'latin1');
    Buffer.from(data).copy(out, 8);
    out.writeUInt32BE(crc(out.subarray(4, 8 + data.length)), 8 + data.length);
    return out;
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header.set([8, 2, 0, 0, 0], 8); // 8 bits, RGB, deflate, no filter, no interlace
  const rows = Buffer.alloc(height * (1 + width * 3));
  for (let y = 0; y < height; y++)
    Buffer.from(rgb.subarray(y * width * 3, (y + 1) * width * 3)).copy(
      rows,
      y * (1 + width * 3) + 1,
    );
  return Buffer.concat([
    Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]),
    chunk('IHDR', header),
    chunk('IDAT', zlib.deflateSync(rows, { level: 9 })),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

const dir = process.argv[2] ?? path.dirname(fileURLToPath(import.meta.url));
const file = path.join(dir, 'sample.png');
fs.writeFileSync(file, png(draw(), W, H));
console.log(`wrote ${file} (${W} x ${H})`);
