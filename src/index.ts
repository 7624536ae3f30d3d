/** concur: Python's concurrency toolkit, rebuilt natively for TypeScript on Node.js. */
export {
  ConcurError,
  CancelledError,
  TimeoutError,
  InvalidStateError,
  BrokenExecutorError,
  WorkerCrashedError,
  Full,
  Empty,
  EOFError,
  BrokenBarrierError,
  QueueShutDown,
  AuthenticationError,
  RemoteError,
  TaskLoadError,
  TaskNotFoundError,
} from './futures/errors.js';
export { Future, type FutureState, type DoneCallback } from './futures/future.js';
export { wait, asCompleted, FIRST_COMPLETED, FIRST_EXCEPTION, ALL_COMPLETED, type ReturnWhen, type WaitResult } from './futures/wait.js';
export type { Executor, TaskFunction, TaskOptions, MapOptions, ShutdownOptions } from './futures/executor.js';
export { defineTasks } from './tasks/registry.js';
export { isMain, isMainProcess } from './tasks/main-guard.js';
export type { PoolOptions, PoolStats, PoolEvents, Percentiles } from './pool/pool-executor.js';
export { ThreadPoolExecutor, type ThreadPoolOptions } from './threads/thread-pool.js';
export { AsyncExecutor, taskSignal, type AsyncExecutorOptions } from './coroutines/async-executor.js';
export { transfer } from './transport/transfer.js';
export { ProcessPoolExecutor, type ProcessPoolOptions } from './processes/process-pool.js';
export { Thread, type ThreadOptions } from './threads/thread.js';
export { Process, currentProcess, parentProcess, activeChildren, cpuCount, type ProcessOptions, type ChildOptions, type ProcessInfo } from './processes/process.js';
export { Pipe, Connection } from './transport/pipe.js';
export { Lock, RLock, Semaphore, BoundedSemaphore, SemLock, type AcquireOptions } from './sync/semlock.js';
export { Event } from './sync/event.js';
export { Condition } from './sync/condition.js';
export { Barrier, type BarrierOptions } from './sync/barrier.js';
export { Value, SharedArray, type ElementType } from './sync/value.js';
export { Queue, LifoQueue, PriorityQueue, type QueueOptions } from './queues/queue.js';
export { TaskGroup } from './coroutines/task-group.js';
export { sleep, timeout, gather } from './coroutines/helpers.js';
export { SharedQueue, type SharedQueueOptions } from './queues/shared-queue.js';
export { SharedLifoQueue, SharedPriorityQueue, type SharedPriorityQueueOptions } from './queues/shared-ordered.js';
export { configureProxies, type ProxyOptions } from './proxy/owner.js';
export { Manager, type ManagerOptions, type ManagerAddress, type ConnectOptions, type RegisterOptions, type ManagedQueueOptions } from './manager/manager.js';
export { DictProxy, ListProxy, ValueProxy, type NamespaceProxy, type ObjectProxy } from './manager/proxies.js';
export { Pool, ThreadPool, type PoolFaceOptions, type CallbackOptions, type MapAsyncOptions } from './pool-face/pool.js';
export { AsyncResult } from './pool-face/async-result.js';
export type { IMapIterator } from './pool-face/imap-iterator.js';
export { currentThread, sleepSync, type ThreadInfo } from './threads/current-thread.js';
