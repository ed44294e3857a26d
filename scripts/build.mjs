// One build: tsc (type-checked ESM + declarations into build/), then rollup into dist/.
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';

const run = (bin, args) => execFileSync(process.execPath, [bin, ...args], { stdio: 'inherit' });
rmSync('build', { recursive: true, force: true });
rmSync('dist', { recursive: true, force: true });
run('node_modules/typescript/bin/tsc', ['-p', 'tsconfig.build.json']);
run('node_modules/rollup/dist/bin/rollup', ['-c', 'rollup.config.mjs', '--silent']);
