/**
 * The Node flags a concur child process inherits: the parent's, less those that say
 * where the program comes from. A child runs concur's entry file, so `-e code` would
 * run the parent's program again in every child (fork() drops `-e code` from the
 * parent's own array, but not `--eval=code`, nor from a copy), `--input-type` makes Node
 * refuse a file entry, `-i` opens a REPL and `-c` only checks syntax. Loaders
 * (`--import`, `--require`, `--loader`) and every other flag carry over.
 */
export function childExecArgv(execArgv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < execArgv.length; i++) {
    const arg = execArgv[i]!;
    if (arg === '-e' || arg === '--eval' || arg === '-pe' || arg === '-ep' || arg === '--input-type') {
      i++; // and its value
    } else if (arg === '-p' || arg === '--print') {
      // `-p code` is `--print --eval code`; a bare `-p` goes with a later -e, or none.
      if (i + 1 < execArgv.length && !execArgv[i + 1]!.startsWith('-')) i++;
    } else if (
      arg.startsWith('--eval=') ||
      arg.startsWith('--input-type=') ||
      arg === '-i' ||
      arg === '--interactive' ||
      arg === '-c' ||
      arg === '--check' ||
      arg === '-'
    ) {
      // dropped
    } else {
      out.push(arg);
    }
  }
  return out;
}
