import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { promisify } from 'node:util';
import { ROOT } from './support/helpers';
// @ts-expect-error a plain .mjs script without declarations: its exports are typed where they are used
import { measure, rewrite, stale } from '../scripts/readme-figures.mjs';

// README.md's sizes come from the build (scripts/readme-figures.mjs writes them between markers): a size
// typed by hand, or left behind by a change to the code, fails here. npm test builds dist/ first.
type Figures = Record<string, string>;
const figures = measure as () => Promise<Figures>;
const rewriteFigures = rewrite as (text: string, values: Figures) => string;
const staleFigures = stale as (text: string, values: Figures) => Array<[string, string, string]>;
const readme = () => readFileSync(join(ROOT, 'README.md'), 'utf8');

describe('README.md figures', { timeout: 60_000 }, () => {
  test('every size README.md shows is the one the build measures', async () => {
    const measured = await figures();
    assert.deepEqual(staleFigures(readme(), measured), [], 'run `npm run figures` (build, then rewrite README.md)');
    assert.equal(rewriteFigures(readme(), measured), readme(), 'every figure is marked in README.md');
    assert.match(measured['umd-size']!, /^[\d,]+ B \/ [\d,]+ B$/);
  });

  test('a figure typed by hand is caught, named, and rewritten; an unknown marker or an unmarked figure is an error', async () => {
    const measured = await figures();
    const typed = readme().replace(/<!-- figure:umd-size -->[^<]*<!-- \/figure -->/, '<!-- figure:umd-size -->34,816 B / 11,996 B<!-- /figure -->');
    assert.deepEqual(staleFigures(typed, measured), [['umd-size', '34,816 B / 11,996 B', measured['umd-size']]]);
    assert.equal(rewriteFigures(typed, measured), readme());
    assert.throws(() => rewriteFigures(`${readme()}<!-- figure:nonsense -->1 B<!-- /figure -->`, measured), /unknown figure: nonsense/);
    assert.throws(() => rewriteFigures(readme().replace(/<!-- figure:worker-size -->/, '<!-- x -->'), measured), /not marked in README.md: worker-size/);
  });

  test('the script checks from the command line: exit 0 when current', async () => {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [join(ROOT, 'scripts', 'readme-figures.mjs'), '--check'], { cwd: ROOT });
    assert.equal(stdout + stderr, '');
  });
});
