// Writes the web example's sample picture, sample.png (256 x 256, RGB): a person before a wall,
// drawn by this script so that no third-party image ships. The selfie segmentation model the
// page runs finds the person in it. Usage:
//   node examples/web/make-sample.mjs [DIR]      (default: this directory)
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import zlib from 'node:zlib';

const W = 256;
const H = 256;

/** The picture, RGB bytes, row by row. */
function draw() {
  const rgb = new Uint8Array(W * H * 3);
  const put = (x, y, r, g, b) => rgb.set([r, g, b], 3 * (y * W + x));
  for (let y = 0; y < H; y++)
    for (let x = 0; x < W; x++) {
      // A wall, lit from above, with a window; a floor with boards.
      if (y < 190) put(x, y, 200 - (y >> 3), 190 - (y >> 3), 170 - (y >> 2));
      else put(x, y, 130 + ((x >> 4) & 1) * 20, 100, 80);
      if (x > 20 && x < 80 && y > 30 && y < 110) put(x, y, 150, 190, 235);
      // Shoulders: half an ellipse, a shirt.
      const sx = (x - 128) / 95;
      const sy = (y - 262) / 110;
      if (y > 170 && sx * sx + sy * sy < 1) put(x, y, 50 + (y >> 3), 80, 150);
      // A neck, and a head: an ellipse of skin with hair on top.
      if (Math.abs(x - 128) < 20 && y > 135 && y < 185) put(x, y, 205, 150, 120);
      const hx = (x - 128) / 42;
      const hy = (y - 105) / 52;
      const d = hx * hx + hy * hy;
      if (d < 1) {
        put(x, y, 225, 175, 145 - (y >> 3));
        if (y < 78 || (d > 0.75 && y < 105)) put(x, y, 70, 45, 30);
      }
      // Eyes and a mouth.
      for (const ex of [112, 144])
        if ((x - ex) ** 2 + ((y - 100) * 1.6) ** 2 < 36) put(x, y, 40, 30, 30);
      if (Math.abs(x - 128) < 14 && Math.abs(y - 130) < 3) put(x, y, 170, 70, 70);
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
