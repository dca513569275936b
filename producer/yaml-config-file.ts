import { open, type FileHandle } from 'node:fs/promises';
import {
  isAlias,
  isMap,
  isScalar,
  isSeq,
  LineCounter,
  parseDocument,
  visit,
  type Document,
  type YAMLError,
} from 'yaml';
import type { z } from 'zod';
import { ErrorCodes } from '../lib/errors/codes.js';
import { UserError } from '../lib/errors/user-error.js';
import { checkedText } from './checked-text.js';
import { MAX_PROBLEM_LINES } from './input-problems.js';
import { showValue } from './row-validation.js';

/**
 * A YAML or JSON configuration file (a desired-state file, the rules file) checked against its schema
 * and refused as a whole, with every problem as `<file>:<line>: <path>: <reason>` in line order, so
 * that one fix-and-retry round is enough. Each kind of file brings its schema and its wording.
 */

/** Keys and list indexes from the top of the document, as zod reports them: `['tenants', 0, 'tenantId']`. */
export type DocumentPath = readonly PropertyKey[];

export interface Problem {
  line: number;
  reason: string;
}

/** What one kind of configuration file must hold, and how its problems are worded. */
export interface YamlFileKind<T> {
  schema: z.ZodType<T, unknown>;
  /** Follows `<file>: <n> problem(s)` in the error's message: `, nothing was done`. */
  verdict: string;
  /** What the top level should be, for the message about an empty file: `a mapping with a "rules" list`. */
  topLevel: string;
  /**
   * The keys a mapping may have, by the key or list it sits under ('' for the top level), so that a
   * misspelt key can be answered with the one probably meant.
   */
  keysByParent: Readonly<Record<string, readonly string[]>>;
  /** Between the keys of `expected "a" and "b"`, when no key was probably meant. */
  keySeparator: string;
  /** Runs before the document becomes data, for what the YAML reading of a value would lose. */
  prepare?: (doc: Document) => void;
  /**
   * Problems the schema cannot see, such as an id listed twice. Given the raw data, so they are
   * reported together with the schema's rather than only once the rest is fixed.
   */
  crossCheck?: (data: unknown, lineOf: (path: DocumentPath) => number) => Problem[];
}

/** Parses and validates a file's text; throws E_INPUT_INVALID (exit 2) listing every problem. */
export function parseYamlFile<T>(text: string, source: string, kind: YamlFileKind<T>): T {
  const lineCounter = new LineCounter();
  // uniqueKeys: a key written twice is refused, where JSON.parse would silently keep the last one.
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const lineAt = (offset: number): number => lineCounter.linePos(offset).line;

  // A document that does not parse is not worth checking further: its shape would be a guess.
  if (doc.errors.length > 0)
    throw problemsError(source, kind, firstPerLine(doc.errors.map((err) => syntaxProblem(err, doc, lineAt))));
  if (doc.contents === null)
    throw problemsError(source, kind, [{ line: 1, reason: `the file is empty; expected ${kind.topLevel}` }]);
  const dangling = danglingAliases(doc, lineAt);
  if (dangling.length > 0) throw problemsError(source, kind, dangling);
  kind.prepare?.(doc);

  let data: unknown;
  try {
    data = doc.toJS();
  } catch (err) {
    // The parser's guard against alias bombs ("billion laughs"): one anchor used about 100 times, or
    // aliases nested inside aliases. It knows no line, and a real file is not near it.
    if (!(err instanceof ReferenceError)) throw err;
    throw problemsError(source, kind, [
      { line: 1, reason: 'YAML aliases (*name) expand to too much data; write the repeated values out instead' },
    ]);
  }

  const lineOf = (path: DocumentPath): number => nodeLine(doc, path, lineAt);
  const parsed = kind.schema.safeParse(data);
  const problems = [
    ...(parsed.success ? [] : parsed.error.issues.flatMap((issue) => issueProblems(issue, data, lineOf, kind))),
    ...(kind.crossCheck?.(data, lineOf) ?? []),
  ];
  if (problems.length > 0 || !parsed.success) throw problemsError(source, kind, problems);
  return parsed.data;
}

/**
 * The text of a file, or of a stream already open (stdin), as read. A file that cannot be opened or
 * read throws E_INPUT_UNREADABLE; binary or UTF-16 content throws E_INPUT_INVALID worded as `kind`'s.
 */
export async function readYamlFileText<T>(
  file: string | AsyncIterable<Buffer | string>,
  displayName: string,
  kind: YamlFileKind<T>,
): Promise<string> {
  const unreadable = (err: unknown): UserError | undefined => {
    const code = systemErrorCode(err);
    return code === undefined
      ? undefined
      : new UserError(ErrorCodes.INPUT_UNREADABLE, `${displayName}: cannot read (${code})`);
  };

  let source = file;
  let handle: FileHandle | undefined;
  if (typeof source === 'string') {
    try {
      // Opened up front so a missing file is one clear error; a directory fails on the first read.
      handle = await open(source, 'r');
    } catch (err) {
      throw unreadable(err) ?? err;
    }
    source = handle.createReadStream();
  }
  const pieces: Buffer[] = [];
  try {
    // The same gate as rollout files: binary data and UTF-16 are named, not fed to the parser.
    // No line cap: a JSON file may well be one long line, and the whole file is kept anyway.
    for await (const piece of checkedText(source, { lines: 'any-length' })) {
      if ('fault' in piece)
        throw problemsError(displayName, kind, [{ line: piece.fault.line, reason: piece.fault.problem }]);
      pieces.push(piece.bytes);
    }
  } catch (err) {
    if (err instanceof UserError) throw err;
    throw unreadable(err) ?? err;
  } finally {
    await handle?.close().catch(() => undefined);
  }
  return Buffer.concat(pieces).toString('utf8');
}

/** `reason` said of `path`, as a problem's reason is worded. */
export function at(path: DocumentPath, reason: string): string {
  return path.length === 0 ? reason : `${showPath(path)}: ${reason}`;
}

/** `tenants[0].configurations[1].groups[2]`; empty for the top level. */
export function showPath(path: DocumentPath): string {
  let shown = '';
  for (const segment of path)
    shown += typeof segment === 'number' ? `[${segment}]` : `${shown === '' ? '' : '.'}${String(segment)}`;
  return shown;
}

/** The value at `path` in the raw data, or undefined where the path leaves it. */
export function valueAt(data: unknown, path: DocumentPath): unknown {
  let value = data;
  for (const segment of path) {
    if (typeof value !== 'object' || value === null) return undefined;
    value = (value as Record<PropertyKey, unknown>)[segment];
  }
  return value;
}

/** Formatted like the enqueue command's problems (producer/input-problems.ts), in line order. */
function problemsError(source: string, kind: YamlFileKind<unknown>, problems: Problem[]): UserError {
  const sorted = [...problems].sort((a, b) => a.line - b.line);
  const details = sorted.slice(0, MAX_PROBLEM_LINES).map((p) => `${source}:${p.line}: ${p.reason}`);
  const hidden = sorted.length - details.length;
  if (hidden > 0) details.push(`… and ${hidden} more problems`);
  return new UserError(ErrorCodes.INPUT_INVALID, `${source}: ${sorted.length} problem(s)${kind.verdict}`, 2, details);
}

function syntaxProblem(err: YAMLError, doc: Document, lineAt: (offset: number) => number): Problem {
  const line = lineAt(err.pos[0]);
  switch (err.code) {
    case 'DUPLICATE_KEY':
      return { line, reason: `key ${showValue(keyAt(doc, err.pos[0]) ?? '?')} is written twice in one mapping` };
    case 'MULTIPLE_DOCS':
      return { line, reason: 'a second YAML document ("---"); put everything in one' };
    default:
      return { line, reason: `syntax error: ${err.message}` };
  }
}

/** One syntax error a line: the parser's further complaints about a line mostly follow from its first. */
function firstPerLine(problems: Problem[]): Problem[] {
  const lines = new Set<number>();
  return problems.filter((problem) => !lines.has(problem.line) && lines.add(problem.line));
}

/** The text of the mapping key that starts at `offset`: the parser points at a repeated key but does not name it. */
function keyAt(doc: Document, offset: number): string | undefined {
  let key: string | undefined;
  visit(doc, {
    Pair(_, pair) {
      if (isScalar(pair.key) && pair.key.range?.[0] === offset) {
        key = String(pair.key.value);
        return visit.BREAK;
      }
      return undefined;
    },
  });
  return key;
}

/** `*name` with no `&name` before it; the parser only notices when converting, without a line. */
function danglingAliases(doc: Document, lineAt: (offset: number) => number): Problem[] {
  const problems: Problem[] = [];
  visit(doc, {
    Alias(_, alias) {
      if (alias.resolve(doc) === undefined) {
        problems.push({
          line: lineAt(alias.range?.[0] ?? 0),
          reason: `alias *${alias.source} has no anchor &${alias.source} before it`,
        });
      }
    },
  });
  return problems;
}

/**
 * The line where `path` is written: the key's line for a mapping entry, the item's for a list item.
 * Where the path leaves the document (an absent key), the deepest node it reaches.
 */
function nodeLine(doc: Document, path: DocumentPath, lineAt: (offset: number) => number): number {
  let node: unknown = doc.contents;
  let line = rangeLine(node, lineAt) ?? 1;
  for (const segment of path) {
    if (isAlias(node)) node = node.resolve(doc);
    if (isMap(node)) {
      const pair = node.items.find(
        (item) => (isScalar(item.key) ? String(item.key.value) : String(item.key)) === String(segment),
      );
      if (pair === undefined) break;
      line = rangeLine(pair.key, lineAt) ?? line;
      node = pair.value;
    } else if (isSeq(node) && typeof segment === 'number') {
      node = node.items[segment];
      if (node === undefined) break;
      line = rangeLine(node, lineAt) ?? line;
    } else {
      break;
    }
  }
  return line;
}

function rangeLine(node: unknown, lineAt: (offset: number) => number): number | undefined {
  if (typeof node !== 'object' || node === null || !('range' in node)) return undefined;
  const range = (node as { range?: readonly number[] | null }).range;
  return range?.[0] === undefined ? undefined : lineAt(range[0]);
}

function issueProblems(
  issue: z.core.$ZodIssue,
  data: unknown,
  lineOf: (path: DocumentPath) => number,
  kind: YamlFileKind<unknown>,
): Problem[] {
  const path = issue.path;
  if (issue.code === 'unrecognized_keys') {
    // One line per key, each at its own line: several typos in one mapping are several fixes.
    const parent = [...path].reverse().find((segment) => typeof segment === 'string') ?? '';
    const known = kind.keysByParent[String(parent)] ?? [];
    return issue.keys.map((key) => {
      const meant = likelyMeant(key, known);
      const hint =
        meant === undefined
          ? `; expected ${known.map((k) => `"${k}"`).join(kind.keySeparator)}`
          : ` (did you mean "${meant}"?)`;
      return { line: lineOf([...path, key]), reason: at(path, `unknown key ${showValue(key)}${hint}`) };
    });
  }
  if (issue.code === 'invalid_key') {
    // The name itself is wrong: said of the mapping, on the name's line.
    const mapping = path.slice(0, -1);
    return issue.issues.map((inner) => ({ line: lineOf(path), reason: at(mapping, inner.message) }));
  }
  if (issue.code === 'invalid_union') {
    // "A type or a list of types" given a list with a bad item: the list's own complaint is the useful one.
    const branch = writtenBranch(issue.errors);
    if (branch !== undefined)
      return branch.flatMap((inner) => issueProblems({ ...inner, path: [...path, ...inner.path] }, data, lineOf, kind));
  }
  // An absent key has no line of its own: the problem belongs to the mapping that lacks it.
  const where = path.length > 0 && valueAt(data, path) === undefined ? path.slice(0, -1) : path;
  return [{ line: lineOf(where), reason: at(where, issue.message) }];
}

/**
 * Of a union's alternatives, the one the value was evidently written as: the only one whose issues
 * are all inside the value, not about its type as a whole. Undefined when that is not clear.
 */
function writtenBranch(branches: z.core.$ZodIssue[][]): z.core.$ZodIssue[] | undefined {
  const fitting = branches.filter((issues) =>
    issues.every((inner) => inner.path.length > 0 || inner.code !== 'invalid_type'),
  );
  return fitting.length === 1 ? fitting[0] : undefined;
}

/**
 * The known key a misspelt one was probably meant to be: same letters in another case, or at most
 * two edits away (`group` for `groups`, `tenantID` for `tenantId`).
 */
function likelyMeant(key: string, known: readonly string[]): string | undefined {
  const lower = key.toLowerCase();
  let best: { key: string; distance: number } | undefined;
  for (const candidate of known) {
    const distance = editDistance(lower, candidate.toLowerCase());
    if (distance <= 2 && (best === undefined || distance < best.distance)) best = { key: candidate, distance };
  }
  return best?.key;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}

/** `ENOENT`, `EISDIR`, `EACCES`…: the errno code of a failed open or read, or undefined for anything else. */
function systemErrorCode(err: unknown): string | undefined {
  if (!(err instanceof Error) || !('code' in err) || typeof err.code !== 'string') return undefined;
  return /^E[A-Z0-9]+$/.test(err.code) ? err.code : undefined;
}
