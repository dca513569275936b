import https from 'node:https';
import { Worker, type Job } from 'bullmq';
import { got } from 'got';
import { Redis } from 'ioredis';
import { QUEUE_NAME, type AssignmentJobData } from '../lib/queues/assignment-queue.js';
import { officeClientConfigurationKind as kind } from '../lib/graph/kinds/office-client-configuration.js';

/**
 * The worker-overhead benchmark's baseline, run as a process like `assignments worker`: a bare BullMQ
 * Worker that makes the same POST for each job and nothing else. No lanes, no markers, no listings,
 * no outcomes, no logs; one bearer token per tenant, fetched once; a keep-alive agent sized as the real
 * worker sizes its own. What the real worker does beyond this is the pipeline's overhead.
 *
 * Environment: REDIS_URL, QUEUE_PREFIX, WORKER_CONCURRENCY, GRAPH_BASE_URL, AZURE_AUTHORITY_HOST,
 * AZURE_CLIENT_ID, AZURE_CLIENT_SECRET (what `emulator.env()` gives), NODE_EXTRA_CA_CERTS.
 * Logs "bare worker started" on stderr when it takes jobs; stops on SIGTERM.
 */
const env = (name: string): string => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};
const concurrency = Number(env('WORKER_CONCURRENCY'));
const graphBaseUrl = env('GRAPH_BASE_URL');
const agent = new https.Agent({ keepAlive: true, maxSockets: concurrency + 8, maxFreeSockets: concurrency + 8 });
const http = got.extend({
  agent: { https: agent },
  retry: { limit: 0 },
  throwHttpErrors: false,
  timeout: { request: 20_000 },
  responseType: 'text',
});

const tokens = new Map<string, Promise<string>>();
function token(tenantId: string): Promise<string> {
  let t = tokens.get(tenantId);
  if (!t) {
    t = http
      .post(`${env('AZURE_AUTHORITY_HOST')}/${tenantId}/oauth2/v2.0/token`, {
        form: {
          grant_type: 'client_credentials',
          client_id: env('AZURE_CLIENT_ID'),
          client_secret: env('AZURE_CLIENT_SECRET'),
          scope: 'https://graph.microsoft.com/.default',
        },
      })
      .then((res) => {
        if (res.statusCode !== 200) throw new Error(`token endpoint answered ${res.statusCode}: ${res.body}`);
        return (JSON.parse(res.body) as { access_token: string }).access_token;
      });
    tokens.set(tenantId, t);
  }
  return t;
}

async function process_(job: Job<AssignmentJobData>): Promise<void> {
  const d = job.data;
  const res = await http.post(`${graphBaseUrl}${kind.collectionPath(d.configurationId)}`, {
    headers: { authorization: `Bearer ${await token(d.tenantId)}` },
    json: kind.createBody(d.groupId),
  });
  if (res.statusCode !== 201) throw new Error(`POST answered ${res.statusCode}: ${res.body}`);
  JSON.parse(res.body);
}

const worker = new Worker<AssignmentJobData>(QUEUE_NAME, process_, {
  connection: new Redis(env('REDIS_URL'), { maxRetriesPerRequest: null }),
  prefix: env('QUEUE_PREFIX'),
  concurrency,
  // The jobs carry the real backoff type; the baseline should never need it.
  settings: { backoffStrategy: () => 1000 },
});
worker.on('failed', (job, err) => process.stderr.write(`job ${job?.id} failed: ${err.message}\n`));
await worker.waitUntilReady();
process.stderr.write('bare worker started\n');
process.on('SIGTERM', () => {
  void worker.close().then(() => process.exit(0));
});
