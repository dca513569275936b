import type { Got } from 'got';
import { describe, expect, it } from 'vitest';
import { AssignmentsApi } from '../../lib/graph/assignments-api.js';
import type { AssignmentKind } from '../../lib/graph/assignment-kind.js';
import type { TokenProvider } from '../../lib/graph/token-provider.js';

const BASE = 'https://graph.test/beta';

/** A made-up kind, so what the API sends can only have come from the kind. */
const appKind: AssignmentKind = {
  collectionPath: (id) => `/deviceAppManagement/mobileApps/${id}/assignments`,
  assignmentPath: (id, assignmentId) => `/deviceAppManagement/mobileApps/${id}/assignments/${assignmentId}`,
  createBody: (groupId) => ({ intent: 'required', target: { groupId } }),
  readAssignment: (value) => ({ id: String((value as { id?: unknown }).id), groupId: 'read-by-the-kind' }),
  assignedGroup: (a) => a.groupId,
};

function recordingApi(answer: { statusCode: number; body: string }) {
  const requests: { url: string; method: string; body?: string }[] = [];
  const http = (async (url: string, options: { method: string; body?: string }) => {
    requests.push({ url, method: options.method, body: options.body });
    return { ...answer, headers: {}, timings: { start: 0, upload: 0 } };
  }) as unknown as Got;
  const tokens = { token: async () => 'token' } as unknown as TokenProvider;
  return { api: new AssignmentsApi(http, tokens, BASE, appKind), requests };
}

describe('AssignmentsApi with an assignment kind', () => {
  it("posts the kind's body to the kind's collection and reads the answer the kind's way", async () => {
    const { api, requests } = recordingApi({ statusCode: 201, body: '{"id":"new"}' });
    const result = await api.create('t', 'app-1', 'g-1');
    expect(requests).toEqual([
      {
        url: `${BASE}/deviceAppManagement/mobileApps/app-1/assignments`,
        method: 'POST',
        body: '{"intent":"required","target":{"groupId":"g-1"}}',
      },
    ]);
    expect(result.assignment).toEqual({ id: 'new', groupId: 'read-by-the-kind' });
  });

  it("lists, gets and deletes at the kind's paths", async () => {
    const { api, requests } = recordingApi({ statusCode: 200, body: '{"value":[{"id":"x"}]}' });
    expect((await api.listPage('t', 'app-1', undefined)).assignments).toEqual([
      { id: 'x', groupId: 'read-by-the-kind' },
    ]);
    await api.get('t', 'app-1', 'x');
    await api.delete('t', 'app-1', 'x');
    expect(requests.map((r) => `${r.method} ${r.url}`)).toEqual([
      `GET ${BASE}/deviceAppManagement/mobileApps/app-1/assignments`,
      `GET ${BASE}/deviceAppManagement/mobileApps/app-1/assignments/x`,
      `DELETE ${BASE}/deviceAppManagement/mobileApps/app-1/assignments/x`,
    ]);
    expect(api.kind).toBe(appKind);
  });
});
