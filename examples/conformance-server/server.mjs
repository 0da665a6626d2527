#!/usr/bin/env node
/**
 * Starts the conformance target and prints its URL on the first line of stdout:
 *
 *     node examples/conformance-server/server.mjs --port 0
 *     http://127.0.0.1:40123
 *
 * Options: --port (default 8613; 0 picks a free port), --host (default 127.0.0.1),
 * --contexts (default contexts.server.json beside this file). Stops on SIGINT/SIGTERM,
 * saving its replay windows: like any oscore-http service it keeps its state in the file
 * store, $OSCORE_STATE_DIR or .oscore-state in the working directory.
 * Then, from the repository root:
 *
 *     node packages/cli/dist/bin.js conformance http --target http://127.0.0.1:40123 \
 *       --contexts examples/conformance-server/contexts.client.json
 */

import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createConformanceServer } from './app.mjs';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '8613' },
    host: { type: 'string', default: '127.0.0.1' },
    contexts: { type: 'string', default: fileURLToPath(new URL('./contexts.server.json', import.meta.url)) },
  },
});

const port = Number(values.port);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`--port must be a port number, not "${values.port}"`);
  process.exit(2);
}

const app = await createConformanceServer({ contexts: values.contexts });
const address = await app.listen({ port, host: values.host });
console.log(address);

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    app.close().then(() => process.exit(0), () => process.exit(1));
  });
}
