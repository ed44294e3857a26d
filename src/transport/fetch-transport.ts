import { timerDelay } from '../core/values';
import { TransportError, type HttpRequest, type HttpResponse, type Transport } from './transport';

type FetchFn = typeof fetch;

/** A transport over WHATWG `fetch`: browsers, and any runtime that has one. */
export function createFetchTransport(fetchFn: FetchFn): Transport {
  const controllers = new Set<AbortController>();
  return {
    async request(request: HttpRequest): Promise<HttpResponse> {
      const controller = new AbortController();
      controllers.add(controller);
      let timedOut = false;
      // A plain timer, not AbortSignal.timeout: that one can be collected and never fire.
      const timer = setTimeout(() => {
        timedOut = true;
        controller.abort();
      }, timerDelay(request.timeoutMs));
      try {
        const response = await fetchFn(request.url, {
          method: request.method,
          headers: request.headers,
          body: request.body,
          keepalive: request.keepalive,
          signal: controller.signal,
          credentials: 'omit',
        });
        const body = await response.text();
        return { status: response.status, header: (name) => response.headers.get(name) ?? undefined, body };
      } catch (error) {
        if (timedOut) throw new TransportError('timeout', `no answer within ${request.timeoutMs} ms`);
        if (controller.signal.aborted) throw new TransportError('aborted', 'the request was aborted');
        throw new TransportError('network', (error as Error)?.message || 'network error');
      } finally {
        clearTimeout(timer);
        controllers.delete(controller);
      }
    },
    close() {
      for (const controller of controllers) controller.abort();
      controllers.clear();
    },
  };
}
