/** The entry of every ThreadPoolExecutor worker thread. */
import '../index.js'; // one shared chunk for the whole library: fewer files to load in each worker (see scripts/bundle.mjs)
import { parentPort, receiveMessageOnPort, workerData, type MessagePort } from 'node:worker_threads';
import '../sync/all-shared.js';
import '../proxy/proxies.js';
import { WorkerRuntime, type WorkerInit } from '../pool/worker-runtime.js';
import { setUpThread } from './current-thread.js';
import { sendingData } from '../sync/views.js';

setUpThread();

const port = parentPort!;
const init = workerData as WorkerInit & { resultsPort: MessagePort };
const results = init.resultsPort;
const runtime = new WorkerRuntime(
  {
    send: (message, transfer) => sendingData(message, (m) => results.postMessage(m, transfer as never)),
    poll: () => receiveMessageOnPort(port)?.message as unknown[] | undefined,
  },
  new Int32Array(init.ctrl),
);
port.on('message', runtime.onMessage);
void runtime.start(init);
