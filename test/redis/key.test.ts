// Where the signing key comes from: a key file is its bytes, whatever they are.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, it } from 'node:test';
import { loadKey } from '../../src/redis/wire.js';

const dir = mkdtempSync(join(tmpdir(), 'concur-key-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function keyFile(name: string, bytes: Buffer): string {
  const file = join(dir, name);
  writeFileSync(file, bytes);
  return file;
}

it('a binary key file (random bytes) is its bytes: two files that differ only in bytes past ASCII are two keys', () => {
  // Decoded as UTF-8, every byte of an invalid sequence became U+FFFD, so these two were one key.
  const a = Buffer.concat([Buffer.from('0123456789abcdef'), Buffer.from([0x80, 0xff, 0xfe])]);
  const b = Buffer.concat([Buffer.from('0123456789abcdef'), Buffer.from([0x81, 0xc0, 0xf5])]);
  const keyA = loadKey({ keyFile: keyFile('a.key', a) }, 'test');
  const keyB = loadKey({ keyFile: keyFile('b.key', b) }, 'test');
  assert.deepEqual(keyA, a);
  assert.deepEqual(keyB, b);
  assert.notDeepEqual(keyA, keyB);
});

it('a key file of random bytes loads whole, and a final newline is dropped as from a text file', () => {
  const bytes = randomBytes(32);
  const plain = bytes.at(-1) === 0x0a ? Buffer.concat([bytes, Buffer.from('x')]) : bytes;
  assert.deepEqual(loadKey({ keyFile: keyFile('random.key', plain) }, 'test'), plain);
  assert.deepEqual(loadKey({ keyFile: keyFile('text.key', Buffer.from('a text key of some length\n')) }, 'test'), Buffer.from('a text key of some length'));
  assert.deepEqual(loadKey({ keyFile: keyFile('crlf.key', Buffer.from('a text key of some length\r\n')) }, 'test'), Buffer.from('a text key of some length'));
});
