import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { LruCache } from '../../src/segments/lru-cache';
import { segmentsFromDatafile } from '../../src/segments/segments-from-datafile';
import { parseAnswer } from '../../src/segments/segments-fetcher';
import { readFixture } from '../support/helpers';

const odp = (value: unknown) => ({ type: 'third_party_dimension', name: 'odp.audiences', match: 'qualified', value });
const read = (name: string) => JSON.parse(readFixture(name)) as Record<string, unknown>;
describe('segments read from the datafile', { timeout: 30_000 }, () => {
  test('the real datafiles: the ODP one uses odp-segment-1..3, the decide one none', () => {
    assert.deepEqual(segmentsFromDatafile(read('real/optimizely-go-sdk-odp-datafile.json')), ['odp-segment-1', 'odp-segment-2', 'odp-segment-3']);
    assert.deepEqual(segmentsFromDatafile(read('real/optimizely-go-sdk-decide-datafile.json')), []);
    assert.deepEqual(segmentsFromDatafile(read('datafile.json')), ['has_email', 'cart_abandoner']);
  });

  test('nested and/or/not trees are walked; names are deduplicated in first-seen order', () => {
    const datafile = {
      typedAudiences: [
        { id: '1', conditions: ['and', ['not', ['or', odp('b'), odp('a')]], ['or', ['and', odp('c'), odp('b')]]] },
        { id: '2', conditions: odp('d') }, // a single leaf without an operator
        { id: '3', conditions: ['or', odp('a'), { type: 'custom_attribute', name: 'age', match: 'gt', value: 17 }] },
      ],
    };
    assert.deepEqual(segmentsFromDatafile(datafile), ['b', 'a', 'c', 'd']);
  });

  test('string conditions in audiences are read too; near misses and junk are skipped', () => {
    const datafile = {
      audiences: [
        { id: '1', conditions: JSON.stringify(['or', odp('from-string')]) },
        { id: '2', conditions: '["or", {"type": "third_party_dimension", broken' },
        { id: '3', conditions: '["or", {"match": "exact", "name": "$opt_dummy_attribute", "type": "custom_attribute", "value": "$opt_dummy_value"}]' },
      ],
      typedAudiences: [
        null,
        'text',
        { id: '4' },
        {
          id: '5',
          conditions: [
            'or',
            { ...odp('wrong-match'), match: 'exact' },
            { ...odp('wrong-name'), name: 'odp.other' },
            { ...odp('wrong-type'), type: 'custom_attribute' },
            odp(''),
            odp(42),
            odp(null),
            odp('kept'),
          ],
        },
      ],
    };
    assert.deepEqual(segmentsFromDatafile(datafile), ['kept', 'from-string']);
    assert.deepEqual(segmentsFromDatafile({}), []);
    assert.deepEqual(segmentsFromDatafile({ typedAudiences: {}, audiences: 'x' }), []);
  });

  test('a cyclic datafile object does not loop', () => {
    const conditions: unknown[] = ['or', odp('x')];
    conditions.push(conditions);
    assert.deepEqual(segmentsFromDatafile({ typedAudiences: [{ conditions }] }), ['x']);
  });

  test('LruCache: recency order, size bound, expiry on read', () => {
    let now = 0;
    const cache = new LruCache<number>(2, 100, () => now);
    cache.set('a', 1);
    cache.set('b', 2);
    assert.equal(cache.get('a'), 1);
    cache.set('c', 3); // b is the least recently used
    assert.equal(cache.get('b'), undefined);
    assert.equal(cache.get('a'), 1);
    assert.equal(cache.size, 2);
    now = 99;
    assert.equal(cache.get('c'), 3);
    now = 100;
    assert.equal(cache.get('c'), undefined);
    assert.equal(cache.size, 1);
    cache.clear();
    assert.equal(cache.size, 0);
    const forever = new LruCache<number>(1, 0, () => now);
    forever.set('a', 1);
    now = Number.MAX_SAFE_INTEGER;
    assert.equal(forever.get('a'), 1);
    const off = new LruCache<number>(0, 100);
    off.set('a', 1);
    assert.equal(off.get('a'), undefined);
  });

  test('parseAnswer: errors win over data; edges without name or state are a decode failure', () => {
    assert.deepEqual(parseAnswer('{"errors":[{"message":"m","extensions":{"classification":"InvalidIdentifierException"}}],"data":{}}'), {
      ok: false,
      reason: 'invalid identifier (ODP does not know this user)',
    });
    assert.deepEqual(parseAnswer('{"errors":[{"message":"' + 'x'.repeat(500) + '"}]}'), { ok: false, reason: `GraphQL error: ${'x'.repeat(200)}` });
    assert.deepEqual(parseAnswer('[]'), { ok: false, reason: 'the answer is not a JSON object' });
    assert.deepEqual(parseAnswer('{"data":{"customer":{"audiences":{"edges":[{"node":{"name":"a"}}]}}}}'), {
      ok: false,
      reason: 'an audience edge lacks node.name or node.state',
    });
    assert.deepEqual(parseAnswer('{"errors":[],"data":{"customer":{"audiences":{"edges":[]}}}}'), { ok: true, segments: [] });
  });
});
