/**
 * Errors that stop the HTTP suite before it can judge the target: bad input, or a
 * target that cannot be reached. A test that fails is a result, never one of these.
 */

/** The suite's settings or the client contexts file cannot be used. */
export class SuiteInputError extends Error {
  readonly code = 'ERR_CONFORMANCE_INPUT';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SuiteInputError';
  }
}

/** No HTTP response came back from the target for the first request. */
export class TargetUnreachableError extends Error {
  readonly code = 'ERR_CONFORMANCE_TARGET_UNREACHABLE';
  /** The target's origin. */
  readonly origin: string;
  constructor(origin: string, reason: string) {
    super(`The target ${origin} did not answer (${reason}); check that the server is running and the URL is right.`);
    this.name = 'TargetUnreachableError';
    this.origin = origin;
  }
}
