/**
 * Process management for bench/http.mjs and bench/http/profile.mjs: the HTTPS
 * certificate, CPU pinning, server/load-generator child pairs and one measured cell.
 */

import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { MODES } from './common.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));

/** `taskset` usable on this machine (present and allowed to set affinity)? */
export function tasksetStatus() {
  try {
    execFileSync('taskset', ['-c', '0', 'true'], { stdio: 'ignore' });
    if (os.cpus().length < 2) return { ok: false, why: 'fewer than 2 CPUs' };
    return { ok: true, why: 'taskset available' };
  } catch (err) {
    return { ok: false, why: err.code === 'ENOENT' ? 'taskset not found (apt-get install util-linux)' : `taskset failed: ${err.message}` };
  }
}

/** The openssl CLI version, or undefined. */
export function opensslCli() {
  try {
    return execFileSync('openssl', ['version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return undefined;
  }
}

/**
 * A self-signed P-256 certificate for localhost/127.0.0.1 in a fresh temporary directory
 * (never in the repository). Returns `{ dir, key, cert, cleanup }` or undefined without openssl.
 */
export function makeCertificate() {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'oscore-http-bench-'));
  const key = path.join(dir, 'key.pem');
  const cert = path.join(dir, 'cert.pem');
  try {
    execFileSync(
      'openssl',
      [
        'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
        '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=localhost',
        '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1',
      ],
      { stdio: 'ignore' },
    );
  } catch {
    rmSync(dir, { recursive: true, force: true });
    return undefined;
  }
  return { dir, key, cert, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * A fresh, private OSCORE state directory for one child (the file state store locks its
 * directory per process; the default `.oscore-state` in the working directory would be
 * shared by server and client and land in the repository). Removed when the child exits.
 */
function privateStateDir(label) {
  return mkdtempSync(path.join(os.tmpdir(), `oscore-http-bench-state-${label}-`));
}

/** A child speaking the bench IPC protocol: `request(msg)` resolves with the reply of the same id. */
class Child {
  #proc;
  #pending = new Map();
  #listeners = [];
  #seq = 0;
  #exited = false;

  constructor(name, proc, cleanup = () => {}) {
    this.name = name;
    this.#proc = proc;
    proc.once('exit', cleanup);
    proc.on('message', (msg) => {
      for (const l of this.#listeners) l(msg);
      if (msg.id !== undefined && this.#pending.has(msg.id) && msg.type !== 'mark') {
        const { resolve, reject } = this.#pending.get(msg.id);
        this.#pending.delete(msg.id);
        if (msg.type === 'error') reject(new Error(`${name}: ${msg.message}`));
        else resolve(msg);
      }
    });
    proc.on('exit', (code, signal) => {
      this.#exited = true;
      const err = new Error(`${name} exited (code ${code}, signal ${signal})`);
      for (const { reject } of this.#pending.values()) reject(err);
      this.#pending.clear();
    });
  }

  get pid() {
    return this.#proc.pid;
  }

  /** Waits for the first message of `type` (e.g. 'ready'). */
  waitFor(type, timeoutMs = 30_000) {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${this.name}: no '${type}' within ${timeoutMs} ms`)), timeoutMs);
      const onExit = (code) => {
        clearTimeout(timer);
        reject(new Error(`${this.name} exited (code ${code}) before '${type}'`));
      };
      this.#proc.once('exit', onExit);
      const l = (msg) => {
        if (msg.type === type || msg.type === 'error') {
          this.#listeners.splice(this.#listeners.indexOf(l), 1);
          clearTimeout(timer);
          this.#proc.off('exit', onExit);
          if (msg.type === 'error') reject(new Error(`${this.name}: ${msg.message}`));
          else resolve(msg);
        }
      };
      this.#listeners.push(l);
    });
  }

  onMessage(listener) {
    this.#listeners.push(listener);
    return () => this.#listeners.splice(this.#listeners.indexOf(listener), 1);
  }

  send(msg) {
    this.#proc.send(msg);
  }

  request(msg) {
    const id = `${this.name}#${++this.#seq}`;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.#proc.send({ ...msg, id });
    });
  }

  async exit() {
    if (this.#exited) return;
    const done = new Promise((r) => this.#proc.once('exit', r));
    try {
      this.#proc.send({ cmd: 'exit' });
    } catch {
      /* already gone */
    }
    const timer = setTimeout(() => this.#proc.kill('SIGKILL'), 3000);
    await done;
    clearTimeout(timer);
  }
}

/** Spawns a node script pinned to `core` (or unpinned), with an IPC channel. */
function spawnNode(name, script, args, { core, pin, env, nodeArgs = [] }) {
  const argv = [...nodeArgs, script, ...args];
  const stateDir = privateStateDir(name.replace(/[^a-z0-9-]/gi, '_'));
  env = { OSCORE_STATE_DIR: stateDir, ...env };
  const [cmd, cmdArgs] = pin ? ['taskset', ['-c', String(core), process.execPath, ...argv]] : [process.execPath, argv];
  // taskset execs node in place, so node finds the IPC channel (NODE_CHANNEL_FD) as if forked.
  const proc = spawn(cmd, cmdArgs, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], env: { ...process.env, ...env } });
  return new Child(name, proc, () => rmSync(stateDir, { recursive: true, force: true }));
}

/**
 * Starts the server (core `serverCore`) and load generator (core `clientCore`) of a mode.
 * @returns `{ mode, server, client, origin }`
 */
export async function startPair(mode, { pin, serverCore = 0, clientCore = 1, tls, connections, serverNodeArgs = [], serverScript = path.join(here, 'server.mjs'), serverEnv = {}, env: commonEnv = {}, baseline }) {
  const spec = MODES[mode];
  if (spec.baseline) {
    if (baseline === undefined) throw new Error(`mode ${mode} needs --baseline <dir>`);
    commonEnv = { ...commonEnv, BENCH_OSCORE_ROOT: baseline };
  }
  const env = { ...commonEnv, ...(spec.tls ? { BENCH_TLS_KEY: tls.key, BENCH_TLS_CERT: tls.cert } : {}), ...serverEnv };
  const server = spawnNode(`server[${mode}]`, serverScript, [mode], { core: serverCore, pin, env, nodeArgs: serverNodeArgs });
  const { port } = await server.waitFor('ready');
  const origin = `${spec.tls ? 'https' : 'http'}://127.0.0.1:${port}`;
  const client = spawnNode(`client[${mode}]`, path.join(here, 'load.mjs'), [], { core: clientCore, pin, env: { ...commonEnv } });
  const ready = client.waitFor('ready');
  client.send({ cmd: 'init', mode, origin, connections, caFile: tls?.cert });
  await ready;
  return { mode, server, client, origin };
}

/**
 * Runs one cell: warm-up, then a measured window during which the server's CPU time and
 * request count are snapshotted at the client's start and end marks.
 */
export async function runCell(pair, { size, warmupMs, durationMs, concurrency }) {
  const snaps = {};
  const snapPromises = [];
  let runId;
  const off = pair.client.onMessage((msg) => {
    if (msg.type === 'mark' && msg.id === runId) {
      snapPromises.push(pair.server.request({ cmd: 'stats' }).then((s) => (snaps[msg.which] = s)));
    }
  });
  try {
    const resultPromise = new Promise((resolve, reject) => {
      const offResult = pair.client.onMessage((msg) => {
        if (msg.id !== runId) return;
        if (msg.type === 'result') {
          offResult();
          resolve(msg);
        } else if (msg.type === 'error') {
          offResult();
          reject(new Error(`${pair.client.name}: ${msg.message}`));
        }
      });
    });
    runId = `run-${pair.mode}-${size}-${Date.now()}-${Math.random().toString(36).slice(2, 8)}`;
    pair.client.send({ cmd: 'run', id: runId, size, warmupMs, durationMs, concurrency });
    const result = await resultPromise;
    await Promise.all(snapPromises);
    const a = snaps.start;
    const b = snaps.end;
    const serverCpuUs = b.cpu.user - a.cpu.user + (b.cpu.system - a.cpu.system);
    const serverRequests = b.requests - a.requests;
    const serverSeconds = (b.ns - a.ns) / 1e9;
    return {
      ...result,
      mode: pair.mode,
      serverRequests,
      serverSeconds,
      serverCpuUs: { user: b.cpu.user - a.cpu.user, system: b.cpu.system - a.cpu.system },
      serverCpuUsPerReq: serverCpuUs / serverRequests,
      serverUtil: serverCpuUs / 1e6 / serverSeconds,
      serverGcUsPerReq: ((b.gc.ms - a.gc.ms) * 1000) / serverRequests,
      serverMajorGcs: b.gc.major - a.gc.major,
    };
  } finally {
    off();
  }
}
