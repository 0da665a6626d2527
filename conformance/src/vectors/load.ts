/**
 * Reads vector files and validates them against the JSON Schema of the format before
 * anything runs, so a malformed file is reported as such and never half-run.
 */

import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import type { VectorFile } from './format.js';

/** Location of the JSON Schema of the vector format. */
export const VECTOR_SCHEMA_URL = new URL('../../vectors/oscore-vectors.schema.json', import.meta.url);

/** A vector file that cannot be read, parsed or validated. */
export class VectorFileError extends Error {
  readonly code = 'ERR_VECTOR_FILE';
  /** Path of the file. */
  readonly file: string;
  /** One line per problem, e.g. `/vectors/3/expect/option: must match pattern`. */
  readonly problems: readonly string[];
  constructor(file: string, problems: readonly string[]) {
    super(`${file} is not a valid oscore-vectors/1 file: ${problems.slice(0, 3).join('; ')}${problems.length > 3 ? ` (and ${problems.length - 3} more)` : ''}`);
    this.name = 'VectorFileError';
    this.file = file;
    this.problems = problems;
  }
}

/**
 * Longest string value a vector file may hold: 1 MiB of bytes in hex, sixteen times the
 * longest payload of the vectors here. Longer ones are refused before the schema sees them
 * (its hex pattern would exhaust the regular-expression engine's stack).
 */
export const MAX_VECTOR_STRING = 2 * 1024 * 1024;

interface Validators {
  readonly file: ValidateFunction;
  /** One validator per vector kind (the schema's `vector` is a `oneOf` of them), to explain a failure. */
  readonly kinds: ReadonlyMap<string, ValidateFunction>;
}

let validators: Validators | undefined;

async function validatorsOf(): Promise<Validators> {
  if (validators === undefined) {
    const schema = JSON.parse(await readFile(VECTOR_SCHEMA_URL, 'utf8')) as { $id: string; $defs: Record<string, { oneOf?: { $ref: string }[]; properties?: { kind?: { const?: string } } }> };
    const ajv = new Ajv2020({ allErrors: true, strict: false });
    const file = ajv.compile(schema);
    const kinds = new Map<string, ValidateFunction>();
    for (const { $ref } of schema.$defs.vector?.oneOf ?? []) {
      const kind = schema.$defs[$ref.replace('#/$defs/', '')]?.properties?.kind?.const;
      if (kind !== undefined) kinds.set(kind, ajv.compile({ $ref: `${schema.$id}${$ref}` }));
    }
    validators = { file, kinds };
  }
  return validators;
}

const format = (e: ErrorObject, prefix = ''): string => `${prefix + e.instancePath || '/'}: ${e.message ?? 'invalid'}`;

/**
 * The problems of an invalid file, said for the kind each vector declares: a vector fails
 * the schema's `oneOf` against every kind, and only its own kind's complaints are useful.
 */
function problemsOf(data: unknown, errors: readonly ErrorObject[], kinds: ReadonlyMap<string, ValidateFunction>): string[] {
  const inVector = /^\/vectors\/(\d+)(?:\/|$)/;
  const problems = errors.filter((e) => !inVector.test(e.instancePath)).map((e) => format(e));
  const failed = new Set(errors.map((e) => inVector.exec(e.instancePath)?.[1]).filter((i) => i !== undefined));
  const vectors = (data as { vectors?: unknown } | null)?.vectors;
  if (!Array.isArray(vectors)) return errors.map((e) => format(e));
  for (const i of [...failed].map(Number).sort((a, b) => a - b)) {
    const kind = (vectors[i] as { kind?: unknown } | null)?.kind;
    const check = typeof kind === 'string' ? kinds.get(kind) : undefined;
    if (check === undefined) problems.push(`/vectors/${i}/kind: must be one of ${[...kinds.keys()].join(', ')}`);
    else if (!check(vectors[i])) problems.push(...(check.errors ?? []).map((e) => format(e, `/vectors/${i}`)));
  }
  return problems;
}

/** Deeper than any vector file (the format nests about six levels). */
const MAX_DEPTH = 32;

/**
 * What makes a value unfit for the schema validator, whose recursion and hex pattern would
 * exhaust the stack: a string longer than {@link MAX_VECTOR_STRING}, or nesting deeper
 * than {@link MAX_DEPTH}. Walked without recursion.
 */
function shapeProblem(root: unknown): string | undefined {
  const stack: [unknown, string, number][] = [[root, '', 0]];
  for (let next = stack.pop(); next !== undefined; next = stack.pop()) {
    const [value, at, depth] = next;
    if (typeof value === 'string' && value.length > MAX_VECTOR_STRING) return `${at || '/'}: is longer than ${MAX_VECTOR_STRING} characters, the longest value the runner takes`;
    if (typeof value !== 'object' || value === null) continue;
    if (depth >= MAX_DEPTH) return `${at}: is nested deeper than ${MAX_DEPTH} levels, which no vector is`;
    for (const [key, item] of Object.entries(value)) stack.push([item, `${at}/${key}`, depth + 1]);
  }
  return undefined;
}

/** Parses and validates one vector file. @throws {VectorFileError} */
export async function loadVectorFile(file: string): Promise<VectorFile> {
  let data: unknown;
  try {
    data = JSON.parse(await readFile(file, 'utf8'));
  } catch (err) {
    throw new VectorFileError(file, [(err as Error).message]);
  }
  const unfit = shapeProblem(data);
  if (unfit !== undefined) throw new VectorFileError(file, [unfit]);
  const { file: check, kinds } = await validatorsOf();
  if (!check(data)) throw new VectorFileError(file, problemsOf(data, check.errors ?? [], kinds));
  const file_ = data as VectorFile;
  const seen = new Set<string>();
  const duplicates = file_.vectors.filter((v) => (seen.has(v.id) ? true : (seen.add(v.id), false))).map((v) => `duplicate id ${v.id}`);
  if (duplicates.length > 0) throw new VectorFileError(file, duplicates);
  return file_;
}

/**
 * The vector files at `path`: the file itself, or every `*.json` in the directory
 * (not recursive, schema files excluded), sorted by name.
 */
export async function findVectorFiles(path: string): Promise<string[]> {
  const info = await stat(path);
  if (!info.isDirectory()) return [path];
  const names = await readdir(path);
  return names
    .filter((n) => n.endsWith('.json') && !n.endsWith('.schema.json'))
    .sort()
    .map((n) => join(path, n));
}
