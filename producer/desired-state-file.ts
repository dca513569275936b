import { open } from 'node:fs/promises';
import { isAlias, isMap, isScalar, isSeq, LineCounter, parseDocument, visit, type Document, type YAMLError } from 'yaml';
import type { z } from 'zod';
import { ErrorCodes } from '../lib/errors/codes.js';
import { UserError } from '../lib/errors/user-error.js';
import { isObjectId, normalizeObjectId } from '../lib/object-id.js';
import { checkedText } from './checked-text.js';
import { desiredStateSchema, KEYS_BY_LIST, type DesiredState } from './desired-state-schema.js';
import { MAX_PROBLEM_LINES } from './input-problems.js';
import { showValue } from './row-validation.js';

export type { DesiredConfiguration, DesiredState, DesiredTenant } from './desired-state-schema.js';

export interface DesiredStateFileOptions {
  /** Read for the path `-`; defaults to process.stdin. */
  stdin?: NodeJS.ReadableStream;
}

type Path = readonly PropertyKey[];

interface Problem {
  line: number;
  reason: string;
}

/**
 * Parses and validates a desired-state file's text (YAML, or JSON, which YAML reads too). Every
 * problem is collected and thrown at once as a UserError (E_INPUT_INVALID, exit 2) whose details are
 * `<source>:<line>: <path>: <reason>`, in line order, so that one fix-and-retry round is enough.
 * Ids come back normalized and each configuration's groups each once.
 */
export function parseDesiredState(text: string, source: string): DesiredState {
  const lineCounter = new LineCounter();
  // uniqueKeys: a key written twice is refused, where JSON.parse would silently keep the last one.
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const lineAt = (offset: number): number => lineCounter.linePos(offset).line;

  // A document that does not parse is not worth checking further: its shape would be a guess.
  if (doc.errors.length > 0) throw problemsError(source, firstPerLine(doc.errors.map((err) => syntaxProblem(err, doc, lineAt))));
  if (doc.contents === null) throw problemsError(source, [{ line: 1, reason: 'the file is empty; expected a mapping with a "tenants" list' }]);
  const dangling = danglingAliases(doc, lineAt);
  if (dangling.length > 0) throw problemsError(source, dangling);

  let data: unknown;
  try {
    data = doc.toJS();
  } catch (err) {
    // The parser's guard against alias bombs ("billion laughs"): one anchor used about 100 times, or
    // aliases nested inside aliases. It knows no line, and a real file is not near it.
    if (!(err instanceof ReferenceError)) throw err;
    throw problemsError(source, [{ line: 1, reason: 'YAML aliases (*name) expand to too much data; write the repeated values out instead' }]);
  }

  const lineOf = (path: Path): number => nodeLine(doc, path, lineAt);
  const parsed = desiredStateSchema.safeParse(data);
  const problems = [
    ...(parsed.success ? [] : parsed.error.issues.flatMap((issue) => issueProblems(issue, data, lineOf))),
    ...repeatedIds(data, lineOf),
  ];
  if (problems.length > 0 || !parsed.success) throw problemsError(source, problems);
  return parsed.data;
}

/**
 * Reads a desired-state file (`-` is stdin) and parses it. A file that cannot be opened or read
 * throws E_INPUT_UNREADABLE; binary or UTF-16 content and every problem parseDesiredState finds
 * throw E_INPUT_INVALID. `text` is the file as read, for callers that keep or fingerprint it.
 */
export async function readDesiredStateFile(path: string, options: DesiredStateFileOptions = {}): Promise<{ state: DesiredState; text: string }> {
  const displayName = path === '-' ? 'stdin' : path;
  const unreadable = (err: unknown): UserError | undefined => {
    const code = systemErrorCode(err);
    return code === undefined ? undefined : new UserError(ErrorCodes.INPUT_UNREADABLE, `${displayName}: cannot read (${code})`);
  };

  let source: AsyncIterable<Buffer | string>;
  if (path === '-') {
    source = options.stdin ?? process.stdin;
  } else {
    try {
      // Opened up front so a missing file is one clear error; a directory fails on the first read.
      source = (await open(path, 'r')).createReadStream();
    } catch (err) {
      throw unreadable(err) ?? err;
    }
  }

  const pieces: Buffer[] = [];
  try {
    // The same gate as rollout files: binary data and UTF-16 are named, not fed to the parser.
    // No line cap: a JSON file may well be one long line, and the whole file is kept anyway.
    for await (const piece of checkedText(source, { lines: 'any-length' })) {
      if ('fault' in piece) {
        throw problemsError(displayName, [{ line: piece.fault.line, reason: piece.fault.problem }]);
      }
      pieces.push(piece.bytes);
    }
  } catch (err) {
    if (err instanceof UserError) throw err;
    throw unreadable(err) ?? err;
  }
  const text = Buffer.concat(pieces).toString('utf8');
  return { state: parseDesiredState(text, displayName), text };
}

export function desiredStateCounts(state: DesiredState): { tenants: number; configurations: number; groups: number } {
  let configurations = 0;
  let groups = 0;
  for (const tenant of state.tenants) {
    configurations += tenant.configurations.length;
    for (const configuration of tenant.configurations) groups += configuration.groups.length;
  }
  return { tenants: state.tenants.length, configurations, groups };
}

/** Formatted like the enqueue command's problems (producer/input-problems.ts), in line order. */
function problemsError(source: string, problems: Problem[]): UserError {
  const sorted = [...problems].sort((a, b) => a.line - b.line);
  const details = sorted.slice(0, MAX_PROBLEM_LINES).map((p) => `${source}:${p.line}: ${p.reason}`);
  const hidden = sorted.length - details.length;
  if (hidden > 0) details.push(`… and ${hidden} more problems`);
  return new UserError(ErrorCodes.INPUT_INVALID, `${source}: ${sorted.length} problem(s), nothing was done`, 2, details);
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
        problems.push({ line: lineAt(alias.range?.[0] ?? 0), reason: `alias *${alias.source} has no anchor &${alias.source} before it` });
      }
    },
  });
  return problems;
}

/**
 * The line where `path` is written: the key's line for a mapping entry, the item's for a list item.
 * Where the path leaves the document (an absent key), the deepest node it reaches.
 */
function nodeLine(doc: Document, path: Path, lineAt: (offset: number) => number): number {
  let node: unknown = doc.contents;
  let line = rangeLine(node, lineAt) ?? 1;
  for (const segment of path) {
    if (isAlias(node)) node = node.resolve(doc);
    if (isMap(node)) {
      const pair = node.items.find((item) => (isScalar(item.key) ? String(item.key.value) : String(item.key)) === String(segment));
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

/** `tenants[0].configurations[1].groups[2]`; empty for the top level. */
function showPath(path: Path): string {
  let shown = '';
  for (const segment of path) shown += typeof segment === 'number' ? `[${segment}]` : `${shown === '' ? '' : '.'}${String(segment)}`;
  return shown;
}

function at(path: Path, reason: string): string {
  return path.length === 0 ? reason : `${showPath(path)}: ${reason}`;
}

function valueAt(data: unknown, path: Path): unknown {
  let value = data;
  for (const segment of path) {
    if (typeof value !== 'object' || value === null) return undefined;
    value = (value as Record<PropertyKey, unknown>)[segment];
  }
  return value;
}

function issueProblems(issue: z.core.$ZodIssue, data: unknown, lineOf: (path: Path) => number): Problem[] {
  const path = issue.path;
  if (issue.code === 'unrecognized_keys') {
    // One line per key, each at its own line: several typos in one mapping are several fixes.
    const list = [...path].reverse().find((segment) => typeof segment === 'string') ?? '';
    const known = KEYS_BY_LIST[String(list)] ?? [];
    return issue.keys.map((key) => {
      const meant = likelyMeant(key, known);
      const hint = meant === undefined ? `; expected ${known.map((k) => `"${k}"`).join(' and ')}` : ` (did you mean "${meant}"?)`;
      return { line: lineOf([...path, key]), reason: at(path, `unknown key ${showValue(key)}${hint}`) };
    });
  }
  // An absent key has no line of its own: the problem belongs to the mapping that lacks it.
  const where = path.length > 0 && valueAt(data, path) === undefined ? path.slice(0, -1) : path;
  return [{ line: lineOf(where), reason: at(where, issue.message) }];
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

/**
 * A tenant listed twice, or a configuration listed twice in one tenant, would leave "which list
 * wins?" to chance. Checked on the raw data, apart from the schema, so these are reported together
 * with every other problem rather than only once the rest is fixed. Ids that are not GUIDs are the
 * schema's to report and are skipped here.
 */
function repeatedIds(data: unknown, lineOf: (path: Path) => number): Problem[] {
  const problems: Problem[] = [];
  const repeats = (items: unknown, listPath: Path, idKey: string, what: string): void => {
    if (!Array.isArray(items)) return;
    const first = new Map<string, number>();
    items.forEach((item, index) => {
      const written: unknown = valueAt(item, [idKey]);
      if (typeof written !== 'string' || !isObjectId(written.trim())) return;
      const id = normalizeObjectId(written);
      const earlier = first.get(id);
      if (earlier === undefined) {
        first.set(id, index);
        return;
      }
      const earlierPath = [...listPath, earlier];
      const path = [...listPath, index, idKey];
      problems.push({
        line: lineOf(path),
        reason: at(path, `${what} ${id} is already listed at line ${lineOf([...earlierPath, idKey])} (${showPath(earlierPath)}); list it once`),
      });
    });
  };

  const tenants = valueAt(data, ['tenants']);
  repeats(tenants, ['tenants'], 'tenantId', 'tenant');
  if (Array.isArray(tenants)) {
    tenants.forEach((tenant, index) => {
      repeats(valueAt(tenant, ['configurations']), ['tenants', index, 'configurations'], 'configurationId', 'configuration');
    });
  }
  return problems;
}

/** `ENOENT`, `EISDIR`, `EACCES`…: the errno code of a failed open or read, or undefined for anything else. */
function systemErrorCode(err: unknown): string | undefined {
  if (!(err instanceof Error) || !('code' in err) || typeof err.code !== 'string') return undefined;
  return /^E[A-Z0-9]+$/.test(err.code) ? err.code : undefined;
}
