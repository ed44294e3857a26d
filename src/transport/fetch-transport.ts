import { timerDelay } from '../core/values';
import { TransportError, type HttpRequest, type HttpResponse, type Transport } from './transport';

/**
 * A transport over WHATWG `fetch`: browsers, and any runtime that has one. Without `fetchFn`, the
 * global `fetch` as it is at each request (a test or the host may replace it after the SDK loaded).
 */
export function createFetchTransport(fetchFn?: typeof fetch): Transport {
  /** How to stop each request in flight, and with what error. */
  const inFlight = new Set<(error: TransportError) => void>();
  return {
    async request(request: HttpRequest): Promise<HttpResponse> {
      const controller = new AbortController();
      let failure: TransportError | undefined;
      const stop = (error: TransportError) => {
        failure ??= error;
        controller.abort();
      };
      // An abort ends the request even where fetch never settles: Firefox leaves a request that was
      // in flight as the page entered the back/forward cache pending for ever after the restore.
      const aborted = new Promise<never>((_, reject) => controller.signal.addEventListener('abort', reject));
      aborted.catch(() => {}); // settled or not, never an unhandled rejection
      inFlight.add(stop);
      // A plain timer, not AbortSignal.timeout: that one can be collected and never fire.
      const timer = setTimeout(() => stop(new TransportError('timeout', `no answer within ${request.timeoutMs} ms`)), timerDelay(request.timeoutMs));
      try {
        let headers = request.headers;
        let body: BodyInit | undefined = request.body;
        // A keep-alive request goes plain: it must start inside the page-hide handler, before an
        // asynchronous compression could finish.
        if (request.compression === 'gzip' && request.body && !request.keepalive && typeof CompressionStream === 'function') {
          headers = { ...headers, 'content-encoding': 'gzip' };
          body = await new Response(new Blob([request.body]).stream().pipeThrough(new CompressionStream('gzip'))).arrayBuffer();
        }
        const response = await Promise.race([
          (fetchFn ?? fetch)(request.url, {
            method: request.method,
            headers,
            body,
            keepalive: request.keepalive,
            signal: controller.signal,
            credentials: 'omit',
          }),
          aborted,
        ]);
        const text = await Promise.race([response.text(), aborted]);
        return { status: response.status, header: (name) => response.headers.get(name) ?? undefined, body: text };
      } catch (error) {
        // Stopped (timed out, closed), or no answer.
        throw failure ?? new TransportError('network', (error as Error)?.message || 'network error');
      } finally {
        clearTimeout(timer);
        inFlight.delete(stop);
      }
    },
    close() {
      for (const stop of inFlight) stop(new TransportError('aborted', 'request aborted'));
      inFlight.clear();
    },
  };
}
