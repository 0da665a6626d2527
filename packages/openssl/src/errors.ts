/** The typed errors of the OpenSSL backend (docs/errors.md). */

import { OscoreError } from '@oscore-http/core';

/** The native addon of this package is missing, cannot be loaded, or failed its known-answer test against node:crypto. */
export class OpensslBackendUnavailableError extends OscoreError {
  readonly code = 'ERR_OSCORE_OPENSSL_UNAVAILABLE';
  readonly outcome = undefined;
  constructor(cause: unknown) {
    super('The OpenSSL backend cannot be used (its addon is not built, or was built for another Node.js): run `npm rebuild @oscore-http/openssl` (it needs Python 3, make and a C compiler), or leave the backend unset to use node:crypto.', { cause });
  }
}

/** OpenSSL failed to encrypt (out of memory, or a cipher it no longer offers); nothing was sent. */
export class OpensslOperationError extends OscoreError {
  readonly code = 'ERR_OSCORE_OPENSSL_FAILED';
  readonly outcome = undefined;
  constructor() {
    super('OpenSSL failed to encrypt the message; it was not sent. Check the process memory and the OpenSSL configuration.');
  }
}
