/**
 * Checks shared by the four processing steps: what may be protected (RFC 8613 §4.1.3.7,
 * §4.2) and what a decrypted plaintext must look like (§5.3).
 */

import type { AeadAlgorithm } from '../algorithms.js';
import { privateBuffer, wipe } from '../buffers.js';
import { InvalidMessageError, MalformedPlaintextError, MessageTooLargeError } from '../errors.js';
import { CoapOptionNumber, formatCoapCode, isRequestCode, isResponseCode } from '../message/coap.js';
import { decodeInnerMessage, encodeInnerMessageInto, type InnerMessage } from '../message/inner-message.js';

type Kind = 'request' | 'response';

function hasOscoreOption(message: InnerMessage): boolean {
  return message.options.some((o) => o.number === CoapOptionNumber.Oscore);
}

/**
 * Validates and encodes the plaintext of a message to protect (§5.3). The result is
 * engine-private memory (buffers.ts): pass it to the backend, then wipe it.
 */
export function plaintextOf(message: InnerMessage, kind: Kind, alg: AeadAlgorithm): Uint8Array {
  if (typeof message !== 'object' || message === null || !(message.payload instanceof Uint8Array) || !Array.isArray(message.options)) {
    throw new InvalidMessageError('expected an object with code, options and payload');
  }
  const codeOk = kind === 'request' ? isRequestCode(message.code) : isResponseCode(message.code);
  if (!codeOk) throw new InvalidMessageError(`code ${formatCoapCode(message.code)} is not a CoAP ${kind} code`);
  // "Nested use of OSCORE is not supported: If OSCORE processing detects an OSCORE option
  // in the original CoAP message, then processing SHALL be stopped." (§4.1.3.7)
  if (hasOscoreOption(message)) throw new InvalidMessageError('it already carries an OSCORE option (nested OSCORE is not supported)');
  let plaintext: Uint8Array;
  try {
    plaintext = encodeInnerMessageInto(message, privateBuffer);
  } catch (err) {
    throw new InvalidMessageError((err as Error).message);
  }
  if (plaintext.length > alg.maxPlaintextLength) {
    wipe(plaintext);
    throw new MessageTooLargeError(plaintext.length, alg.maxPlaintextLength, alg.name);
  }
  return plaintext;
}

/** Decodes and checks a decrypted plaintext (§5.3, §8.2 step 7, §8.4 step 6). */
export function innerMessageOf(plaintext: Uint8Array, kind: Kind): InnerMessage {
  const message = decodeInnerMessage(plaintext);
  const codeOk = kind === 'request' ? isRequestCode(message.code) : isResponseCode(message.code);
  if (!codeOk) throw new MalformedPlaintextError(`code ${formatCoapCode(message.code)} is not a CoAP ${kind} code`);
  if (hasOscoreOption(message)) throw new MalformedPlaintextError('it carries a nested OSCORE option');
  return message;
}
