import { startCollector, type Collector, type CollectorOptions } from '../../collector/src/collector';
import { createInstance, type OdpClient } from '../../src/index';
import type { OdpClientConfig } from '../../src/types';
import { captureLogger, fixtureDatafile, type CapturedLogger } from '../support/helpers';

export interface Rig {
  collector: Collector;
  client: OdpClient;
  logger: CapturedLogger;
}

/**
 * Starts a collector and a client whose datafile points ODP at it, runs fn, and always closes both.
 * The client is ready at once (the datafile is given directly) unless `config` says otherwise.
 */
export async function withRig(
  options: { collector?: CollectorOptions; client?: OdpClientConfig },
  fn: (rig: Rig) => Promise<void>,
): Promise<void> {
  const collector = await startCollector(options.collector ?? {});
  const logger = captureLogger();
  let client: OdpClient | undefined;
  try {
    client = createInstance({ datafile: fixtureDatafile(collector.url), logger, logLevel: 'debug', ...options.client });
    await fn({ collector, client, logger });
  } finally {
    await client?.close({ timeoutMs: 1000 });
    await collector.close();
  }
}

/** The body of the n-th graphql request the collector received. */
export function graphqlBody(collector: Collector, n = 0): { query: string; variables: { userId: string; audiences: string[] } } {
  const seen = collector.graphql[n];
  if (!seen) throw new Error(`the collector received ${collector.graphql.length} graphql request(s), not ${n + 1}`);
  return JSON.parse(seen.body) as { query: string; variables: { userId: string; audiences: string[] } };
}
