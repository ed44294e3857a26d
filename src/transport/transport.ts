/** One HTTP exchange, as the dispatcher and the datafile manager need it. */
export interface HttpRequest {
  method: 'GET' | 'POST';
  url: string;
  headers: Record<string, string>;
  body?: string;
  timeoutMs: number;
  /** Browsers: let the request outlive the page (page hide). */
  keepalive?: boolean;
  /** `'gzip'`: the transport compresses the body and sends `Content-Encoding: gzip` (where it can). */
  compression?: 'gzip' | 'none';
}

export interface HttpResponse {
  status: number;
  /** A response header by lower-case name. */
  header(name: string): string | undefined;
  body: string;
}

/** Sends requests; platform adapters provide one. */
export interface Transport {
  /** Resolves with any HTTP answer; rejects with a {@link TransportError} when there is none. */
  request(request: HttpRequest): Promise<HttpResponse>;
  /** Aborts requests in flight and releases sockets. */
  close(): void;
}

/** No HTTP answer: the network failed, the request timed out, or the transport was closed. */
export class TransportError extends Error {
  constructor(
    readonly kind: 'network' | 'timeout' | 'aborted',
    message: string,
  ) {
    super(message);
    this.name = 'TransportError';
  }
}
