import { timerDelay } from '../core/values';
import { TransportError, type HttpRequest, type HttpResponse, type Transport } from './transport';

/** A transport over WHATWG `fetch`: browsers, and any runtime that has one. */
export function createFetchTransport(fetchFn: typeof fetch): Transport {
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
        // A keep-alive request goes plain: it must start inside the page-hide handler, before an
        // asynchronous compression could finish.
        const compress = request.compression === 'gzip' && request.body !== undefined && !request.keepalive && typeof CompressionStream === 'function';
        const response = await Promise.race([
          fetchFn(request.url, {
            method: request.method,
            headers: compress ? { ...request.headers, 'content-encoding': 'gzip' } : request.headers,
            body: compress ? await gzip(request.body!) : request.body,
            keepalive: request.keepalive,
            signal: controller.signal,
            credentials: 'omit',
          }),
          aborted,
        ]);
        const body = await Promise.race([response.text(), aborted]);
        return { status: response.status, header: (name) => response.headers.get(name) ?? undefined, body };
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

/** The body gzip-compressed with the platform's CompressionStream. */
function gzip(text: string): Promise<ArrayBuffer> {
  return new Response(new Blob([text]).stream().pipeThrough(new CompressionStream('gzip'))).arrayBuffer();
}
