/**
 * In-process CPU profiling over IPC for the bench/http children (node:inspector, so only
 * the measured window is sampled, not start-up or warm-up).
 *
 *   { cmd: 'profile-start', intervalUs } → { type: 'profile-started' }
 *   { cmd: 'profile-stop', file }        → { type: 'profile-stopped', file, requests, cpuUs, seconds }
 *   { cmd: 'heap-start', samplingInterval, survivorsOnly }  → { type: 'heap-started' }
 *   { cmd: 'heap-stop', file }           → { type: 'heap-stopped', file, requests }
 *
 * Heap sampling with `survivorsOnly` keeps the samples of objects that survived a
 * scavenge (promoted, then freed by a mark-compact or still alive): what makes young
 * garbage expensive. Without it, every allocation is sampled.
 */

import { writeFileSync } from 'node:fs';

/** Handles a profiling command; returns false if `msg` is not one. `requests()` counts work done. */
export function createProfilerIpc(requests) {
  let session;
  let r0 = 0;
  let cpu0;
  let t0 = 0n;
  const post = (method, params = {}) =>
    new Promise((resolve, reject) => session.post(method, params, (err, result) => (err ? reject(err) : resolve(result))));
  return async function handle(msg) {
    if (msg.cmd === 'profile-start') {
      const inspector = await import('node:inspector');
      session = new inspector.Session();
      session.connect();
      await post('Profiler.enable');
      await post('Profiler.setSamplingInterval', { interval: msg.intervalUs ?? 100 });
      await post('Profiler.start');
      r0 = requests();
      cpu0 = process.cpuUsage();
      t0 = process.hrtime.bigint();
      process.send({ type: 'profile-started', id: msg.id });
      return true;
    }
    if (msg.cmd === 'profile-stop') {
      const cpu = process.cpuUsage(cpu0);
      const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
      const n = requests() - r0;
      const { profile } = await post('Profiler.stop');
      session.disconnect();
      session = undefined;
      writeFileSync(msg.file, JSON.stringify(profile));
      process.send({ type: 'profile-stopped', id: msg.id, file: msg.file, requests: n, cpuUs: cpu.user + cpu.system, seconds });
      return true;
    }
    if (msg.cmd === 'heap-start') {
      const inspector = await import('node:inspector');
      session = new inspector.Session();
      session.connect();
      await post('HeapProfiler.enable');
      await post('HeapProfiler.startSampling', {
        samplingInterval: msg.samplingInterval ?? 1024,
        includeObjectsCollectedByMajorGC: true,
        includeObjectsCollectedByMinorGC: !msg.survivorsOnly,
      });
      r0 = requests();
      process.send({ type: 'heap-started', id: msg.id });
      return true;
    }
    if (msg.cmd === 'heap-stop') {
      const n = requests() - r0;
      const { profile } = await post('HeapProfiler.stopSampling');
      session.disconnect();
      session = undefined;
      writeFileSync(msg.file, JSON.stringify(profile));
      process.send({ type: 'heap-stopped', id: msg.id, file: msg.file, requests: n });
      return true;
    }
    return false;
  };
}
