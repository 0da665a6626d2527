/**
 * A real redis-server for tests: its own port on 127.0.0.1, its own data directory in a
 * temporary directory, AOF with `appendfsync always` (what the store requires), no RDB
 * snapshots. It can be killed and started again on the same port and directory, so its
 * state survives exactly as it would in production.
 *
 * The binary comes from Debian's redis-server package (.ci/install-redis.sh). If it is
 * missing the tests fail — they do not skip.
 */

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const BINARY = process.env.REDIS_SERVER_BIN ?? 'redis-server';

/** Throws with an install hint when redis-server cannot be run. */
export function requireRedisServer(): string {
  const probe = spawnSync(BINARY, ['--version'], { encoding: 'utf8' });
  if (probe.error !== undefined || probe.status !== 0) {
    throw new Error(
      `redis-server is not installed (running "${BINARY} --version" failed: ${probe.error?.message ?? probe.stderr}). ` +
        'Install it with .ci/install-redis.sh (Debian: apt-get install -y redis-server), or set REDIS_SERVER_BIN.',
    );
  }
  return probe.stdout.trim();
}

/** A free TCP port on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/** Options of {@link startRedisServer}. */
export interface RedisServerOptions {
  /** Extra arguments, e.g. `['--appendfsync', 'everysec']` (later arguments win). */
  readonly args?: readonly string[];
  /** Use this data directory instead of a new temporary one. */
  readonly dir?: string;
  readonly port?: number;
}

export class RedisServer {
  readonly port: number;
  readonly dir: string;
  readonly #args: readonly string[];
  readonly #ownDir: boolean;
  #child: ChildProcess | undefined;

  constructor(port: number, dir: string, args: readonly string[], ownDir: boolean) {
    this.port = port;
    this.dir = dir;
    this.#args = args;
    this.#ownDir = ownDir;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  get pid(): number | undefined {
    return this.#child?.pid;
  }

  get running(): boolean {
    return this.#child !== undefined && this.#child.exitCode === null && this.#child.signalCode === null;
  }

  /** Starts the server (again, on the same port and directory); resolves once it accepts connections. */
  start(): Promise<void> {
    const args = ['--port', String(this.port), '--bind', '127.0.0.1', '--dir', this.dir, '--appendonly', 'yes', '--appendfsync', 'always', '--save', '', '--daemonize', 'no', '--logfile', '', ...this.#args];
    const child = spawn(BINARY, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.#child = child;
    running.add(child);
    child.once('exit', () => running.delete(child));
    return new Promise((resolve, reject) => {
      let log = '';
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`redis-server did not start within 10 s:\n${log}`));
      }, 10_000);
      const onData = (chunk: Buffer) => {
        log += chunk.toString();
        if (log.includes('Ready to accept connections')) {
          clearTimeout(timer);
          child.stdout!.off('data', onData);
          child.stdout!.resume();
          resolve();
        }
      };
      child.stdout!.on('data', onData);
      child.stderr!.on('data', (chunk: Buffer) => (log += chunk.toString()));
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`redis-server exited (${code ?? signal}) before it was ready:\n${log}`));
      });
    });
  }

  /** Stops the server with `signal` (SIGKILL: a crash; whatever was acknowledged is in the AOF). */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const child = this.#child;
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill(signal);
    await exited;
  }

  /** Stops the server and removes its directory (if it made it). */
  async destroy(): Promise<void> {
    await this.stop('SIGKILL');
    if (this.#ownDir) rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Starts a redis-server on a free port in a new temporary directory. */
export async function startRedisServer(options: RedisServerOptions = {}): Promise<RedisServer> {
  requireRedisServer();
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'oscore-redis-'));
  const server = new RedisServer(options.port ?? (await freePort()), dir, options.args ?? [], options.dir === undefined);
  await server.start();
  return server;
}

/** A Redis Cluster of `size` primaries (no replicas) on 127.0.0.1, made with `redis-cli --cluster create`. */
export async function startRedisCluster(size = 3, args: readonly string[] = []): Promise<RedisServer[]> {
  const nodes: RedisServer[] = [];
  try {
    for (let i = 0; i < size; i++) nodes.push(await startRedisServer({ args: ['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--cluster-node-timeout', '2000', ...args] }));
    const create = spawnSync('redis-cli', ['--cluster', 'create', ...nodes.map((n) => `127.0.0.1:${n.port}`), '--cluster-replicas', '0', '--cluster-yes'], { encoding: 'utf8', timeout: 30_000 });
    if (create.error !== undefined || create.status !== 0 || !create.stdout.includes('All 16384 slots covered')) {
      throw new Error(`redis-cli --cluster create failed (${create.error?.message ?? create.status}):\n${create.stdout}\n${create.stderr}`);
    }
    // Every node must agree that the cluster is up before clients use it.
    for (const node of nodes) {
      for (let attempt = 0; ; attempt++) {
        const info = spawnSync('redis-cli', ['-p', String(node.port), 'cluster', 'info'], { encoding: 'utf8' });
        if (info.stdout.includes('cluster_state:ok')) break;
        if (attempt > 100) throw new Error(`the cluster did not reach cluster_state:ok:\n${info.stdout}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    return nodes;
  } catch (err) {
    for (const n of nodes) await n.destroy();
    throw err;
  }
}
