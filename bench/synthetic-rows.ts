import { randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import type { AssignmentRow } from '../lib/assignment-row.js';

/**
 * `count` rows over `tenants` tenants and `configurations` configurations per tenant, every group
 * new: the shape of a large real rollout (few tenants and policies, many groups), with fresh GUIDs so
 * runs never share a configuration's history in the emulator or a row marker in Redis.
 */
export function syntheticRows(count: number, shape: { tenants: string[]; configurations: number }): AssignmentRow[] {
  const configurations = shape.tenants.map(() => Array.from({ length: shape.configurations }, () => randomUUID()));
  const rows: AssignmentRow[] = [];
  for (let i = 0; i < count; i++) {
    const t = i % shape.tenants.length;
    const perTenant = Math.floor(i / shape.tenants.length);
    rows.push({
      tenantId: shape.tenants[t]!,
      configurationId: configurations[t]![perTenant % shape.configurations]!,
      groupId: randomUUID(),
    });
  }
  return rows;
}

/** Writes rows as the CSV `enqueue` reads (header, LF line ends), streaming rather than building one string. */
export async function writeRowsCsv(path: string, rows: readonly AssignmentRow[]): Promise<void> {
  const out = createWriteStream(path);
  const write = async (text: string) => {
    if (!out.write(text)) await once(out, 'drain');
  };
  await write('tenantId,configurationId,groupId\n');
  for (let i = 0; i < rows.length; i += 1000) {
    await write(
      rows
        .slice(i, i + 1000)
        .map((r) => `${r.tenantId},${r.configurationId},${r.groupId}\n`)
        .join(''),
    );
  }
  out.end();
  await once(out, 'finish');
}
