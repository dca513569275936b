/**
 * Graph and Entra ID object ids (tenants, configurations, groups) are GUIDs. Anything else is refused
 * before it gets near a URL, so nothing a user writes can change a request's path.
 */
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isObjectId(value: string): boolean {
  return GUID.test(value);
}

/** Canonical form (lower case) so the same id written two ways is one id. */
export function normalizeObjectId(value: string): string {
  return value.trim().toLowerCase();
}
