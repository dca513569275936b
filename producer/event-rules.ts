import { isAlias, isMap, isScalar, isSeq, type Document } from 'yaml';
import type { EventRule } from '../lib/queues/event-rule.js';
import { eventRulesSchema, RULE_KEYS_BY_PARENT } from './event-rules-schema.js';
import { showValue } from './row-validation.js';
import {
  at,
  parseYamlFile,
  readYamlFileText,
  valueAt,
  type DocumentPath,
  type Problem,
  type YamlFileKind,
} from './yaml-config-file.js';

/**
 * RULES_FILE: which events become which assignments. Read once at start and refused as a whole on
 * any problem, with every problem as `<file>:<line>: <path>: <reason>` (as the desired-state file
 * does), because a rule that silently never matches is found only when a group goes unassigned.
 *
 *     rules:
 *       - name: sales-baseline              # unique; 1-100 letters, digits, spaces, _ . -
 *         match:
 *           type: group.created             # one event type or a list (required)
 *           tenantId: 3f0e…                 # optional: one GUID or a list
 *           attributes:                     # optional: all must equal the event's, as strings
 *             department: Sales
 *           displayName: "^SG-Sales-"       # optional: JS regex on the group's name, or {pattern, flags}
 *         configurations: [5a1b…, 7e2c…]    # at least one GUID
 *
 * Matching happens in two steps because the display name costs a Graph read: candidateRules uses
 * what the event carries, matchedConfigurations then applies the display-name patterns.
 */

export type { EventRule } from '../lib/queues/event-rule.js';

/** What the matchers read of an event. */
export interface RuleEvent {
  type: string;
  tenantId: string;
  attributes: Record<string, string | number | boolean>;
}

const RULES_FILE: YamlFileKind<{ rules: EventRule[] }> = {
  schema: eventRulesSchema,
  verdict: ' in the rules file',
  topLevel: 'a mapping with a "rules" list',
  keysByParent: RULE_KEYS_BY_PARENT,
  keySeparator: ', ',
  prepare: keepAttributeNumbersAsWritten,
  crossCheck: repeatedNames,
};

/** Parses and validates a rules file's text (YAML or JSON); throws E_INPUT_INVALID listing every problem. */
export function parseEventRules(text: string, source: string): EventRule[] {
  return parseYamlFile(text, source, RULES_FILE).rules;
}

/** Reads and parses a rules file; E_INPUT_UNREADABLE when it cannot be read, E_INPUT_INVALID for its content. */
export async function readEventRulesFile(path: string): Promise<EventRule[]> {
  return parseEventRules(await readYamlFileText(path, path, RULES_FILE), path);
}

/** The rules whose type, tenant and attribute conditions the event meets; display names are not looked at. */
export function candidateRules(rules: readonly EventRule[], event: RuleEvent): EventRule[] {
  const tenantId = event.tenantId.toLowerCase();
  return rules.filter(
    (rule) =>
      rule.types.includes(event.type) &&
      (rule.tenants.length === 0 || rule.tenants.includes(tenantId)) &&
      Object.entries(rule.attributes).every(
        // hasOwn: an attribute the event lacks must not be found on Object.prototype ("constructor").
        ([name, value]) => Object.hasOwn(event.attributes, name) && String(event.attributes[name]) === value,
      ),
  );
}

/** Whether any of the rules has a display-name condition, i.e. whether the group must be read from Graph. */
export function needsDisplayName(rules: readonly EventRule[]): boolean {
  return rules.some((rule) => rule.displayName !== null);
}

/**
 * Applies the display-name conditions to candidate rules. `displayName` null (unknown, or the group
 * has none) fails every rule that has such a condition. Configurations come once each, in rule order.
 */
export function matchedConfigurations(
  rules: readonly EventRule[],
  displayName: string | null,
): { configurationIds: string[]; rules: string[] } {
  const matched = rules.filter(
    (rule) =>
      rule.displayName === null ||
      (displayName !== null && new RegExp(rule.displayName.pattern, rule.displayName.flags).test(displayName)),
  );
  return {
    configurationIds: [...new Set(matched.flatMap((rule) => rule.configurations))],
    rules: matched.map((rule) => rule.name),
  };
}

/**
 * Numbers under `attributes` are compared as text, so they must be the text written: YAML would read
 * `costCenter: 0042` as 42 and the rule would never match the "0042" the HR system sends.
 */
function keepAttributeNumbersAsWritten(doc: Document): void {
  const child = (node: unknown, key: string): unknown => {
    const resolved = isAlias(node) ? node.resolve(doc) : node;
    return isMap(resolved)
      ? resolved.items.find((pair) => isScalar(pair.key) && pair.key.value === key)?.value
      : undefined;
  };
  const rules = child(doc.contents, 'rules');
  const items = isAlias(rules) ? rules.resolve(doc) : rules;
  if (!isSeq(items)) return;
  for (const rule of items.items) {
    const attributes = child(child(rule, 'match'), 'attributes');
    const map = isAlias(attributes) ? attributes.resolve(doc) : attributes;
    if (!isMap(map)) continue;
    for (const pair of map.items) {
      const value = isAlias(pair.value) ? pair.value.resolve(doc) : pair.value;
      if (isScalar(value) && typeof value.value === 'number' && value.source !== undefined) value.value = value.source;
    }
  }
}

/** A rule name written twice would make logs and rollout names ambiguous. */
function repeatedNames(data: unknown, lineOf: (path: DocumentPath) => number): Problem[] {
  const rules = valueAt(data, ['rules']);
  if (!Array.isArray(rules)) return [];
  const first = new Map<string, number>();
  const problems: Problem[] = [];
  rules.forEach((rule, index) => {
    const name: unknown = valueAt(rule, ['name']);
    if (typeof name !== 'string') return;
    const earlier = first.get(name);
    if (earlier === undefined) {
      first.set(name, index);
      return;
    }
    const path = ['rules', index, 'name'];
    problems.push({
      line: lineOf(path),
      reason: at(
        path,
        `rule name ${showValue(name)} is already used at line ${lineOf(['rules', earlier, 'name'])} (rules[${earlier}]); names must be unique`,
      ),
    });
  });
  return problems;
}
