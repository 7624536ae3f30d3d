import { test } from 'node:test';
import assert from 'node:assert/strict';
import { childExecArgv } from '../../src/util/exec-argv.js';

test('a child keeps loaders and other flags, and loses what names the parent program', () => {
  const cases: Array<[string[], string[]]> = [
    [['-e', 'code'], []],
    [['--eval', 'code', '--no-warnings'], ['--no-warnings']],
    [['--eval=code'], []],
    [['--input-type=module', '-e', 'x'], []],
    [['--input-type', 'module', '--eval', 'x'], []],
    [['-p', 'code'], []],
    [['-pe', 'code'], []],
    [['-p', '-e', 'code'], []],
    [['--print', '--import', 'tsx'], ['--import', 'tsx']],
    [['-i'], []],
    [['--interactive', '--enable-source-maps'], ['--enable-source-maps']],
    [['-c'], []],
    [['--import', 'tsx', '--require', '/x/preflight.cjs', '-r', 'y', '--loader=z', '--max-old-space-size=64'], ['--import', 'tsx', '--require', '/x/preflight.cjs', '-r', 'y', '--loader=z', '--max-old-space-size=64']],
  ];
  for (const [given, kept] of cases) assert.deepEqual(childExecArgv(given), kept, given.join(' '));
});
