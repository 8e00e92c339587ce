import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Worker } from 'node:worker_threads';
import { WriteGate } from '../../src/store/write-gate.js';

/**
 * The write gate between threads: a second thread waits while the first
 * holds it (without blocking its own event loop), and gets it once freed.
 * The other thread is plain JavaScript on the same shared words, doing what
 * WriteGate.acquire does, so the test needs no loader in the thread.
 */
const OTHER = `
const { parentPort, workerData } = require('node:worker_threads');
const word = new Int32Array(workerData);
(async () => {
  Atomics.add(word, 1, 1);
  while (Atomics.compareExchange(word, 0, 0, 1) !== 0) {
    const w = Atomics.waitAsync(word, 0, 1, 100);
    if (w.async) await w.value;
  }
  Atomics.sub(word, 1, 1);
  parentPort.postMessage('held');
  Atomics.store(word, 0, 0);
  Atomics.notify(word, 0, 1);
})();
let ticks = 0;
const t = setInterval(() => { if (++ticks === 3) parentPort.postMessage('loop alive'); }, 5);
parentPort.on('message', () => { clearInterval(t); parentPort.close(); });
`;

test('the write gate: one holder at a time across threads, waiters keep their event loop', async () => {
  const gate = new WriteGate();
  await gate.acquire();
  const other = new Worker(OTHER, { eval: true, workerData: gate.buffer });
  const events: string[] = [];
  const held = new Promise<void>((resolve) => other.on('message', (m: string) => (events.push(m), m === 'held' && resolve())));
  // The other thread is waiting (its timers still fire) and does not get the gate while this one holds it.
  while (!events.includes('loop alive')) await new Promise((r) => setTimeout(r, 5));
  assert.ok(!events.includes('held'));
  gate.release();
  await held;
  // It released in turn: this thread gets the gate again.
  await gate.acquire();
  gate.release();
  other.postMessage('done');
  await new Promise((r) => other.once('exit', r));
});
