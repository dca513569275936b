import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signEvent } from '../../producer/event-signature.js';
import type { RolloutStatus } from '../../lib/rollout/rollout-store.js';
import { startStack, type ServerHandle, type Stack } from '../support/stack.js';

const SECRET = 'test-hmac-secret-0123456789';
const CLIENT_STATE = 'our-subscription-state';

/**
 * `assignments serve` event intake through the real server, worker and emulator: signatures, the
 * rules, debouncing, the Graph webhook, bad payloads.
 */
describe('event intake', () => {
  let stack: Stack;
  let server: ServerHandle;
  const salesConfigs = [randomUUID(), randomUUID()];
  const namedConfig = randomUUID();

  beforeAll(async () => {
    stack = await startStack();
    for (const id of [...salesConfigs, namedConfig]) await stack.control.createConfiguration(stack.tenantId, { id });
    const rules = join(stack.dir, 'rules.yaml');
    writeFileSync(
      rules,
      [
        'rules:',
        '  - name: sales',
        '    match:',
        '      type: group.created',
        '      attributes: { department: Sales }',
        `    configurations: [${salesConfigs.join(', ')}]`,
        '  - name: intune-groups',
        '    match:',
        '      type: [group.created, group.updated]',
        '      displayName: "^SG-Intune-"',
        `    configurations: [${namedConfig}]`,
        '',
      ].join('\n'),
    );
    server = await stack.serve({
      EVENTS_HMAC_SECRET: SECRET,
      RULES_FILE: rules,
      GRAPH_WEBHOOK_CLIENT_STATE: CLIENT_STATE,
      EVENT_DEBOUNCE_MS: '1000',
      EVENTS_MAX_BODY_BYTES: '4096',
    });
    await stack.worker();
  });
  afterAll(async () => {
    await stack?.stop();
  });

  const post = (path: string, body: string, headers: Record<string, string> = {}) =>
    fetch(`${server.url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body,
    });

  const sendEvent = (event: Record<string, unknown>, options: { secret?: string; timestampSeconds?: number } = {}) => {
    const body = JSON.stringify(event);
    return post(
      '/events',
      body,
      signEvent(options.secret ?? SECRET, body, options.timestampSeconds ?? Math.floor(Date.now() / 1000)),
    );
  };

  const rolloutsNamed = async (name: string): Promise<RolloutStatus[]> => {
    const list = await stack.cli(['list', '--json']);
    return (JSON.parse(list.stdout) as RolloutStatus[]).filter((r) => r.name === name);
  };

  const waitForRollout = async (name: string, timeoutMs = 30_000): Promise<RolloutStatus> => {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const [r] = await rolloutsNamed(name);
      if (r && r.state === 'finished') return r;
      if (Date.now() > until) throw new Error(`no finished rollout named ${name}`);
      await sleep(250);
    }
  };

  it('turns a signed event that matches a rule into a rollout named after it, once per event id', async () => {
    const groupId = randomUUID();
    const event = {
      id: `evt-${randomUUID()}`,
      type: 'group.created',
      tenantId: stack.tenantId,
      groupId,
      attributes: { department: 'Sales' },
    };
    const first = await sendEvent(event);
    expect(first.status).toBe(202);
    expect(await first.json()).toMatchObject({ id: event.id, status: 'accepted', rules: ['sales', 'intune-groups'] });
    // The same delivery again (a sender's retry): acknowledged, ignored.
    const again = await sendEvent(event);
    expect(again.status).toBe(200);
    expect(await again.json()).toMatchObject({ status: 'duplicate' });

    const rollout = await waitForRollout(`group.created ${event.id}`);
    expect(rollout).toMatchObject({ total: 2, created: 2 });
    await sleep(1500);
    expect(await rolloutsNamed(`group.created ${event.id}`)).toHaveLength(1);
    const truth = (await stack.control.truth()).tenants[stack.tenantId]!;
    for (const c of salesConfigs) expect(truth[c]).toEqual({ [groupId]: 1 });
  });

  it('matches a display-name rule by reading the group from Graph, and assigns nothing when it does not match', async () => {
    const named = await stack.control.createGroup(stack.tenantId, { displayName: 'SG-Intune-Pilot' });
    const other = await stack.control.createGroup(stack.tenantId, { displayName: 'Marketing' });
    const hit = { id: `evt-${randomUUID()}`, type: 'group.updated', tenantId: stack.tenantId, groupId: named.id };
    const miss = { id: `evt-${randomUUID()}`, type: 'group.updated', tenantId: stack.tenantId, groupId: other.id };
    expect((await sendEvent(hit)).status).toBe(202);
    expect((await sendEvent(miss)).status).toBe(202);
    const rollout = await waitForRollout(`group.updated ${hit.id}`);
    expect(rollout).toMatchObject({ total: 1, created: 1 });
    await sleep(2000);
    expect(await rolloutsNamed(`group.updated ${miss.id}`)).toEqual([]);
    const truth = (await stack.control.truth()).tenants[stack.tenantId]!;
    expect(truth[namedConfig]).toEqual({ [named.id]: 1 });
  });

  it('folds a burst of events for the same group into one job', async () => {
    const groupId = randomUUID();
    const ids = Array.from({ length: 5 }, () => `evt-${randomUUID()}`);
    for (const id of ids) {
      const res = await sendEvent({
        id,
        type: 'group.created',
        tenantId: stack.tenantId,
        groupId,
        attributes: { department: 'Sales' },
      });
      expect(res.status).toBe(202);
    }
    // The job runs a second after the last event, carrying it.
    const rollout = await waitForRollout(`group.created ${ids[4]}`);
    expect(rollout.total).toBe(2);
    await sleep(1500);
    for (const id of ids.slice(0, 4)) expect(await rolloutsNamed(`group.created ${id}`)).toEqual([]);
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    expect(metrics).toMatch(/assignments_events_duplicates_total\{source="events",why="debounced"\} [4-9]/);
  });

  it('answers 401 for a bad, stale or missing signature, 400 for a bad payload, 413 for an oversized body, and queues nothing', async () => {
    const event = {
      id: `evt-${randomUUID()}`,
      type: 'group.created',
      tenantId: stack.tenantId,
      groupId: randomUUID(),
      attributes: { department: 'Sales' },
    };
    const wrongKey = await sendEvent(event, { secret: 'another-secret-0123456789' });
    expect(wrongKey.status).toBe(401);
    expect(await wrongKey.json()).toEqual({ error: 'bad signature' });
    const stale = await sendEvent(event, { timestampSeconds: Math.floor(Date.now() / 1000) - 301 });
    expect(stale.status).toBe(401);
    expect((await stale.json()) as { error: string }).toMatchObject({ error: expect.stringContaining('stale') });
    const unsigned = await post('/events', JSON.stringify(event));
    expect(unsigned.status).toBe(401);
    // Signed, then one byte changed.
    const body = JSON.stringify(event);
    const tampered = await post(
      '/events',
      body.replace('Sales', 'Salez'),
      signEvent(SECRET, body, Math.floor(Date.now() / 1000)),
    );
    expect(tampered.status).toBe(401);

    const notJson = 'not json';
    const bad = await post('/events', notJson, signEvent(SECRET, notJson, Math.floor(Date.now() / 1000)));
    expect(bad.status).toBe(400);
    const noGroup = JSON.stringify({ ...event, groupId: 'nope' });
    const badField = await post('/events', noGroup, signEvent(SECRET, noGroup, Math.floor(Date.now() / 1000)));
    expect(badField.status).toBe(400);
    expect(((await badField.json()) as { error: string }).error).toContain('groupId');

    const huge = JSON.stringify({ ...event, attributes: { department: 'x'.repeat(5000) } });
    const tooLarge = await post('/events', huge, signEvent(SECRET, huge, Math.floor(Date.now() / 1000)));
    expect(tooLarge.status).toBe(413);

    // The event id was never accepted: a correct delivery now goes through.
    expect((await sendEvent(event)).status).toBe(202);
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    expect(metrics).toMatch(/assignments_events_rejected_total\{source="events",reason="bad-signature"\} [3-9]/);
    expect(metrics).toMatch(/assignments_events_rejected_total\{source="events",reason="stale"\} [1-9]/);
    expect(metrics).toMatch(/assignments_events_rejected_total\{source="events",reason="too-large"\} [1-9]/);
  });

  it('answers the Graph validation handshake and queues notifications with our clientState only', async () => {
    const token = 'Validation: Token with spaces & symbols';
    const handshake = await fetch(`${server.url}/webhooks/graph?validationToken=${encodeURIComponent(token)}`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain' },
    });
    expect(handshake.status).toBe(200);
    expect(handshake.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(await handshake.text()).toBe(token);

    const ours = await stack.control.createGroup(stack.tenantId, { displayName: 'SG-Intune-Webhook' });
    const forged = await stack.control.createGroup(stack.tenantId, { displayName: 'SG-Intune-Forged' });
    const notification = (groupId: string, clientState: string) => ({
      subscriptionId: randomUUID(),
      changeType: 'updated',
      clientState,
      resource: `Groups/${groupId}`,
      resourceData: { '@odata.type': '#Microsoft.Graph.Group', id: groupId },
      tenantId: stack.tenantId,
    });
    const res = await post(
      '/webhooks/graph',
      JSON.stringify({ value: [notification(ours.id, CLIENT_STATE), notification(forged.id, 'not-ours')] }),
    );
    expect(res.status).toBe(202);
    expect(await res.json()).toMatchObject({ queued: 1 });

    const until = Date.now() + 30_000;
    for (;;) {
      const truth = (await stack.control.truth()).tenants[stack.tenantId]![namedConfig] ?? {};
      if (truth[ours.id] === 1) {
        expect(truth[forged.id]).toBeUndefined();
        break;
      }
      if (Date.now() > until) throw new Error('the notified group was not assigned');
      await sleep(250);
    }
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    expect(metrics).toMatch(/assignments_events_rejected_total\{source="graph-webhook",reason="client-state"\} 1/);
    const bad = await post('/webhooks/graph', '{"nope": 1}');
    expect(bad.status).toBe(400);
  });

  it('reports health, and readiness with the workers it sees', async () => {
    expect(await (await fetch(`${server.url}/healthz`)).json()).toEqual({ status: 'ok' });
    const ready = await fetch(`${server.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ status: 'ready', redis: 'up', workers: 1 });
  });
});
