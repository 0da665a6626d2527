#!/usr/bin/env node
// Launcher of the `oscore-http` command. It exists before the TypeScript is built, so npm
// links it at install time; it runs the built CLI, or says how to build it.
import('../dist/bin.js').catch((err) => {
  if (err?.code === 'ERR_MODULE_NOT_FOUND' && String(err.message).includes('dist/bin.js')) {
    process.stderr.write('oscore-http: the CLI is not built yet; run `npm run build` in the repository first\n');
    process.exitCode = 70;
    return;
  }
  throw err;
});
