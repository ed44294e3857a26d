import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { utf8Length } from '../src/core/values';
describe('utf8Length', { timeout: 30_000 }, () => {
  test('utf8Length agrees with Buffer.byteLength: ASCII, 2- and 3-byte characters, surrogate pairs, lone surrogates', () => {
    const samples = ['', 'plain ascii', 'héllo', '€uro', '日本語', '🎉', 'a🎉b🎉', '\u{10FFFF}', '\ud800', 'x\udc00y', '\ud83d', JSON.stringify({ e: '🎉'.repeat(50) })];
    for (const text of samples) assert.equal(utf8Length(text), Buffer.byteLength(text, 'utf8'), JSON.stringify(text));
  });
});
