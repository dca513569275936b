import { randomUUID } from 'node:crypto';
import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer } from 'node:http';
import {
  connect,
  createServer as createTcpServer,
  type AddressInfo,
  type Server as TcpServer,
  type Socket,
} from 'node:net';
import type { Duplex } from 'node:stream';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { AssignmentRow } from '../../lib/assignment-row.js';
import { makeRows, startStack, type Stack, type WorkerHandle } from '../support/stack.js';
import { enqueueRows, expectAllSucceeded, expectEachAssignedOnce, reportOf } from '../support/rollout-checks.js';

/**
 * Behind a corporate proxy: with HTTPS_PROXY set, every request of the worker (Entra ID's token
 * endpoint through MSAL, and Graph) is tunnelled through the proxy with CONNECT; hosts in NO_PROXY
 * are reached directly.
 */

interface ConnectProxy {
  url: string;
  /** Every CONNECT target (`host:port`) as the client asked for it, in order. */
  targets: string[];
  close(): Promise<void>;
}

/**
 * A minimal HTTP CONNECT proxy. `route` may send a tunnel somewhere else than the target the client
 * named (as a proxy with its own DNS view would); plain HTTP requests are refused.
 */
async function startConnectProxy(
  route: (host: string, port: number) => { host: string; port: number } = (host, port) => ({ host, port }),
): Promise<ConnectProxy> {
  const targets: string[] = [];
  const sockets = new Set<Duplex>();
  const server: HttpServer = createHttpServer((_req, res) => {
    res.writeHead(405, { 'content-type': 'text/plain' }).end('CONNECT only\n');
  });
  server.on('connect', (req: IncomingMessage, client: Duplex, head: Buffer) => {
    const target = req.url ?? '';
    targets.push(target);
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    client.on('error', () => client.destroy());
    const match = /^(\[[^\]]+\]|[^:]+):(\d+)$/.exec(target);
    if (!match) {
      client.end('HTTP/1.1 400 Bad Request\r\n\r\n');
      return;
    }
    const to = route(match[1]!.replace(/^\[|\]$/g, ''), Number(match[2]));
    const upstream: Socket = connect(to.port, to.host, () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    sockets.add(upstream);
    upstream.on('close', () => {
      sockets.delete(upstream);
      client.destroy();
    });
    upstream.on('error', () => {
      if (!client.destroyed) client.end('HTTP/1.1 502 Bad Gateway\r\n\r\n');
    });
    client.on('close', () => upstream.destroy());
  });
  await new Promise<void>((resolveListen) => server.listen(0, '127.0.0.1', resolveListen));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    targets,
    close: () =>
      new Promise<void>((resolveClose) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolveClose());
      }),
  };
}

/**
 * A port that takes connections and drops them at once, counting them: a client that dials it directly bypassed the
 * proxy.
 */
async function startTrap(): Promise<{ port: number; connections: () => number; close(): Promise<void> }> {
  let connections = 0;
  const server: TcpServer = createTcpServer((socket) => {
    connections += 1;
    socket.destroy();
  });
  await new Promise<void>((resolveListen) => server.listen(0, '127.0.0.1', resolveListen));
  return {
    port: (server.address() as AddressInfo).port,
    connections: () => connections,
    close: () => new Promise<void>((resolveClose) => server.close(() => resolveClose())),
  };
}

describe('a worker behind an HTTPS proxy', () => {
  let stack: Stack;
  let emulatorHostPort: string;
  const running: WorkerHandle[] = [];
  const closers: (() => Promise<void>)[] = [];

  beforeAll(async () => {
    stack = await startStack();
    emulatorHostPort = new URL(stack.emulator.origin).host;
  });
  afterEach(async () => {
    // One worker per case, so each case's traffic is that worker's alone.
    await Promise.all(running.splice(0).map((w) => w.stop('SIGKILL')));
    await Promise.all(closers.splice(0).map((close) => close()));
  });
  afterAll(async () => {
    await stack?.stop();
  });

  /**
   * Starts one worker with `env` while ten fresh rows of a tenant of their own are enqueued through
   * the CLI, waits for the rollout, and checks every row succeeded and is in Graph exactly once.
   */
  async function rollOut(env: NodeJS.ProcessEnv): Promise<{ tenantId: string; rows: AssignmentRow[] }> {
    const tenantId = randomUUID();
    const rows = makeRows([tenantId], 2, 5);
    await stack.control.createConfigurations(rows);
    const [worker, rolloutId] = await Promise.all([stack.worker(env), enqueueRows(stack, rows)]);
    running.push(worker);
    const counters = await stack.waitFinished(rolloutId, 20_000);
    expect({
      total: Number(counters.total),
      created: Number(counters.created),
      failed: Number(counters.failed),
    }).toEqual({ total: rows.length, created: rows.length, failed: 0 });
    expectAllSucceeded(await reportOf(stack, rolloutId), rows);
    await expectEachAssignedOnce(stack, rows);
    // The worker did get a token from Entra ID: the token path was exercised, not only Graph.
    expect((await stack.control.stats()).tenants[tenantId]?.tokensIssued).toBeGreaterThanOrEqual(1);
    return { tenantId, rows };
  }

  it('sends the token requests and the Graph calls through the proxy (HTTPS_PROXY)', async () => {
    const proxy = await startConnectProxy();
    closers.push(proxy.close);
    const { tenantId, rows } = await rollOut({ HTTPS_PROXY: proxy.url });

    expect((await stack.control.stats()).tenants[tenantId]?.writesAccepted).toBe(rows.length);
    expect(proxy.targets.length).toBeGreaterThanOrEqual(1);
    expect(new Set(proxy.targets)).toEqual(new Set([emulatorHostPort]));
  });

  it('does not bypass the proxy for Entra ID or Graph: the configured address is only reachable through it', async () => {
    // The worker is told the emulator lives on a port that drops every direct connection; only the
    // proxy knows to send that address's tunnels to the emulator. A token request or Graph call that
    // skipped the proxy would land on the trap and the row would never succeed.
    const trap = await startTrap();
    closers.push(trap.close);
    const emulatorPort = Number(new URL(stack.emulator.origin).port);
    const proxy = await startConnectProxy((host, port) =>
      port === trap.port ? { host, port: emulatorPort } : { host, port },
    );
    closers.push(proxy.close);
    const advertised = `https://127.0.0.1:${trap.port}`;
    await rollOut({ HTTPS_PROXY: proxy.url, AZURE_AUTHORITY_HOST: advertised, GRAPH_BASE_URL: `${advertised}/beta` });

    expect(trap.connections()).toBe(0);
    expect(proxy.targets.length).toBeGreaterThanOrEqual(1);
    expect(new Set(proxy.targets)).toEqual(new Set([`127.0.0.1:${trap.port}`]));
  });

  it('goes direct to hosts in NO_PROXY', async () => {
    const proxy = await startConnectProxy();
    closers.push(proxy.close);
    await rollOut({ HTTPS_PROXY: proxy.url, NO_PROXY: '127.0.0.1' });

    expect(proxy.targets).toEqual([]);
  });
});
