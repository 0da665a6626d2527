// Every test process gets its own directory for the default (file) state store, so test
// files running in parallel never share sequence numbers or replay windows.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

process.env.OSCORE_STATE_DIR ??= mkdtempSync(join(tmpdir(), 'oscore-test-state-'));
