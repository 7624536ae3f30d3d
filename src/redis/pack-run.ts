/**
 * The worker's side of a pack (see packs.ts): every member to its own outcome.
 *
 *   members ─▶ cancelled (the executor's skip list) or not served here: outcome now
 *           └▶ the rest: one pool task, runPack, in turn ─▶ [ok, value | error, ms] each
 *              the pool task crashed (a member killed its pool worker): each runs alone,
 *              so that only the member that crashes fails
 */
import { BrokenExecutorError, CancelledError } from '../futures/errors.js';
import type { FunctionSpec } from '../tasks/describe.js';
import { deserializeError, serializeError } from '../transport/errors.js';
import { redisJobTasks, type RunOutcome } from './job-task.js';
import type { PortableTask } from './names.js';
import { makePackResult, type MemberOutcome, type MemberRequest, type PackResultData } from './packs.js';
import { failureText } from './wire.js';
import { nameTheTask } from './worker-util.js';

/** What runPack needs of its worker. */
export interface PackHost {
  readonly key: Buffer;
  readonly queue: string;
  /** Where a task is found here, or why it cannot run here. */
  specOf(task: PortableTask): FunctionSpec | Error;
  /** How errors name a task run here. */
  label(task: PortableTask): string;
  /** Whether the pack was told to stop (aborted by its executor). */
  stopped(): boolean;
  /** Runs a task of redisJobTasks in the worker's pool, stopped with the pack. */
  submit<A extends unknown[], R>(fn: (...args: A) => Promise<R>, ...args: A): Promise<R>;
}

/** Runs the pack `packId`'s members but those in `skip`; its signed result, and how many members completed. */
export async function runPack(
  host: PackHost,
  packId: string,
  members: readonly MemberRequest[],
  skip: ReadonlySet<number> | undefined,
): Promise<{ data: PackResultData; completed: number }> {
  const { key, queue } = host;
  const outcomes: MemberOutcome[] = new Array(members.length);
  const fail = (i: number, error: unknown, ms: number): void => {
    outcomes[i] = [0, failureText(key, queue, members[i]!.id, error), ms];
  };
  const run: number[] = [];
  const specs: FunctionSpec[] = [];
  members.forEach((m, i) => {
    const spec = host.specOf(m.task);
    if (skip?.has(i)) fail(i, new CancelledError(`job ${m.id} was cancelled before it started`), 0);
    else if (spec instanceof Error) fail(i, spec, 0);
    else {
      run.push(i);
      specs.push(spec);
    }
  });
  if (run.length > 0) {
    const args = run.map((i) => members[i]!.args);
    const modes = run.map((i) => members[i]!.mode as number);
    let results: RunOutcome[];
    try {
      results = await host.submit(redisJobTasks.runPack, specs, args, modes);
    } catch (err) {
      // A timeout cannot be (packs have none); an abort, or a pool that cannot run
      // anything, ends the whole pack. Otherwise its pool worker died under a member.
      if (err instanceof BrokenExecutorError || host.stopped()) throw err;
      results = await Promise.all(
        run.map(async (i, j): Promise<RunOutcome> => {
          try {
            const [encoded, ms] = await host.submit(redisJobTasks.runJob, specs[j]!, args[j]!, modes[j]!);
            return [1, encoded, ms];
          } catch (alone) {
            nameTheTask(alone, host.label(members[i]!.task));
            return [0, serializeError(alone), 0];
          }
        }),
      );
    }
    results.forEach(([ok, value, ms], j) => {
      const i = run[j]!;
      if (ok === 1) outcomes[i] = [1, value as string, ms];
      else fail(i, deserializeError(value as ReturnType<typeof serializeError>), ms);
    });
  }
  let completed = 0;
  for (const o of outcomes) completed += o[0];
  return { data: makePackResult(key, queue, packId, outcomes), completed };
}
