/**
 * The delivery thread's entry (see thread.ts): its own connection to the
 * SQLite file, the project loaded from the same folder, and a delivery
 * worker, driven by the main thread's messages.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { loadProject, type Project } from '../config/load.js';
import { closeConnectors } from '../connectors/registry.js';
import { errorMessage } from '../errors.js';
import { createLogger } from '../log.js';
import { createMetrics } from '../ops/metrics.js';
import type { ChangeListener } from '../records/write.js';
import { reportProjection } from '../reports/projection.js';
import { keyringFromEnv } from '../secrets/keyring.js';
import { ConnectorSecrets } from '../secrets/runtime.js';
import { SecretStore } from '../secrets/store.js';
import { SqliteDb } from '../store/sqlite.js';
import { WriteGate } from '../store/write-gate.js';
import { createRouter } from './router.js';
import type { DeliveryThreadData, FromThread, ToThread } from './thread.js';
import { HandoffSlots } from './handoff.js';
import { DeliveryWorker } from './worker.js';

/** How often the thread publishes whether it is backlogged (a shared word; no message). */
const BACKLOG_PUBLISH_MS = 10;

const port = parentPort;
if (!port) throw new Error('thread-entry.ts runs as a worker thread of the hub');
const data = workerData as DeliveryThreadData;
const post = (m: FromThread) => port.postMessage(m);

const log = createLogger({ level: data.logLevel }).child({ thread: 'delivery' });
const db = new SqliteDb({ ...data.database, writeGate: new WriteGate(data.database.gate), checkpointer: false });
const backlogged = new Int32Array(data.backlogged);
const metrics = createMetrics({ processMetrics: false });
let project: Project;
let worker: DeliveryWorker;
let publisher: NodeJS.Timeout | undefined;

try {
  project = loadProject(data.projectDir, process.env);
  const secrets = new ConnectorSecrets(db, new SecretStore(db, keyringFromEnv(process.env)));
  // Records written back by a delivery are routed and projected here, in the thread's transaction, as on the main thread.
  const router = createRouter(() => project, () => worker.signal());
  const onChange: ChangeListener = async (q, change, record) => {
    await router(q, change, record);
    await reportProjection(q, change, record);
  };
  const handoff = new HandoffSlots(data.handoff.systems, data.handoff.buffer);
  worker = new DeliveryWorker({ db, project: () => project, log, metrics, onChange, secrets, handoff, ...data.worker });
  worker.start();
  publisher = setInterval(() => Atomics.store(backlogged, 0, worker.backlogged ? 1 : 0), BACKLOG_PUBLISH_MS);
  log.info({ database: db.description }, 'delivery worker running in its own thread');
  post({ type: 'ready', owner: worker.owner });
} catch (e) {
  post({ type: 'failed', message: errorMessage(e), ...(e instanceof Error && e.stack ? { stack: e.stack } : {}) });
  await db.close().catch(() => undefined);
  port.close();
}

port.on('message', (m: ToThread) => {
  switch (m.type) {
    case 'wake':
      worker.signal();
      break;
    case 'handoff':
      worker.accept(m.deliveries);
      break;
    case 'slots':
      worker.setHandoffSlots(new HandoffSlots(m.systems, m.buffer));
      break;
    case 'reload':
      try {
        project = loadProject(data.projectDir, process.env);
      } catch (e) {
        // The main thread validated these files a moment ago; a change since then is taken at the next reload.
        log.warn({ err: errorMessage(e) }, 'delivery thread kept its project: reloading failed');
      }
      break;
    case 'metrics':
      void metrics.registry.getMetricsAsJSON().then((list) => post({ type: 'metrics', id: m.id, metrics: list }));
      break;
    case 'stop':
      clearInterval(publisher);
      void (async () => {
        await worker.stop();
        await closeConnectors();
        await db.close();
        post({ type: 'stopped' });
        port.close();
      })().catch((e: unknown) => post({ type: 'failed', message: `stopping: ${errorMessage(e)}` }));
      break;
  }
});
