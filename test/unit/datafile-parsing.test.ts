import { describe, expect, it } from 'vitest';
import { parseDatafile } from '../../src/datafile/parse-datafile';
import { segmentsFromDatafile } from '../../src/segments/segments-from-datafile';

const odp = (host: unknown, publicKey: unknown = 'pk') => ({ revision: '3', integrations: [{ key: 'odp', host, publicKey }] });

describe('parseDatafile', () => {
  it('reads revision and ODP settings from JSON text or an object; trailing slashes leave the host', () => {
    const text = JSON.stringify(odp('https://api.zaius.com//'));
    const parsed = parseDatafile(text, false);
    expect(parsed).toEqual({ revision: '3', odp: { host: 'https://api.zaius.com', publicKey: 'pk' }, odpProblem: null, json: JSON.parse(text) });
    const object = odp('https://x.test');
    expect(parseDatafile(object, false)).toMatchObject({ odp: { host: 'https://x.test' }, json: object });
  });

  it('not a datafile: a string that says why', () => {
    expect(parseDatafile('{nope', false)).toMatch(/^not valid JSON \(.+\)$/);
    for (const input of ['[]', '5', 'null', null, 7, [1]]) expect(parseDatafile(input, false)).toBe('not a JSON object');
    expect(parseDatafile({ integrations: {} }, false)).toBe('"integrations" is not an array');
    expect(parseDatafile({ integrations: null }, false)).toBe('"integrations" is not an array');
  });

  it('a getter that throws makes a bad datafile, not a crash', () => {
    const hostile = {
      get integrations(): unknown {
        throw new Error('no');
      },
    };
    expect(parseDatafile(hostile, false)).toBe('a property threw');
  });

  it('valid without a usable ODP integration: odp null and the problem', () => {
    const none = 'no ODP integration with host and publicKey';
    expect(parseDatafile({}, false)).toEqual({ revision: null, odp: null, odpProblem: none, json: {} });
    expect(parseDatafile({ revision: 5, integrations: [null, 'x', { key: 'other' }] }, false)).toMatchObject({ revision: null, odpProblem: none });
    for (const [host, key] of [[undefined, 'pk'], ['', 'pk'], ['https://x', ''], ['https://x', 5], [5, 'pk']]) {
      expect(parseDatafile(odp(host, key), false)).toMatchObject({ odp: null, odpProblem: none, revision: '3' });
    }
  });

  it('hosts: https always; http only on loopback or with allowInsecureHost; anything else refused', () => {
    const host = (h: string, allow = false) => {
      const parsed = parseDatafile(odp(h), allow);
      if (typeof parsed === 'string') throw new Error(parsed);
      return parsed;
    };
    expect(host('https://a.test').odp).not.toBeNull();
    for (const loop of ['http://localhost:1', 'http://LOCALHOST', 'http://127.0.0.1:8080', 'http://127.1.2.3', 'http://[::1]:9']) {
      expect(host(loop).odp, loop).not.toBeNull();
    }
    expect(host('http://127.0.0.10').odp).not.toBeNull();
    for (const remote of ['http://example.com', 'http://127.0.0.1.evil.com', 'http://localhost.evil.com', 'http://evil-localhost', 'http://10.0.0.1']) {
      expect(host(remote).odp, remote).toBeNull();
      expect(host(remote).odpProblem).toBe(
        `ODP host ${JSON.stringify(remote)} is not an https URL (http needs odp.allowInsecureHost)`,
      );
      expect(host(remote, true).odp, remote).not.toBeNull();
    }
    expect(host('ftp://localhost', true).odp).toBeNull();
    expect(host('not a url').odpProblem).toBe('ODP host "not a url" is not an https URL (http needs odp.allowInsecureHost)');
    expect(host('ftp://a.test', true).odpProblem).toBe('ODP host "ftp://a.test" is not an https URL (http needs odp.allowInsecureHost)');
  });
});

describe('segmentsFromDatafile', () => {
  const leaf = (value: unknown, extra: Record<string, unknown> = {}) => ({ type: 'third_party_dimension', name: 'odp.audiences', match: 'qualified', value, ...extra });

  it('collects ODP segment leaves from typedAudiences and audiences (JSON text), nested, deduplicated in first-seen order', () => {
    const datafile = {
      typedAudiences: [
        { conditions: ['and', ['or', leaf('a'), leaf('b')], ['not', leaf('a')]] },
        { conditions: leaf('c') },
      ],
      audiences: [{ conditions: JSON.stringify(['or', leaf('d'), leaf('b')]) }, { conditions: '["and", {"type": "custom_attribute"}]' }],
    };
    expect(segmentsFromDatafile(datafile)).toEqual(['a', 'b', 'c', 'd']);
  });

  it('ignores other leaves and malformed audiences', () => {
    const datafile = {
      typedAudiences: [
        null,
        'x',
        { conditions: leaf('') },
        { conditions: leaf(5) },
        { conditions: leaf('x', { type: 'custom_attribute' }) },
        { conditions: leaf('x', { name: 'other' }) },
        { conditions: leaf('x', { match: 'exact' }) },
        { conditions: null },
      ],
      audiences: [{ conditions: '{"third_party_dimension": broken' }],
    };
    expect(segmentsFromDatafile(datafile)).toEqual([]);
    expect(segmentsFromDatafile({ typedAudiences: 'no', audiences: {} })).toEqual([]);
  });

  it('a cyclic datafile object does not loop', () => {
    const cyclic: unknown[] = ['or', leaf('a')];
    cyclic.push(cyclic);
    expect(segmentsFromDatafile({ typedAudiences: [{ conditions: cyclic }] })).toEqual(['a']);
  });
});
