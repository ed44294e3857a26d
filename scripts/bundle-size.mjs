// What each source module costs the script-tag bundle: `node scripts/bundle-size.mjs [file]` after `npm run build`.
// Attributes every byte of the minified file to the source its source map names, then reports per module the
// minified bytes and its share of the gzipped size (level 9, as the budget test measures: the module's share of
// the minified bytes times the whole file's gzipped size; gzip has no per-module size, so this is an estimate).
import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';

const file = process.argv[2] ?? 'dist/odp-sdk.umd.min.js';
const code = readFileSync(file, 'utf8');
const map = JSON.parse(readFileSync(`${file}.map`, 'utf8'));

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
/** Decodes one segment of base64 VLQ numbers (the source map "mappings" format). */
function decodeSegment(text) {
  const values = [];
  let value = 0;
  let shift = 0;
  for (const char of text) {
    const digit = B64.indexOf(char);
    value += (digit & 31) << shift;
    if (digit & 32) shift += 5;
    else {
      values.push(value & 1 ? -(value >>> 1) : value >>> 1);
      value = 0;
      shift = 0;
    }
  }
  return values;
}

// Starts of generated segments (as offsets into the file) and the source each maps to.
const starts = [];
let source = 0;
let lineStart = 0;
const lines = code.split('\n');
map.mappings.split(';').forEach((line, index) => {
  let column = 0;
  for (const segment of line.split(',')) {
    if (!segment) continue;
    const [dc, ds] = decodeSegment(segment);
    column += dc;
    if (ds !== undefined) source += ds;
    starts.push([lineStart + column, ds === undefined ? -1 : source]);
  }
  lineStart += (lines[index]?.length ?? 0) + 1;
});
starts.sort((a, b) => a[0] - b[0]);

const bytes = new Map();
for (let i = 0; i < starts.length; i++) {
  const [at, src] = starts[i];
  const end = i + 1 < starts.length ? starts[i + 1][0] : code.length;
  const name = src < 0 ? '(unmapped)' : map.sources[src].replace(/^(\.\.\/)+(build\/)?/, '');
  bytes.set(name, (bytes.get(name) ?? 0) + end - at);
}
const gzip = gzipSync(code, { level: 9 }).length;
console.log(`${file}: ${code.length} bytes minified, ${gzip} gzipped`);
console.log('  min  gzip~  module');
for (const [name, n] of [...bytes].sort((a, b) => b[1] - a[1])) {
  console.log(`${String(n).padStart(5)} ${String(Math.round((n / code.length) * gzip)).padStart(6)}  ${name}`);
}
