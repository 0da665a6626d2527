/**
 * Reads vector files and validates them against the JSON Schema of the format before
 * anything runs, so a malformed file is reported as such and never half-run.
 */

import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
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

let validator: ValidateFunction | undefined;

async function validate(): Promise<ValidateFunction> {
  if (validator === undefined) {
    const schema = JSON.parse(await readFile(VECTOR_SCHEMA_URL, 'utf8')) as object;
    validator = new Ajv2020({ allErrors: true, strict: false }).compile(schema);
  }
  return validator;
}

/** Parses and validates one vector file. @throws {VectorFileError} */
export async function loadVectorFile(file: string): Promise<VectorFile> {
  let data: unknown;
  try {
    data = JSON.parse(await readFile(file, 'utf8'));
  } catch (err) {
    throw new VectorFileError(file, [(err as Error).message]);
  }
  const check = await validate();
  if (!check(data)) {
    throw new VectorFileError(file, (check.errors ?? []).map((e) => `${e.instancePath || '/'}: ${e.message ?? 'invalid'}`));
  }
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
