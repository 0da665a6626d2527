/**
 * Reads a JUnit XML report the way a CI system does: the document must be well-formed
 * XML 1.0 (saxes, a strict parser: fast-xml-parser's validator lets `<` in attributes,
 * control characters and `]]>` through), and it is then parsed (fast-xml-parser) into
 * suites and cases whose counts must agree with the attributes the CI system shows.
 */

import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { SaxesParser } from 'saxes';
import { expect } from 'vitest';

/** The well-formedness errors of `xml` (XML 1.0), none for a well-formed document. */
export function wellFormednessErrors(xml: string): string[] {
  const errors: string[] = [];
  const parser = new SaxesParser();
  parser.on('error', (err) => errors.push(err.message));
  parser.write(xml).close();
  return errors;
}

export interface ParsedCase {
  readonly name: string;
  readonly classname: string;
  readonly time: number;
  readonly failure?: { readonly message: string; readonly text: string } | undefined;
  readonly error?: { readonly message: string; readonly text: string } | undefined;
  readonly skipped: boolean;
  readonly output: string;
}

export interface ParsedSuite {
  readonly name: string;
  readonly cases: readonly ParsedCase[];
}

type Node = Record<string, unknown>;

const asArray = <T>(value: T | T[] | undefined): T[] => (value === undefined ? [] : Array.isArray(value) ? value : [value]);

function textOf(node: unknown): string {
  if (node === undefined || node === null) return '';
  if (typeof node === 'string' || typeof node === 'number') return String(node);
  return String((node as Node)['#text'] ?? '');
}

/** Validates and parses `xml`, checking the structure CI systems rely on. */
export function parseJUnit(xml: string): ParsedSuite[] {
  expect(wellFormednessErrors(xml)).toEqual([]);
  const valid = XMLValidator.validate(xml);
  expect(valid, JSON.stringify(valid)).toBe(true);
  expect(xml.startsWith('<?xml version="1.0" encoding="UTF-8"?>')).toBe(true);
  const doc = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '', parseAttributeValue: false, trimValues: false }).parse(xml) as Node;
  const root = doc.testsuites as Node;
  expect(root, 'a <testsuites> root').toBeDefined();
  const suites = asArray(root.testsuite as Node | Node[]).map((suite): ParsedSuite & { attrs: Node } => ({
    name: String(suite.name),
    attrs: suite,
    cases: asArray(suite.testcase as Node | Node[]).map((c) => {
      const failure = c.failure as Node | string | undefined;
      const error = c.error as Node | string | undefined;
      expect(typeof c.name).toBe('string');
      expect(typeof c.classname).toBe('string');
      expect(Number.isFinite(Number(c.time))).toBe(true);
      return {
        name: String(c.name),
        classname: String(c.classname),
        time: Number(c.time),
        failure: failure === undefined ? undefined : { message: String((failure as Node).message ?? ''), text: textOf(failure) },
        error: error === undefined ? undefined : { message: String((error as Node).message ?? ''), text: textOf(error) },
        skipped: c.skipped !== undefined,
        output: textOf(c['system-out']),
      };
    }),
  }));
  // The counts a CI system displays must match the cases.
  let total = 0;
  let failures = 0;
  for (const s of suites) {
    const f = s.cases.filter((c) => c.failure !== undefined).length;
    expect(Number(s.attrs.tests), `${s.name} tests`).toBe(s.cases.length);
    expect(Number(s.attrs.failures), `${s.name} failures`).toBe(f);
    expect(Number(s.attrs.errors), `${s.name} errors`).toBe(s.cases.filter((c) => c.error !== undefined).length);
    expect(Number(s.attrs.skipped), `${s.name} skipped`).toBe(s.cases.filter((c) => c.skipped).length);
    total += s.cases.length;
    failures += f;
  }
  expect(Number(root.tests)).toBe(total);
  expect(Number(root.failures)).toBe(failures);
  return suites.map(({ name, cases }) => ({ name, cases }));
}
