/**
 * One rule of RULES_FILE, validated and normalized: events it matches become assignments of the
 * group to `configurations`. Every condition given must hold.
 */
export interface EventRule {
  /** Unique within the file; shown in logs and rollout names. */
  name: string;
  /** Event types it matches (e.g. group.created); at least one. */
  types: string[];
  /** Only events of these tenants (lower-case GUIDs); empty = any tenant. */
  tenants: string[];
  /** Attribute equality: the event's attribute, as a string, must equal the value. */
  attributes: Record<string, string>;
  /** A regular expression the group's display name (read from Graph) must match; null = no condition. */
  displayName: { pattern: string; flags: string } | null;
  /** Configuration ids (lower-case GUIDs) to assign the group to; at least one. */
  configurations: string[];
}
