/**
 * Test support: a real nginx (Debian's package) as a reverse proxy in front of a local
 * server, started as a child process with a generated configuration in a temporary
 * directory, and configured to log everything it sees of each exchange.
 *
 * What is logged, and how (one record per request, written at the end of the request):
 *
 *  - the request line (`$request`: method, outer target, protocol) and status;
 *  - every request header as received, names and values, in order: njs `r.rawHeadersIn`
 *    (plus `$content_type`, `$content_length`, `$http_oscore` on their own);
 *  - the request body: `$request_body`, filled because `proxy_pass` reads the body and
 *    `client_body_buffer_size` / `client_body_in_single_buffer` keep it in one memory buffer;
 *  - every response header sent to the client: njs `r.rawHeadersOut`, plus
 *    `$sent_http_content_type`, `$sent_http_content_length`, `$sent_http_oscore`;
 *  - the response body: nginx core cannot log it, so an njs body filter
 *    (`js_body_filter`, Debian package libnginx-mod-http-js) appends every chunk, as hex,
 *    to an njs variable (`js_var $oscore_resp_body_hex`) that the log format prints.
 *
 * The same record goes to three access logs that differ only in nginx's escaping:
 * `access.log` (`escape=default`: bytes outside printable ASCII, `"` and `\` as `\xHH`),
 * `access.json.log` (`escape=json`, one JSON object a line) and `access.raw.log`
 * (`escape=none`: the bytes as they were). The error log is written at `debug` level
 * (Debian builds nginx `--with-debug`), which adds every header line nginx parsed and
 * every header it sent upstream.
 */

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { accessSync, constants, chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';

/** How to get nginx when it is missing (the same as .ci/install-nginx.sh does). */
export const NGINX_INSTALL_HINT =
  'Install Debian\'s nginx and its njs module: run `.ci/install-nginx.sh` (as root, or with sudo), ' +
  'or `apt-get install -y nginx libnginx-mod-http-js`. Set NGINX_BIN to use another nginx binary.';

/** The nginx binary: $NGINX_BIN, else `nginx` on PATH, else /usr/sbin/nginx (not on a normal user's PATH on Debian). */
export function findNginx(): string | undefined {
  const candidates = [process.env.NGINX_BIN, ...(process.env.PATH ?? '').split(delimiter).filter(Boolean).map((d) => join(d, 'nginx')), '/usr/sbin/nginx'];
  for (const candidate of candidates) {
    if (candidate === undefined || candidate === '') continue;
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // next
    }
  }
  return undefined;
}

/** `nginx -V` output and the directory of dynamic modules it was built for. */
export function nginxBuildInfo(bin: string): { version: string; modulesPath: string; configure: string } {
  const out = spawnSync(bin, ['-V'], { encoding: 'utf8' });
  if (out.error) throw out.error;
  const text = `${out.stdout}${out.stderr}`;
  const version = /nginx version: (\S+)/.exec(text)?.[1] ?? 'unknown';
  const modulesPath = /--modules-path=(\S+)/.exec(text)?.[1] ?? '/usr/lib/nginx/modules';
  return { version, modulesPath, configure: text };
}

/** A TCP port that was free a moment ago on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The njs module: header serialisation at log time and the response-body capture filter. */
const NJS_MODULE = `
// Every request header as received, in order: [[name, value], ...].
function requestHeaders(r) {
  return JSON.stringify(r.rawHeadersIn);
}

// Every response header nginx sends to the client, in order.
function responseHeaders(r) {
  return JSON.stringify(r.rawHeadersOut);
}

// Body filter: passes each chunk on unchanged and appends it, hex-encoded, to $oscore_resp_body_hex.
function captureResponseBody(r, data, flags) {
  r.variables.oscore_resp_body_hex = r.variables.oscore_resp_body_hex + data.toString('hex');
  r.sendBuffer(data, flags);
}

export default { requestHeaders, responseHeaders, captureResponseBody };
`;

/** The fields of a log record, in order. Every value is double-quoted. */
export const LOG_FIELDS = [
  'time',
  'client',
  'request',
  'status',
  'upstream_status',
  'req_content_type',
  'req_content_length',
  'req_oscore',
  'req_headers',
  'req_body',
  'resp_content_type',
  'resp_content_length',
  'resp_oscore',
  'resp_headers',
  'resp_body_hex',
] as const;

const LOG_VARIABLES: Record<(typeof LOG_FIELDS)[number], string> = {
  time: '$time_iso8601',
  client: '$remote_addr',
  request: '$request',
  status: '$status',
  upstream_status: '$upstream_status',
  req_content_type: '$content_type',
  req_content_length: '$content_length',
  req_oscore: '$http_oscore',
  req_headers: '$oscore_req_headers',
  req_body: '$request_body',
  resp_content_type: '$sent_http_content_type',
  resp_content_length: '$sent_http_content_length',
  resp_oscore: '$sent_http_oscore',
  resp_headers: '$oscore_resp_headers',
  resp_body_hex: '$oscore_resp_body_hex',
};

function nginxConfig(dir: string, modulesPath: string, listenPort: number, upstreamPort: number): string {
  const plain = LOG_FIELDS.map((f) => `${f}="${LOG_VARIABLES[f]}"`).join(' ');
  const json = `{${LOG_FIELDS.map((f) => `"${f}":"${LOG_VARIABLES[f]}"`).join(',')}}`;
  const asRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  return `# Generated by packages/fastify/test/proxy/nginx.ts for one test run.
load_module ${join(modulesPath, 'ngx_http_js_module.so')};
${asRoot ? 'user root;\n' : ''}worker_processes 1;
pid ${join(dir, 'nginx.pid')};
error_log ${join(dir, 'logs', 'error.log')} debug;

events {
  worker_connections 256;
}

http {
  default_type application/octet-stream;
  client_body_temp_path ${join(dir, 'temp', 'client_body')};
  proxy_temp_path ${join(dir, 'temp', 'proxy')};
  fastcgi_temp_path ${join(dir, 'temp', 'fastcgi')};
  uwsgi_temp_path ${join(dir, 'temp', 'uwsgi')};
  scgi_temp_path ${join(dir, 'temp', 'scgi')};

  # Keep whole request bodies in one memory buffer, so $request_body is complete.
  client_max_body_size 4m;
  client_body_buffer_size 4m;
  client_body_in_single_buffer on;

  js_path ${dir};
  js_import oscore_log from oscore-log.js;
  js_set $oscore_req_headers oscore_log.requestHeaders;
  js_set $oscore_resp_headers oscore_log.responseHeaders;
  js_var $oscore_resp_body_hex "";

  log_format oscore_full '${plain}';
  log_format oscore_json escape=json '${json}';
  log_format oscore_raw escape=none '${plain}';
  access_log ${join(dir, 'logs', 'access.log')} oscore_full;
  access_log ${join(dir, 'logs', 'access.json.log')} oscore_json;
  access_log ${join(dir, 'logs', 'access.raw.log')} oscore_raw;

  upstream app {
    server 127.0.0.1:${upstreamPort};
    keepalive 8;
  }

  server {
    listen 127.0.0.1:${listenPort};
    server_name localhost;

    location / {
      js_body_filter oscore_log.captureResponseBody buffer_type=buffer;
      proxy_pass http://app;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $http_host;
      proxy_set_header X-Real-IP $remote_addr;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;
    }
  }
}
`;
}

/** The files nginx wrote. */
export interface NginxLogs {
  readonly access: Buffer;
  readonly accessJson: Buffer;
  readonly accessRaw: Buffer;
  readonly error: Buffer;
}

/** A running nginx. */
export class NginxProxy {
  readonly port: number;
  readonly dir: string;
  readonly version: string;
  readonly #child: ChildProcess;
  readonly #exited: Promise<void>;
  #output = '';
  #stopped = false;
  readonly #onExit = () => this.#child.kill('SIGKILL');

  private constructor(child: ChildProcess, port: number, dir: string, version: string) {
    this.#child = child;
    this.port = port;
    this.dir = dir;
    this.version = version;
    child.stdout?.on('data', (d: Buffer) => (this.#output += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (this.#output += d.toString()));
    this.#exited = new Promise((resolve) => child.once('exit', () => resolve()));
    // If the test process dies, do not leave nginx behind.
    process.once('exit', this.#onExit);
  }

  /** `http://127.0.0.1:<port>` */
  get origin(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** What nginx printed on stdout/stderr. */
  get output(): string {
    return this.#output;
  }

  /**
   * Starts nginx in front of `127.0.0.1:<upstreamPort>`.
   * @throws Error with {@link NGINX_INSTALL_HINT} if nginx or its njs module is not installed.
   */
  static async start(upstreamPort: number): Promise<NginxProxy> {
    const bin = findNginx();
    if (bin === undefined) throw new Error(`nginx is not installed (not on PATH, not /usr/sbin/nginx). ${NGINX_INSTALL_HINT}`);
    const { version, modulesPath } = nginxBuildInfo(bin);
    if (!existsSync(join(modulesPath, 'ngx_http_js_module.so'))) {
      throw new Error(`${version} is installed but its njs module is not (${join(modulesPath, 'ngx_http_js_module.so')} is missing). ${NGINX_INSTALL_HINT}`);
    }
    let lastError: unknown;
    for (let attempt = 0; attempt < 3; attempt++) {
      const dir = mkdtempSync(join(tmpdir(), 'oscore-nginx-'));
      // Worker processes (another user when started as root) read the njs file.
      chmodSync(dir, 0o755);
      for (const sub of ['logs', 'temp']) mkdirSync(join(dir, sub));
      const port = await freePort();
      writeFileSync(join(dir, 'oscore-log.js'), NJS_MODULE);
      writeFileSync(join(dir, 'nginx.conf'), nginxConfig(dir, modulesPath, port, upstreamPort));
      const test = spawnSync(bin, ['-t', '-p', `${dir}/`, '-c', join(dir, 'nginx.conf'), '-e', join(dir, 'logs', 'startup.log')], { encoding: 'utf8' });
      if (test.status !== 0) {
        rmSync(dir, { recursive: true, force: true });
        throw new Error(`nginx -t rejected the generated configuration:\n${test.stdout}${test.stderr}`);
      }
      const child = spawn(bin, ['-p', `${dir}/`, '-c', join(dir, 'nginx.conf'), '-e', join(dir, 'logs', 'startup.log'), '-g', 'daemon off;'], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const proxy = new NginxProxy(child, port, dir, version);
      let exited = false;
      void proxy.#exited.then(() => (exited = true));
      const deadline = Date.now() + 10_000;
      while (!exited && Date.now() < deadline) {
        if (await canConnect(port)) return proxy;
        await sleep(50);
      }
      await proxy.stop();
      const logs = proxy.logs();
      const problems = `${logs.error.toString('utf8')}`.split('\n').filter((l) => /\[(emerg|alert|crit)\]/.test(l));
      lastError = new Error(`nginx did not start listening on 127.0.0.1:${port}:\n${proxy.output}${problems.join('\n')}`);
      proxy.remove();
      if (!/Address already in use/.test(String(lastError))) break;
    }
    throw lastError;
  }

  /** Stops nginx (graceful, then forced) and waits for it to exit; the logs are complete afterwards. */
  async stop(): Promise<void> {
    if (this.#stopped) return this.#exited;
    this.#stopped = true;
    process.removeListener('exit', this.#onExit);
    if (this.#child.exitCode !== null || this.#child.signalCode !== null) return;
    this.#child.kill('SIGQUIT');
    const timer = setTimeout(() => this.#child.kill('SIGTERM'), 3_000);
    const killer = setTimeout(() => this.#child.kill('SIGKILL'), 6_000);
    await this.#exited;
    clearTimeout(timer);
    clearTimeout(killer);
  }

  /** Reads every log file. */
  logs(): NginxLogs {
    const read = (name: string) => (existsSync(join(this.dir, 'logs', name)) ? readFileSync(join(this.dir, 'logs', name)) : Buffer.alloc(0));
    return { access: read('access.log'), accessJson: read('access.json.log'), accessRaw: read('access.raw.log'), error: Buffer.concat([read('startup.log'), read('error.log')]) };
  }

  /** Deletes the temporary directory (after {@link stop}). */
  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Reverses nginx's default log escaping: `\xHH` → the byte; everything else is literal. */
export function unescapeNginx(text: string): Buffer {
  const out: number[] = [];
  for (let i = 0; i < text.length; i++) {
    if (text[i] === '\\' && text[i + 1] === 'x' && /^[0-9A-Fa-f]{2}$/.test(text.slice(i + 2, i + 4))) {
      out.push(parseInt(text.slice(i + 2, i + 4), 16));
      i += 3;
    } else {
      out.push(text.charCodeAt(i) & 0xff);
    }
  }
  return Buffer.from(out);
}

/** One record of `access.log` (escape=default), each field unescaped to its bytes. */
export type NginxLogRecord = Record<(typeof LOG_FIELDS)[number], Buffer>;

/** Parses `access.log` (escape=default): one line per request, `field="value"` pairs; a `"` inside a value is always escaped. */
export function parseAccessLog(log: Buffer): NginxLogRecord[] {
  const records: NginxLogRecord[] = [];
  for (const line of log.toString('latin1').split('\n')) {
    if (line.trim() === '') continue;
    const record: Partial<NginxLogRecord> = {};
    const re = /([a-z_]+)="([^"]*)"/g;
    for (let m = re.exec(line); m !== null; m = re.exec(line)) record[m[1] as (typeof LOG_FIELDS)[number]] = unescapeNginx(m[2]!);
    for (const f of LOG_FIELDS) if (record[f] === undefined) throw new Error(`access.log record without ${f}: ${line.slice(0, 200)}`);
    records.push(record as NginxLogRecord);
  }
  return records;
}

/** Parses `access.json.log` (escape=json). nginx leaves bytes ≥ 0x80 unescaped, so the file is read as latin1 and values turned back into bytes. */
export function parseJsonLog(log: Buffer): NginxLogRecord[] {
  return log
    .toString('latin1')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => {
      const parsed = JSON.parse(line) as Record<string, string>;
      const record: Partial<NginxLogRecord> = {};
      for (const f of LOG_FIELDS) record[f] = Buffer.from(parsed[f] ?? '', 'latin1');
      return record as NginxLogRecord;
    });
}
