/**
 * `oscore-http conformance` — the RFC 8613 conformance suite: `vectors` and `http`.
 */

import { httpCommand } from './conformance-http.js';
import { vectorsCommand } from './conformance-vectors.js';
import { commandGroup } from './group.js';

/** The `conformance` command and its subcommands. */
export const conformanceCommand = commandGroup({
  name: 'conformance',
  path: 'oscore-http conformance',
  summary: 'Check an OSCORE implementation against RFC 8613: test vectors, black-box HTTP suite',
  description:
    'Checks OSCORE (RFC 8613) implementations. "vectors" runs test-vector files against this\nproject\'s engine; "http" runs a black-box suite against any running OSCORE-over-HTTP\nserver. Both print a table, or JSON with --json, and can write JUnit XML with --junit.',
  commands: [vectorsCommand, httpCommand],
});
