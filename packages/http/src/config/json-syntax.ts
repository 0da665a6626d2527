/**
 * JSON syntax errors that never quote the text. V8's `JSON.parse` errors quote about ten
 * characters around the error (`Unexpected token '“', ..."   "hex": “40840fc19"... is not
 * valid JSON`), and in a context file, next to a smart or single quote, those are the
 * first characters of a Master Secret — which would then reach a log.
 */

/** Matches V8's excerpt of the input: `, ..."…"... is not valid JSON` or `, "…" is not valid JSON`. */
const EXCERPT = /, (?:\.\.\.)?"[\s\S]*?"(?:\.\.\.)? is not valid JSON/g;

/** `message` without any excerpt of JSON input V8 put in it (for messages made elsewhere). */
export function withoutJsonExcerpt(message: string): string {
  return message.replace(EXCERPT, '');
}

/** The offset of the character V8 calls an unexpected `token`, by parsing ever longer prefixes. */
function offsetOfToken(text: string, token: string): number | undefined {
  const failsOnToken = (n: number) => {
    try {
      JSON.parse(text.slice(0, n));
      return false;
    } catch (err) {
      return (err as Error).message.startsWith(`Unexpected token '${token}'`);
    }
  };
  if (!failsOnToken(text.length)) return undefined;
  // Prefixes that stop before the token fail only for their end; those that include it fail on it.
  let low = 0;
  let high = text.length;
  while (high - low > 1) {
    const mid = (low + high) >>> 1;
    if (failsOnToken(mid)) high = mid;
    else low = mid;
  }
  return high - 1;
}

/**
 * What is wrong with `text`, from the `SyntaxError` of `JSON.parse(text)`, with the line
 * and column and no excerpt of it: `unexpected character '“' at line 8, column 16`.
 * A character that may belong to a secret (a letter, a digit, base64) is not shown.
 */
export function jsonSyntaxDetail(text: string, err: Error): string {
  const message = err.message;
  const token = /^Unexpected token '([\s\S]+?)', /.exec(message)?.[1];
  let offset: number | undefined = /at position (\d+)/.exec(message) === null ? undefined : Number(/at position (\d+)/.exec(message)![1]);
  let what: string;
  if (token !== undefined) {
    offset ??= offsetOfToken(text, token);
    what = /^[A-Za-z0-9+/=_-]+$/.test(token) ? 'unexpected character' : `unexpected character '${token}'`;
  } else {
    what = withoutJsonExcerpt(message)
      .replace(/ in JSON at position \d+[\s\S]*$/, '')
      .replace(/^\w/, (c) => c.toLowerCase());
  }
  if (offset === undefined) return what;
  const before = text.slice(0, offset);
  const line = before.split('\n').length;
  const column = offset - (before.lastIndexOf('\n') + 1) + 1;
  return `${what} at line ${line}, column ${column}`;
}
