// The Executor contract, on its own: it starts many pools of processes, which takes a
// minute on a loaded machine, and the test runner's timeout is per file.
import { ProcessPoolExecutor } from '../../src/index.js';
import { tasks } from '../fixtures/tasks.js';
import { executorSuite } from '../futures/executor-suite.js';
import { socketBlocker } from './socket-blocker.js';

executorSuite({
  name: 'ProcessPoolExecutor',
  make: (workers) => new ProcessPoolExecutor({ maxWorkers: workers }),
  hang: tasks.spin,
  blocker: socketBlocker,
  badOptions: [
    [() => new ProcessPoolExecutor({ maxWorkers: 0 }), /maxWorkers must be an integer >= 1, got 0 \(number\)/],
    [() => new ProcessPoolExecutor(0), /maxWorkers must be an integer >= 1, got 0 \(number\)/],
    [() => new ProcessPoolExecutor({ maxMemoryMb: -1 }), /maxMemoryMb must be a number > 0, got -1/],
    [() => new ProcessPoolExecutor({ resourceLimits: {} } as never), /unknown option "resourceLimits"/],
  ],
});
