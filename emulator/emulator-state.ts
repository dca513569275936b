import { randomUUID } from 'node:crypto';

/**
 * The truth: what the emulated Graph holds, per tenant (configurations, their assignments, groups).
 * Ids are stored in canonical form (lower-case GUIDs); callers validate and normalize before they get
 * here. Nothing in this file knows about HTTP, limits or faults, so the control API can compare any
 * client's belief against it.
 */
export interface Configuration {
  id: string;
  displayName: string;
  /** ISO time the configuration came into being (control API, Graph POST or first use). */
  createdDateTime: string;
}

export interface Assignment {
  id: string;
  configurationId: string;
  groupId: string;
  /** Global creation order; list pages continue after the last seq they showed. */
  seq: number;
  createdDateTime: string;
}

/** A directory group, as far as rules read one: its display name. */
export interface Group {
  id: string;
  displayName: string;
  createdDateTime: string;
}

/** `GET /_emulator/truth`: counts of assignments per (tenant, configuration, group). */
export interface Truth {
  assignments: number;
  /** Assignments beyond the first for the same (tenant, configuration, group). */
  duplicates: number;
  tenants: Record<string, Record<string, Record<string, number>>>;
}

interface ConfigurationEntry {
  configuration: Configuration;
  /** By assignment id; a Map keeps insertion (= seq) order, which listing relies on. */
  assignments: Map<string, Assignment>;
}

export class EmulatorState {
  private tenants = new Map<string, Map<string, ConfigurationEntry>>();
  private nextSeq = 1;
  /** (tenant/configuration) -> HTTP status every read of its assignments answers (control API). */
  private readFailures = new Map<string, number>();
  /** tenant -> group id -> group. Only what the control API created exists, even when not strict. */
  private groups = new Map<string, Map<string, Group>>();

  /**
   * @param strictConfigurations when false (lenient), any configuration id exists: the first lookup
   *   creates it, which is how a dry run works against the ids of a real tenant's rollout file.
   */
  constructor(readonly strictConfigurations: boolean) {}

  /** The configuration if it exists (or, when lenient, after creating it). */
  findConfiguration(tenantId: string, configurationId: string): Configuration | undefined {
    return this.entry(tenantId, configurationId, !this.strictConfigurations)?.configuration;
  }

  /**
   * Creates a configuration, or updates the display name of an existing one with that id.
   * `created` tells which, so the caller can answer 201 or 200.
   */
  putConfiguration(
    tenantId: string,
    fields: { id?: string; displayName?: string },
  ): { configuration: Configuration; created: boolean } {
    const id = fields.id ?? randomUUID();
    const existing = this.entry(tenantId, id, false);
    if (existing) {
      if (fields.displayName !== undefined) existing.configuration.displayName = fields.displayName;
      return { configuration: existing.configuration, created: false };
    }
    const entry = this.entry(tenantId, id, true) as ConfigurationEntry;
    if (fields.displayName !== undefined) entry.configuration.displayName = fields.displayName;
    return { configuration: entry.configuration, created: true };
  }

  listConfigurations(tenantId: string): Configuration[] {
    return [...(this.tenants.get(tenantId)?.values() ?? [])].map((entry) => entry.configuration);
  }

  /**
   * Creates one assignment. Never refuses a group that is already assigned: real Graph is assumed to
   * create a duplicate, and the truth has to show it. The configuration is created if missing, since
   * an assignment cannot exist without one (seeding in strict mode relies on that).
   */
  addAssignment(tenantId: string, configurationId: string, groupId: string): Assignment {
    const entry = this.entry(tenantId, configurationId, true) as ConfigurationEntry;
    const assignment: Assignment = {
      id: randomUUID(),
      configurationId,
      groupId,
      seq: this.nextSeq++,
      createdDateTime: new Date().toISOString(),
    };
    entry.assignments.set(assignment.id, assignment);
    return assignment;
  }

  /** Up to `limit` assignments created after `afterSeq`, and whether more follow. */
  listAssignments(
    tenantId: string,
    configurationId: string,
    afterSeq: number,
    limit: number,
  ): { page: Assignment[]; more: boolean } {
    const page: Assignment[] = [];
    const all = this.entry(tenantId, configurationId, false)?.assignments.values() ?? [];
    for (const assignment of all) {
      if (assignment.seq <= afterSeq) continue;
      if (page.length === limit) return { page, more: true };
      page.push(assignment);
    }
    return { page, more: false };
  }

  getAssignment(tenantId: string, configurationId: string, assignmentId: string): Assignment | undefined {
    return this.entry(tenantId, configurationId, false)?.assignments.get(assignmentId);
  }

  deleteAssignment(tenantId: string, configurationId: string, assignmentId: string): boolean {
    return this.entry(tenantId, configurationId, false)?.assignments.delete(assignmentId) ?? false;
  }

  /** Creates a group, or renames the one with that id. */
  putGroup(tenantId: string, fields: { id?: string; displayName: string }): Group {
    let groups = this.groups.get(tenantId);
    if (!groups) {
      groups = new Map();
      this.groups.set(tenantId, groups);
    }
    const id = fields.id ?? randomUUID();
    const existing = groups.get(id);
    if (existing) {
      existing.displayName = fields.displayName;
      return existing;
    }
    const group: Group = { id, displayName: fields.displayName, createdDateTime: new Date().toISOString() };
    groups.set(id, group);
    return group;
  }

  findGroup(tenantId: string, groupId: string): Group | undefined {
    return this.groups.get(tenantId)?.get(groupId);
  }

  truth(): Truth {
    const truth: Truth = { assignments: 0, duplicates: 0, tenants: {} };
    for (const [tenantId, configurations] of this.tenants) {
      for (const [configurationId, entry] of configurations) {
        if (entry.assignments.size === 0) continue;
        const groups: Record<string, number> = {};
        for (const assignment of entry.assignments.values()) {
          groups[assignment.groupId] = (groups[assignment.groupId] ?? 0) + 1;
        }
        for (const count of Object.values(groups)) {
          truth.assignments += count;
          truth.duplicates += count - 1;
        }
        truth.tenants[tenantId] ??= {};
        truth.tenants[tenantId][configurationId] = groups;
      }
    }
    return truth;
  }

  /** Makes every read of the configuration's assignments fail with `status` (null: read normally again). */
  setReadFailure(tenantId: string, configurationId: string, status: number | null): void {
    if (status === null) this.readFailures.delete(`${tenantId}/${configurationId}`);
    else this.readFailures.set(`${tenantId}/${configurationId}`, status);
  }

  readFailure(tenantId: string, configurationId: string): number | undefined {
    return this.readFailures.get(`${tenantId}/${configurationId}`);
  }

  clear(): void {
    // nextSeq keeps counting: a skiptoken handed out before the reset must not match new assignments.
    this.tenants = new Map();
    this.readFailures = new Map();
    this.groups = new Map();
  }

  private entry(tenantId: string, configurationId: string, create: boolean): ConfigurationEntry | undefined {
    let configurations = this.tenants.get(tenantId);
    const existing = configurations?.get(configurationId);
    if (existing || !create) return existing;
    if (!configurations) {
      configurations = new Map();
      this.tenants.set(tenantId, configurations);
    }
    const entry: ConfigurationEntry = {
      configuration: {
        id: configurationId,
        displayName: `Emulated configuration ${configurationId.slice(0, 8)}`,
        createdDateTime: new Date().toISOString(),
      },
      assignments: new Map(),
    };
    configurations.set(configurationId, entry);
    return entry;
  }
}
