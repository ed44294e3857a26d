// Summarises a V8 .cpuprofile (from `node --cpu-prof`).
//   node bench/profile.mjs <file.cpuprofile> [top=25]          functions by self time
//   node bench/profile.mjs <file.cpuprofile> --under NAME [top] self time of what runs inside NAME
import { readFileSync } from 'node:fs';

const args = process.argv.slice(2);
const file = args[0];
if (!file) {
  console.error('usage: node bench/profile.mjs <file.cpuprofile> [--under NAME] [top]');
  process.exit(2);
}
const underIndex = args.indexOf('--under');
const under = underIndex > 0 ? args[underIndex + 1] : undefined;
const top = Number(args.filter((a, i) => i > 0 && a !== '--under' && i !== underIndex + 1)[0] ?? 25);

const profile = JSON.parse(readFileSync(file, 'utf8'));
const byId = new Map(profile.nodes.map((node) => [node.id, node]));
const parent = new Map();
for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);

const label = (node) => {
  const { functionName, url, lineNumber } = node.callFrame;
  const where = url ? `${url.replace(/^.*\/(node_modules\/)?/, '$1')}:${lineNumber + 1}` : '';
  return `${functionName || '(anonymous)'} ${where}`.trim();
};
const inside = (id) => {
  for (let at = id; at !== undefined; at = parent.get(at)) if (byId.get(at).callFrame.functionName === under) return true;
  return false;
};

const self = new Map();
let all = 0;
for (let i = 0; i < profile.samples.length; i++) {
  const us = profile.timeDeltas[i] ?? 0;
  all += us;
  if (under && !inside(profile.samples[i])) continue;
  const key = label(byId.get(profile.samples[i]));
  self.set(key, (self.get(key) ?? 0) + us);
}
const total = [...self.values()].reduce((a, b) => a + b, 0);
console.log(`${under ? `inside ${under}: ${(total / 1000).toFixed(1)} ms of ` : ''}${(all / 1000).toFixed(1)} ms sampled`);
for (const [key, us] of [...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, top)) {
  console.log(`${((us / total) * 100).toFixed(1).padStart(5)}%  ${(us / 1000).toFixed(1).padStart(8)} ms  ${key}`);
}
