/**
 * The queue's event stream and the pub/sub channels concur adds beside it.
 *
 *   BullMQ ── XADD <queue>:events {event, jobId, returnvalue | failedReason} ──▶ executors
 *   executor, on a job of its own 'active' ── PUBLISH <queue>:concur-go "jobId !jobId ..." ──▶ workers
 *              (go, or ! for no: the Future is done); the task starts only on a go;
 *              "packId~3.7": go for a pack, but not for its members 3 and 7
 *   worker ── PUBLISH <queue>:concur-started:<executor> "jobId again" ──▶ that executor
 *              (no answer came for a second: answer this)
 *   executor ── PUBLISH <queue>:concur-abort jobId ──▶ workers     (stop a running job)
 *   executor ── SET <queue>:concur-lease:<executor> PX leaseMs, every leaseMs/3 (it lives)
 */
import type { Redis } from 'ioredis';

/** The pub/sub channel on which workers tell the executor `executorId` that they have one of its jobs. */
export function startedChannel(prefix: string, queue: string, executorId: string): string {
  return `${prefix}:${queue}:concur-started:${executorId}`;
}

/** The pub/sub channel on which executors tell workers whether a job's task may start. */
export function goChannel(prefix: string, queue: string): string {
  return `${prefix}:${queue}:concur-go`;
}

/** The executor a job id names (`<executor id>-<n>`). */
export function executorOf(jobId: string): string {
  const at = jobId.lastIndexOf('-');
  return at < 0 ? jobId : jobId.slice(0, at);
}

/**
 * The key an executor sets for a job of its own that a worker holds when its Future is
 * done (cancelled, aborted): the abort's message is lost to a worker whose connection
 * dropped meanwhile, and a worker that then finds the executor gone would start the task.
 */
export function withdrawnKey(prefix: string, queue: string, jobId: string): string {
  return `${prefix}:${queue}:concur-withdrawn:${jobId}`;
}

/**
 * The key an executor keeps alive (SET PX, renewed) while it can hear its workers and
 * answer them: a worker waits for its answer while the key exists, and goes on without
 * one only once it is gone (expired, or deleted at shutdown).
 */
export function leaseKey(prefix: string, queue: string, executorId: string): string {
  return `${prefix}:${queue}:concur-lease:${executorId}`;
}

/** The pub/sub channel on which executors tell workers to stop a running job. */
export function abortChannel(prefix: string, queue: string): string {
  return `${prefix}:${queue}:concur-abort`;
}

/** What an executor reads from one stream entry. */
export interface QueueEvent {
  readonly event: string | undefined;
  readonly jobId: string;
  /** The returnvalue (JSON) of 'completed', the failedReason of 'failed'. */
  readonly value: string | undefined;
}

/** One stream entry, [field, value, field, value, ...]; undefined when it names no job. */
export function parseEvent(fields: readonly string[]): QueueEvent | undefined {
  let event: string | undefined;
  let jobId: string | undefined;
  let value: string | undefined;
  for (let i = 0; i + 1 < fields.length; i += 2) {
    const f = fields[i];
    if (f === 'event') event = fields[i + 1];
    else if (f === 'jobId') jobId = fields[i + 1];
    else if (f === 'returnvalue' || f === 'failedReason') value = fields[i + 1];
  }
  return jobId === undefined ? undefined : { event, jobId, value };
}

/** The id of the stream's last entry ('0-0' when it is empty): where a reader starts. */
export async function streamEnd(client: Redis, key: string): Promise<string> {
  const last = (await client.xrevrange(key, '+', '-', 'COUNT', 1)) as Array<[string, string[]]>;
  return last.length > 0 ? last[0]![0] : '0-0';
}

/**
 * Reads the stream after `from` until `stopped()`, on a connection of its own (XREAD
 * blocks it), handing each entry to `onEntry`. Our own loop rather than BullMQ's
 * QueueEvents: it is reading by the time the caller goes on (QueueEvents may still be
 * setting up its connection then). A failed read is tried again from the same entry.
 * `outgoing()`, asked before each read, gives a message to publish in the same write as
 * the read (what the entries just read called for): one system call instead of two.
 */
export function readStream(
  client: Redis,
  key: string,
  from: string,
  onEntry: (fields: string[]) => void,
  stopped: () => boolean,
  outgoing: () => [channel: string, message: string] | undefined = () => undefined,
): void {
  let id = from;
  void (async () => {
    while (!stopped()) {
      let reply: Array<[string, Array<[string, string[]]>]> | null;
      try {
        const publish = outgoing();
        if (publish === undefined) {
          reply = (await client.xread('COUNT', 1000, 'BLOCK', 5000, 'STREAMS', key, id)) as typeof reply;
        } else {
          const replies = await client.pipeline().publish(publish[0], publish[1]).xread('COUNT', 1000, 'BLOCK', 5000, 'STREAMS', key, id).exec();
          const [err, value] = replies?.[1] ?? [new Error('no reply to XREAD'), null];
          if (err) throw err;
          reply = value as typeof reply;
        }
      } catch {
        if (stopped()) return;
        await new Promise((r) => setTimeout(r, 200));
        continue;
      }
      for (const [, entries] of reply ?? []) {
        for (const [entryId, fields] of entries) {
          id = entryId;
          onEntry(fields);
        }
      }
    }
  })();
}

/**
 * An executor's answers to workers (job ids; `!id` for no), gathered into one message:
 * `take()` gives what a read of the event stream called for, to go with the next read;
 * `sendSoon()` publishes what is gathered in a microtask, for answers asked otherwise.
 */
export class Answers {
  #words: string[] = [];
  #sending = false;
  readonly #channel: string;
  readonly #publisher: Redis;

  constructor(channel: string, publisher: Redis) {
    this.#channel = channel;
    this.#publisher = publisher;
  }

  /** Adds the answer for `jobId`; for a pack, `skip` names the members that must not start (`id~3.7`). */
  add(jobId: string, go: boolean, skip: readonly number[] = []): void {
    this.#words.push(!go ? `!${jobId}` : skip.length === 0 ? jobId : `${jobId}~${skip.join('.')}`);
  }

  /** The answers gathered, as [channel, message], or undefined if none. */
  take(): [channel: string, message: string] | undefined {
    if (this.#words.length === 0) return undefined;
    const words = this.#words;
    this.#words = [];
    return [this.#channel, words.join(' ')];
  }

  /** Publishes what is gathered by the end of this turn. */
  sendSoon(): void {
    if (this.#sending) return;
    this.#sending = true;
    queueMicrotask(() => {
      this.#sending = false;
      const message = this.take();
      // Unsent (Redis gone), the worker finds out that nobody listens any more and goes on.
      if (message !== undefined) this.#publisher.publish(...message).catch(() => {});
    });
  }
}
