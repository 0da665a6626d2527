// A protected exchange with the core engine alone: a context pair, a request and its
// response, a replay, and what an intermediary sees next to what the endpoints see.
// Run from the repository root: npm run walkthrough
import { randomBytes } from 'node:crypto';
import {
  CoapOptionNumber,
  coapCode,
  createSecurityContext,
  decodeOscoreOption,
  formatCoapCode,
  protectRequest,
  protectResponse,
  toHex,
  verifyRequest,
  verifyResponse,
} from '@oscore-http/core';

const utf8 = new TextEncoder();
const text = new TextDecoder();

// One pair, derived on both sides from the same Master Secret and Salt (RFC 8613 §3.2).
const masterSecret = randomBytes(32);
const masterSalt = randomBytes(8);
const client = createSecurityContext({ masterSecret, masterSalt, senderId: Uint8Array.of(0x01), recipientId: Uint8Array.of(0x02) });
const server = createSecurityContext({ masterSecret, masterSalt, senderId: Uint8Array.of(0x02), recipientId: Uint8Array.of(0x01) });

const order = JSON.stringify({ customer: 'Ada Lovelace', email: 'ada@example.org', card: '4111 1111 1111 1111', items: [{ sku: 'tea', qty: 2 }] });
const request = {
  code: coapCode(0, 2), // POST
  options: [
    { number: CoapOptionNumber.UriPath, value: utf8.encode('orders') },
    { number: CoapOptionNumber.ContentFormat, value: Uint8Array.of(50) }, // application/json
  ],
  payload: utf8.encode(order),
};

const sent = await protectRequest(client, request);
const received = await verifyRequest(server, sent.option, sent.payload);
const reply = { code: coapCode(2, 1), options: [{ number: CoapOptionNumber.LocationPath, value: utf8.encode('orders') }, { number: CoapOptionNumber.LocationPath, value: utf8.encode('1042') }], payload: utf8.encode('{"id":1042,"status":"accepted"}') };
const answer = await protectResponse(received.binding, reply);
const verified = await verifyResponse(sent.binding, answer.option, answer.payload);

function intermediaryView(label, { option, payload }) {
  const f = decodeOscoreOption(option);
  const fields = [
    f.kid !== undefined ? `kid=${toHex(f.kid) || '(empty)'}` : null,
    f.partialIV !== undefined ? `piv=${toHex(f.partialIV)}` : null,
    f.kidContext !== undefined ? `kid context=${toHex(f.kidContext)}` : null,
  ].filter(Boolean);
  const b64 = option.length === 0 ? 'AA' : Buffer.from(option).toString('base64url');
  return [
    `${label}`,
    `  OSCORE: ${b64}   (${fields.join(', ') || 'no fields'})`,
    `  Content-Type: application/oscore`,
    `  body: ${payload.length} bytes ${toHex(payload.subarray(0, 24))}…`,
  ];
}

function endpointView(label, message) {
  const path = message.options.filter((o) => o.number === CoapOptionNumber.UriPath || o.number === CoapOptionNumber.LocationPath).map((o) => text.decode(o.value));
  return [`${label}`, `  code ${formatCoapCode(message.code)}  /${path.join('/')}`, `  body: ${text.decode(message.payload)}`];
}

function sideBySide(left, right) {
  const width = Math.max(...left.map((l) => l.length)) + 4;
  const rows = Math.max(left.length, right.length);
  for (let i = 0; i < rows; i++) console.log((left[i] ?? '').padEnd(width) + (right[i] ?? ''));
  console.log();
}

console.log(`context pair: ${client}  <->  ${server}\n`);
console.log('WHAT AN INTERMEDIARY SEES'.padEnd(64) + 'WHAT THE ENDPOINTS SEE\n');
sideBySide(intermediaryView('request (POST, outer)', sent), endpointView('server verified the request', received.message));
sideBySide(intermediaryView('response (200 OK, outer)', answer), endpointView('client verified the response', verified.message));

try {
  await verifyRequest(server, sent.option, sent.payload);
  console.error('the replayed request was accepted');
  process.exit(1);
} catch (err) {
  console.log(`replaying the request: rejected with ${err.code} (RFC 8613 outcome ${err.outcome})`);
}
const tampered = sent.payload.slice();
tampered[3] ^= 0x01;
const next = await protectRequest(client, request);
try {
  await verifyRequest(server, next.option, tampered);
  process.exit(1);
} catch (err) {
  console.log(`changing one ciphertext bit:  rejected with ${err.code} (RFC 8613 outcome ${err.outcome})`);
}
