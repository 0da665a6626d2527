/**
 * A real fastify server with the OSCORE plugin on 127.0.0.1, plus what tests need to
 * observe it: the requests its handlers saw, its warn/error log lines, and counters of
 * the outer traffic that reached it.
 */

import Fastify, { type FastifyInstance, type FastifyRequest, type FastifyServerOptions } from 'fastify';
import oscore, { type FastifyOscoreOptions } from '@oscore-http/fastify';
import { countTraffic, originOf, type TrafficCounter } from './oscore-peers.js';

/** What a route handler saw, recorded by {@link recordRequest}. */
export interface SeenRequest {
  readonly method: string;
  readonly url: string;
  readonly rawUrl: string;
  readonly query: unknown;
  readonly params: unknown;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly rawHeaders: string[];
  readonly body: unknown;
  readonly peer: string | undefined;
  readonly kid: string | undefined;
  readonly kidContext: string | undefined;
  readonly sequenceNumber: number | undefined;
  readonly protected: boolean;
}

/** A log line the server wrote (pino JSON). */
export type LogLine = Record<string, unknown> & { level: number; msg?: string };

export interface TestServer {
  readonly app: FastifyInstance;
  readonly origin: string;
  readonly traffic: TrafficCounter;
  /** Requests recorded by handlers, in order. */
  readonly seen: SeenRequest[];
  /** warn/error log lines. */
  readonly logs: LogLine[];
  /** Records what a handler saw; returns the record. */
  record(request: FastifyRequest): SeenRequest;
  close(): Promise<void>;
}

/**
 * Starts fastify with the OSCORE plugin. `routes` runs after the plugin is registered
 * (routes added there sit behind it); `fastifyOptions` go to the factory.
 */
export async function startFastify(
  plugin: FastifyOscoreOptions,
  routes: (app: FastifyInstance, server: Omit<TestServer, 'origin'>) => void | Promise<void>,
  fastifyOptions: FastifyServerOptions = {},
): Promise<TestServer> {
  const logs: LogLine[] = [];
  const app = Fastify({
    logger: { level: 'warn', stream: { write: (line: string) => void logs.push(JSON.parse(line) as LogLine) } },
    forceCloseConnections: true,
    ...fastifyOptions,
  });
  await app.register(oscore, plugin);
  const seen: SeenRequest[] = [];
  const record = (request: FastifyRequest): SeenRequest => {
    const entry: SeenRequest = {
      method: request.method,
      url: request.url,
      rawUrl: request.raw.url ?? '',
      query: request.query,
      params: request.params,
      headers: { ...request.headers },
      rawHeaders: [...request.raw.rawHeaders],
      body: request.body,
      peer: request.oscore?.peer,
      kid: request.oscore?.kid,
      kidContext: request.oscore?.kidContext,
      sequenceNumber: request.oscore?.sequenceNumber,
      protected: request.oscore !== null,
    };
    seen.push(entry);
    return entry;
  };
  // The traffic counter is attached after listen: the plugin replaced the request listeners at registration.
  let traffic: TrafficCounter | undefined;
  const partial = {
    app,
    seen,
    logs,
    record,
    get traffic() {
      return traffic!;
    },
    close: () => app.close(),
  };
  await routes(app, partial);
  await app.listen({ port: 0, host: '127.0.0.1' });
  traffic = countTraffic(app.server);
  return Object.assign(partial, { origin: originOf(app.server) }) as TestServer;
}
