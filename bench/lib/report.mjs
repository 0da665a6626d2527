/**
 * Printing helpers shared by the benchmarks in bench/: environment header, number
 * formatting and plain-text tables.
 */

import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** What the numbers were measured on. */
export function environment(extra = {}) {
  const cpus = os.cpus();
  let commit;
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    if (dirty !== '') commit += ' (modified)';
  } catch {
    commit = undefined;
  }
  return {
    date: new Date().toISOString(),
    node: process.version,
    v8: process.versions.v8,
    openssl: process.versions.openssl,
    platform: `${process.platform} ${process.arch}`,
    cpuModel: cpus[0]?.model?.trim() ?? 'unknown',
    cpuCount: cpus.length,
    loadavg: os.loadavg().map((x) => Number(x.toFixed(2))),
    commit,
    ...extra,
  };
}

/** Prints the environment as aligned `key: value` lines. */
export function printEnvironment(env, labels) {
  const rows = Object.entries(labels)
    .filter(([key]) => env[key] !== undefined)
    .map(([key, label]) => [label, Array.isArray(env[key]) ? env[key].join(' ') : String(env[key])]);
  const width = Math.max(...rows.map(([l]) => l.length));
  for (const [label, value] of rows) console.log(`  ${label.padEnd(width)}  ${value}`);
}

const GROUPED = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });

/** 1,234,567 / 12,345 / 123 / 12.3 / 1.23 — grouped integers, 3 significant digits below 100. */
export function formatRate(x) {
  if (x === undefined || Number.isNaN(x)) return '';
  if (x >= 100) return GROUPED.format(x);
  if (x >= 10) return x.toFixed(1);
  return x.toFixed(2);
}

/** A ratio with two significant decimals, e.g. 0.43 or 0.062. */
export function formatRatio(x) {
  if (x === undefined || Number.isNaN(x)) return '';
  return x >= 0.1 ? x.toFixed(2) : x.toPrecision(2);
}

/** ±% from a (max − min)/median spread. */
export function formatSpread(x) {
  if (x === undefined || Number.isNaN(x)) return '';
  return `±${Math.round((x * 100) / 2)}%`;
}

/** 64 B, 1 KiB, 64 KiB, 1 MiB. */
export function formatSize(bytes) {
  if (bytes >= 1 << 20 && bytes % (1 << 20) === 0) return `${bytes / (1 << 20)} MiB`;
  if (bytes >= 1024 && bytes % 1024 === 0) return `${bytes / 1024} KiB`;
  return `${bytes} B`;
}

/** Parses 64, 64B, 1k, 1KiB, 64k, 1m, 1MiB into bytes. */
export function parseSize(text) {
  const m = /^(\d+)\s*(b|k|kb|kib|m|mb|mib)?$/i.exec(text.trim());
  if (m === null) throw new Error(`cannot parse size ${JSON.stringify(text)} (try 64, 1k, 64k, 1m)`);
  const unit = (m[2] ?? 'b').toLowerCase()[0];
  return Number(m[1]) * (unit === 'k' ? 1024 : unit === 'm' ? 1 << 20 : 1);
}

/**
 * Prints a plain-text table. `columns` is `[{ header, align: 'left' | 'right' }]`;
 * a row is an array of strings, or `null` for a separator line. A row may end in
 * `{ span: text }`: that text fills the remaining columns (e.g. "n/a (…)").
 */
export function printTable(columns, rows) {
  const plain = (r, i) => (typeof r[i] === 'string' ? r[i] : '');
  const widths = columns.map((c, i) => Math.max(c.header.length, ...rows.filter(Boolean).map((r) => plain(r, i).length)));
  const cell = (text, i) => (columns[i].align === 'left' ? text.padEnd(widths[i]) : text.padStart(widths[i]));
  const line = (cells) =>
    `  ${cells.map((t, i) => (typeof t === 'object' && t !== null ? t.span : cell(t ?? '', i))).join('  ')}`.trimEnd();
  const rule = `  ${widths.map((w) => '-'.repeat(w)).join('  ')}`;
  console.log(line(columns.map((c) => c.header)));
  console.log(rule);
  for (const row of rows) {
    if (row === null) console.log('');
    else console.log(line(row));
  }
}

/** Writes `data` as pretty JSON, creating the directory. */
export function writeJson(file, data) {
  mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  writeFileSync(file, `${JSON.stringify(data, null, 2)}\n`);
}
