#!/usr/bin/env node
// The oscore-http demo: an orders service, a shop calling it, and an untrusted logging proxy
// between them. For every exchange it prints, side by side, what the proxy saw and what the
// two services saw after OSCORE verification; then a replay attempt by the proxy. 100
// columns wide, or the terminal's width down to 80 (COLUMNS when not a terminal); no colour
// unless a terminal (and NO_COLOR unset).
//
//     npm run demo                                    (from the repository root)
//     node examples/demo/demo.mjs --capture-dir capture
//
// Everything is embedded: a random Master Secret and Salt per run, a temporary state
// directory per run (deleted at exit), services on 127.0.0.1 only. --capture-dir also
// writes each exchange as the proxy saw it (raw HTTP/1.1) and both context files, so that
//     oscore-http inspect --context capture/orders.contexts.json capture/01-create-order.request.http
// decrypts a captured message.
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { STATUS_CODES } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createContextSet } from '@oscore-http/http';
import { startLoggingProxy, toRawHttp } from './logging-proxy.mjs';
import { createOrdersService } from './orders-service.mjs';
import { createShop } from './shop.mjs';

const { values: options } = parseArgs({ options: { 'capture-dir': { type: 'string' }, help: { type: 'boolean', short: 'h' } } });
if (options.help) {
  console.log('Usage: node examples/demo/demo.mjs [--capture-dir <dir>]');
  process.exit(0);
}

// ---------------------------------------------------------------------------------------
// Output: two columns, left what the proxy saw, right what the services saw. 100 columns,
// or the terminal's width (COLUMNS when not a terminal) down to 80.
// ---------------------------------------------------------------------------------------

const WIDTH = Math.min(100, Math.max(80, (process.stdout.isTTY ? process.stdout.columns : Number(process.env.COLUMNS)) || 100));
const GAP = 2;
const LEFT = Math.floor(((WIDTH - GAP) * 46) / 98);
const RIGHT = WIDTH - GAP - LEFT;
/** Bytes per hex line: four groups of 8 digits where the left column has room, else three. */
const HEX_BYTES = LEFT >= 37 ? 16 : 12;
const colour = process.stdout.isTTY === true && !process.env.NO_COLOR;
const style = (code, text) => (colour ? `\x1b[${code}m${text}\x1b[0m` : text);
const bold = (text) => style('1', text);

/** Wraps a line to `width`, at a space or after a comma or semicolon where it can; continuation lines indented. */
function wrap(line, width) {
  const indent = ' '.repeat(Math.min(line.length - line.trimStart().length + 4, 12));
  const out = [];
  let rest = line;
  while (rest.length > width) {
    const room = out.length === 0 ? width : width - indent.length;
    const cut = Math.max(rest.lastIndexOf(' ', room), rest.lastIndexOf(',', room - 1) + 1, rest.lastIndexOf(';', room - 1) + 1);
    const at = cut > room / 3 ? cut : room;
    out.push((out.length === 0 ? '' : indent) + rest.slice(0, at).trimEnd());
    rest = rest.slice(at).trimStart();
  }
  out.push((out.length === 0 ? '' : indent) + rest);
  return out;
}

function sideBySide(left, right) {
  const l = left.flatMap((line) => wrap(line, LEFT));
  const r = right.flatMap((line) => wrap(line, RIGHT));
  for (let i = 0; i < Math.max(l.length, r.length); i++) console.log(((l[i] ?? '').padEnd(LEFT + GAP) + (r[i] ?? '')).trimEnd());
  console.log();
}

function hexLines(bytes, max = 2) {
  const lines = [];
  for (let i = 0; i < Math.min(bytes.length, HEX_BYTES * max); i += HEX_BYTES) {
    lines.push('  ' + (bytes.subarray(i, i + HEX_BYTES).toString('hex').match(/.{1,8}/g) ?? []).join(' '));
  }
  if (bytes.length > HEX_BYTES * max) lines.push(`  … ${bytes.length - HEX_BYTES * max} more bytes`);
  return lines;
}

/** Prints text as a paragraph indented by two, filled to the output width. */
function paragraph(text) {
  let line = '';
  for (const word of text.split(' ')) {
    if (line !== '' && 2 + line.length + 1 + word.length > WIDTH) {
      console.log(`  ${line}`);
      line = word;
    } else line = line === '' ? word : `${line} ${word}`;
  }
  if (line !== '') console.log(`  ${line}`);
}

/** Prints a full-width line, wrapped to the output width. */
function say(line = '', decorate = (text) => text) {
  for (const part of wrap(line, WIDTH)) console.log(decorate(part));
}

const isPrintable = (bytes) => /^[\x20-\x7e\t\r\n]*$/.test(bytes.toString('latin1'));

/** The body as the application would read it: JSON pretty-printed, text quoted, else printable preview. */
function bodyLines(bytes, contentType = '') {
  if (bytes.length === 0) return [];
  if (/json/.test(contentType)) {
    try {
      return JSON.stringify(JSON.parse(bytes.toString('utf8')), null, 2).split('\n');
    } catch {
      // not JSON after all: show it as bytes below
    }
  }
  const text = bytes.toString('latin1').replace(/[^\x20-\x7e\n]/g, '.');
  const lines = text.replace(/\n$/, '').split('\n').slice(0, 6).map((line) => `> ${line}`);
  return [`body: ${bytes.length} bytes (${contentType || 'no type'})`, ...lines];
}

/** What the proxy printed for one outer request or response: start line, every header, the body. */
function outerLines(startLine, headers, body) {
  const type = headers.find(([n]) => n.toLowerCase() === 'content-type')?.[1] ?? '';
  const lines = [startLine, ...headers.map(([n, v]) => `${n}: ${v}`)];
  if (body.length === 0) return lines;
  // Ciphertext is shown as hex; an unprotected error (text/plain) as the text it is.
  if (type !== 'application/oscore' && isPrintable(body)) return [...lines, `body: "${body.toString('latin1')}"`];
  return [...lines, `body: ${body.length} bytes`, ...hexLines(body)];
}

const proxyRequestLines = ({ method, url, httpVersion, headers, body }) => outerLines(`${method} ${url} HTTP/${httpVersion}`, headers, body);
const proxyResponseLines = ({ httpVersion, status, statusMessage, headers, body }) => outerLines(`HTTP/${httpVersion} ${status} ${statusMessage}`, headers, body);

function serviceRequestLines(seen) {
  const body = Buffer.isBuffer(seen.body) ? seen.body : seen.body === undefined ? Buffer.alloc(0) : Buffer.from(JSON.stringify(seen.body));
  return [`${seen.method} ${seen.url}`, ...Object.entries(seen.headers).map(([n, v]) => `${n}: ${v}`), ...bodyLines(body, seen.headers['content-type'])];
}

function clientResponseLines(res) {
  return [`${res.status} ${STATUS_CODES[res.status] ?? ''}`, ...Object.entries(res.headers).map(([n, v]) => `${n}: ${v}`), ...bodyLines(res.body, res.headers['content-type'])];
}

function section(title) {
  console.log(bold(`── ${title} `.padEnd(WIDTH, '─')));
}

// ---------------------------------------------------------------------------------------
// The three parts, wired on loopback with a fresh context pair.
// ---------------------------------------------------------------------------------------

// A fresh pair per run (RFC 8613 §3.2: both sides derive their keys from these).
const masterSecret = { hex: randomBytes(32).toString('hex') };
const masterSalt = { hex: randomBytes(8).toString('hex') };
// Each service keeps its sequence numbers and replay windows in its own state directory:
// temporary here, because every run has a new pair. Deleted at exit.
const stateDir = mkdtempSync(join(tmpdir(), 'oscore-demo-'));
process.on('exit', () => rmSync(stateDir, { recursive: true, force: true }));
for (const signal of ['SIGINT', 'SIGTERM']) process.once(signal, () => process.exit(130));

// The orders service's context for the shop, and the shop's for the orders service: mirrored IDs.
const ordersConfigs = [{ name: 'shop', masterSecret, masterSalt, senderId: '02', recipientId: '01' }];
const ordersContexts = createContextSet(ordersConfigs, { store: { directory: join(stateDir, 'orders') } });
const orders = await createOrdersService({ contexts: ordersContexts });
const ordersOrigin = await orders.app.listen({ port: 0, host: '127.0.0.1' });

const proxy = await startLoggingProxy({ upstream: ordersOrigin });

// The shop's peer is the proxy's origin: to the shop, the proxy is simply where the orders service is.
const shopConfigs = [{ name: 'orders', peer: proxy.origin, masterSecret, masterSalt, senderId: '01', recipientId: '02' }];
const shopContexts = createContextSet(shopConfigs, { store: { directory: join(stateDir, 'shop') } });
const shop = createShop({ ordersOrigin: proxy.origin, contexts: shopContexts });

say('oscore-http demo: an orders service, a shop, and an untrusted logging proxy in between', bold);
say(`  orders service  ${ordersOrigin.padEnd(24)} fastify + @oscore-http/fastify`);
say(`  logging proxy   ${proxy.origin.padEnd(24)} forwards every byte unchanged, prints all it sees`);
say(`  shop            undici + @oscore-http/undici, peer ${proxy.origin}`);
say('  a fresh random Master Secret and Salt; state in a temporary directory, deleted at exit');
console.log();
console.log(bold('WHAT THE PROXY SAW'.padEnd(LEFT + GAP) + `WHAT THE SERVICES SAW ${RIGHT >= 50 ? '(after OSCORE verification)' : '(verified)'}`));
console.log();

/** What the proxy recorded, named for --capture-dir: [{ name: '01-create-order', request, response }]. */
const captured = [];

/** Runs one step of the shop and prints its outer and inner views side by side. */
async function exchange(number, title, slug, step) {
  const outerBefore = proxy.exchanges.length;
  const seenBefore = orders.seen.length;
  const result = await step();
  const outer = proxy.exchanges.slice(outerBefore);
  const seen = orders.seen.slice(seenBefore);
  section(`${number}. ${title}`);
  sideBySide(
    ['request, as forwarded', ...outer.flatMap((x) => proxyRequestLines(x.request))],
    seen.length > 0
      ? seen.flatMap((s) => [`the orders route got (from peer "${s.peer}")`, ...serviceRequestLines(s)])
      : ['the orders service: nothing reached a route', '(no hook, no handler ran)'],
  );
  sideBySide(['response, as forwarded', ...outer.flatMap((x) => proxyResponseLines(x.response))], result.right);
  const name = `${String(number).padStart(2, '0')}-${slug}`;
  outer.forEach((x, i) => captured.push({ ...x, name: outer.length === 1 ? name : `${name}-${i + 1}` }));
  return result;
}

const customer = { name: 'Ada Lovelace', email: 'ada.lovelace@example.org', address: '221B Baker Street, London NW1 6XE', card: '4111 1111 1111 1111' };
const invoice = Buffer.from('%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj << /Title (Invoice INV-2025-0117 for Ada Lovelace) >> endobj\n' + 'BT /F1 12 Tf (Total: EUR 42.00, paid by card ending 1111) Tj ET\n%%EOF\n', 'latin1');

const shopView = (res) => ({ res, right: ['the shop got (verified response)', ...clientResponseLines(res)] });

const created = await exchange(1, 'the shop creates an order with personal data', 'create-order', async () => shopView(await shop.createOrder(customer, `checkout-${randomBytes(3).toString('hex')}`)));
const orderId = JSON.parse(created.res.body.toString()).id;

await exchange(2, 'the shop uploads the invoice (application/pdf, raw bytes)', 'upload-invoice', async () => shopView(await shop.uploadInvoice(orderId, `invoice-${orderId}.pdf`, invoice)));
await exchange(3, 'the shop reads the order back (with a query string)', 'get-order', async () => shopView(await shop.getOrder(orderId, 'status,address')));
await exchange(4, 'the shop asks for an order that does not exist', 'unknown-order', async () => shopView(await shop.getOrder(`ord_${randomBytes(6).toString('base64url')}`)));

// The attacker at the proxy re-sends the captured request 1 verbatim: same bytes, same OSCORE
// header, same ciphertext. It is a valid OSCORE message — and a replay (RFC 8613 §7.4).
const handledBefore = orders.seen.length;
const ordersBefore = orders.orders.size;
const replay = await exchange(5, 'the proxy replays request 1, byte for byte', 'replay', async () => {
  const replayed = await proxy.replay(proxy.exchanges[0]);
  return {
    replayed,
    right: [
      'the shop: not involved (the proxy sent this)',
      `requests that reached a route: ${handledBefore} before, ${orders.seen.length} after`,
      `orders stored: ${ordersBefore} before, ${orders.orders.size} after`,
    ],
  };
});

const replayRejected = replay.replayed.response.status === 401 && replay.replayed.response.body.toString() === 'Replay detected' && orders.seen.length === handledBefore;
const everyRequestOpaque = proxy.exchanges.every((x) => x.request.method === 'POST' && x.request.url === '/oscore' && x.request.headers.some(([n, v]) => n.toLowerCase() === 'content-type' && v === 'application/oscore'));
console.log(bold('In short'));
paragraph(
  `The proxy saw ${proxy.exchanges.length} requests, every one "POST /oscore" with an OSCORE header and ciphertext: ` +
    'no method, path, query, header or body of the application, and every status it saw for a verified request was "200 OK". ' +
    'It could still replay a message: that was refused with 401 "Replay detected" before any application code ran.',
);
console.log(replayRejected && everyRequestOpaque ? style('32', '  OK') : style('31', '  UNEXPECTED: see above'));

// ---------------------------------------------------------------------------------------
// --capture-dir: the proxy's recordings as raw HTTP/1.1, and the run's two context files.
// ---------------------------------------------------------------------------------------

if (options['capture-dir'] !== undefined) {
  const dir = options['capture-dir'];
  mkdirSync(dir, { recursive: true });
  for (const { name, request: q, response: r } of captured) {
    writeFileSync(join(dir, `${name}.request.http`), toRawHttp(`${q.method} ${q.url} HTTP/${q.httpVersion}`, q.headers, q.body));
    writeFileSync(join(dir, `${name}.response.http`), toRawHttp(`HTTP/${r.httpVersion} ${r.status} ${r.statusMessage}`, r.headers, r.body));
  }
  // The documented context-file format (docs/context-file.md), with the run's secrets inline:
  // fine for a throw-away demo pair, readable only by the owner.
  const writeContexts = (name, contexts) => {
    const path = join(dir, name);
    writeFileSync(path, JSON.stringify({ format: 'oscore-http-contexts/1', contexts }, null, 2) + '\n', { mode: 0o600 });
    chmodSync(path, 0o600);
  };
  writeContexts('orders.contexts.json', ordersConfigs);
  writeContexts('shop.contexts.json', shopConfigs);
  console.log();
  const first = join(dir, captured[0].name);
  console.log(`Captured ${captured.length} exchanges as the proxy saw them, and both context files, in ${dir}.`);
  console.log('Decrypt the first request (the orders service\'s contexts), then its response (the shop\'s):');
  console.log(`  npx oscore-http inspect --context ${join(dir, 'orders.contexts.json')} \\\n      ${first}.request.http`);
  console.log(`  npx oscore-http inspect --context ${join(dir, 'shop.contexts.json')} \\\n      --request ${first}.request.http ${first}.response.http`);
}

await shop.close();
await proxy.close();
await orders.app.close();
// Saves the replay windows and releases the state directories (removed at exit).
await Promise.all([ordersContexts.close(), shopContexts.close()]);
process.exitCode = replayRejected && everyRequestOpaque ? 0 : 1;
