/**
 * The ODP segment names a datafile's audiences use: the leaves
 * `{ "type": "third_party_dimension", "name": "odp.audiences", "match": "qualified", "value": "<segment>" }`
 * of `typedAudiences[].conditions` (and, for completeness, of `audiences[].conditions`, which hold
 * the same trees as JSON text). Nested `and`/`or`/`not` arrays are walked; names are deduplicated in
 * first-seen order. Never throws: a malformed audience contributes nothing.
 */
export function segmentsFromDatafile(datafile: Record<string, unknown>): string[] {
  const found = new Set<string>();
  try {
    for (const list of [datafile.typedAudiences, datafile.audiences]) {
      if (!Array.isArray(list)) continue;
      for (const audience of list) {
        if (typeof audience !== 'object' || audience === null) continue;
        let conditions: unknown = (audience as { conditions?: unknown }).conditions;
        if (typeof conditions === 'string') conditions = parseConditions(conditions);
        collect(conditions, found, new Set());
      }
    }
  } catch {
    // A datafile object from the host can throw when read (a getter, a proxy): what was found stands.
  }
  return [...found];
}

function parseConditions(text: string): unknown {
  // Most `audiences[].conditions` strings hold no ODP leaf: skip parsing those.
  if (!text.includes('third_party_dimension')) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function collect(node: unknown, found: Set<string>, seen: Set<object>): void {
  if (typeof node !== 'object' || node === null || seen.has(node)) return; // `seen`: a datafile given as an object may be cyclic
  seen.add(node);
  if (Array.isArray(node)) {
    for (const child of node) collect(child, found, seen);
    return;
  }
  const leaf = node as { type?: unknown; name?: unknown; match?: unknown; value?: unknown };
  if (
    leaf.type === 'third_party_dimension' &&
    leaf.name === 'odp.audiences' &&
    leaf.match === 'qualified' &&
    typeof leaf.value === 'string' &&
    leaf.value !== ''
  ) {
    found.add(leaf.value);
  }
}
