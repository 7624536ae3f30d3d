import { executorSuite } from '../futures/executor-suite.js';
import { threadBlocker } from './thread-blocker.js';
import { ThreadPoolExecutor } from '../../src/index.js';
import { tasks } from '../fixtures/tasks.js';

executorSuite({
  name: 'ThreadPoolExecutor',
  make: (workers) => new ThreadPoolExecutor(workers), // Python's ThreadPoolExecutor(4): the count alone
  hang: tasks.spin,
  blocker: threadBlocker,
  badOptions: [
    [() => new ThreadPoolExecutor({ maxWorkers: 0 }), /maxWorkers must be an integer >= 1, got 0 \(number\)/],
    [() => new ThreadPoolExecutor({ maxWorkers: '4' as unknown as number }), /maxWorkers must be an integer >= 1, got "4" \(string\)/],
    [() => new ThreadPoolExecutor({ maxTasksPerWorker: 0 }), /maxTasksPerWorker/],
    [() => new ThreadPoolExecutor({ idleTimeout: -1 }), /idleTimeout must be a finite number of milliseconds >= 0/],
    [() => new ThreadPoolExecutor({ maxQueue: 0 }), /maxQueue must be an integer >= 1, got 0/],
    [() => new ThreadPoolExecutor({ initializer: 'setup' as never }), /initializer must be a function/],
    [() => new ThreadPoolExecutor({ maxThreads: 4 } as never), /unknown option "maxThreads"/],
    [() => new ThreadPoolExecutor(0), /maxWorkers must be an integer >= 1, got 0 \(number\)/],
    [() => new ThreadPoolExecutor(1.5), /maxWorkers must be an integer >= 1, got 1\.5 \(number\)/],
    [() => new ThreadPoolExecutor(null as never), /ThreadPoolExecutor options must be an object, got null/],
  ],
});
