import { isObjectId, normalizeObjectId } from '../lib/object-id.js';
import type { DesiredState } from '../lib/queues/sync-queue.js';
import { desiredStateSchema, KEYS_BY_LIST } from './desired-state-schema.js';
import {
  at,
  parseYamlFile,
  readYamlFileText,
  showPath,
  valueAt,
  type DocumentPath,
  type Problem,
  type YamlFileKind,
} from './yaml-config-file.js';

export interface DesiredStateFileOptions {
  /** Read for the path `-`; defaults to process.stdin. */
  stdin?: NodeJS.ReadableStream;
}

const DESIRED_STATE_FILE: YamlFileKind<DesiredState> = {
  schema: desiredStateSchema,
  verdict: ', nothing was done',
  topLevel: 'a mapping with a "tenants" list',
  keysByParent: KEYS_BY_LIST,
  keySeparator: ' and ',
  crossCheck: repeatedIds,
};

/**
 * Parses and validates a desired-state file's text (YAML, or JSON, which YAML reads too). Every
 * problem is collected and thrown at once as a UserError (E_INPUT_INVALID, exit 2) whose details are
 * `<source>:<line>: <path>: <reason>`, in line order, so that one fix-and-retry round is enough.
 * Ids come back normalized and each configuration's groups each once.
 */
export function parseDesiredState(text: string, source: string): DesiredState {
  return parseYamlFile(text, source, DESIRED_STATE_FILE);
}

/**
 * Reads a desired-state file (`-` is stdin) and parses it. A file that cannot be opened or read
 * throws E_INPUT_UNREADABLE; binary or UTF-16 content and every problem parseDesiredState finds
 * throw E_INPUT_INVALID. `text` is the file as read, for callers that keep or fingerprint it.
 */
export async function readDesiredStateFile(
  path: string,
  options: DesiredStateFileOptions = {},
): Promise<{ state: DesiredState; text: string }> {
  const displayName = path === '-' ? 'stdin' : path;
  const text = await readYamlFileText(
    path === '-' ? (options.stdin ?? process.stdin) : path,
    displayName,
    DESIRED_STATE_FILE,
  );
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

/**
 * A tenant listed twice, or a configuration listed twice in one tenant, would leave "which list
 * wins?" to chance. Checked on the raw data, apart from the schema, so these are reported together
 * with every other problem rather than only once the rest is fixed. Ids that are not GUIDs are the
 * schema's to report and are skipped here.
 */
function repeatedIds(data: unknown, lineOf: (path: DocumentPath) => number): Problem[] {
  const problems: Problem[] = [];
  const repeats = (items: unknown, listPath: DocumentPath, idKey: string, what: string): void => {
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
        reason: at(
          path,
          `${what} ${id} is already listed at line ${lineOf([...earlierPath, idKey])} (${showPath(earlierPath)}); list it once`,
        ),
      });
    });
  };

  const tenants = valueAt(data, ['tenants']);
  repeats(tenants, ['tenants'], 'tenantId', 'tenant');
  if (Array.isArray(tenants)) {
    tenants.forEach((tenant, index) => {
      repeats(
        valueAt(tenant, ['configurations']),
        ['tenants', index, 'configurations'],
        'configurationId',
        'configuration',
      );
    });
  }
  return problems;
}
