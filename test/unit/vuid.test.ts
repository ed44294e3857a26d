import { describe, expect, it } from 'vitest';
import { createVuid, isVuid, loadOrCreateVuid, VUID_STORAGE_KEY } from '../../src/client/vuid';
import { memoryKeyValue } from './harness';

const uuid = () => '0123abcd-4567-4890-abcd-ef0123456789';

describe('vuid', () => {
  it('createVuid: vuid_ and the UUID without dashes, 32 characters', () => {
    expect(createVuid(uuid)).toBe('vuid_0123abcd45674890abcdef01234');
    expect(createVuid(uuid)).toHaveLength(32);
    expect(isVuid(createVuid(uuid))).toBe(true);
  });

  it('isVuid: exactly vuid_ and 27 lower-case hex digits', () => {
    expect(isVuid(`vuid_${'a'.repeat(27)}`)).toBe(true);
    for (const value of [`vuid_${'a'.repeat(26)}`, `vuid_${'a'.repeat(28)}`, `vuid_${'A'.repeat(27)}`, `vuid_${'g'.repeat(27)}`, `xvuid_${'a'.repeat(27)}`, `VUID_${'a'.repeat(27)}`, 5, null, undefined]) {
      expect(isVuid(value), String(value)).toBe(false);
    }
  });

  it('loadOrCreateVuid: a stored valid id is reused', () => {
    const storage = memoryKeyValue();
    storage.map.set(VUID_STORAGE_KEY, `vuid_${'b'.repeat(27)}`);
    expect(loadOrCreateVuid(storage, uuid)).toBe(`vuid_${'b'.repeat(27)}`);
    expect(VUID_STORAGE_KEY).toBe('optimizely-vuid');
  });

  it('loadOrCreateVuid: a missing or invalid stored id is replaced and stored', () => {
    const storage = memoryKeyValue();
    storage.map.set(VUID_STORAGE_KEY, 'garbage');
    expect(loadOrCreateVuid(storage, uuid)).toBe('vuid_0123abcd45674890abcdef01234');
    expect(storage.map.get(VUID_STORAGE_KEY)).toBe('vuid_0123abcd45674890abcdef01234');
    expect(loadOrCreateVuid(undefined, uuid)).toBe('vuid_0123abcd45674890abcdef01234');
  });
});
