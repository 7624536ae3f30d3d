// A manager's server over TCP, where anyone may knock, under a million fuzzed frames
// from an authenticated client (100,000 in npm test): no crash, bounded memory, and a
// legitimate client still served afterwards (hostile-fuzz-unix.test.ts: a Unix socket).
import { fuzzManager } from '../fixtures/fuzz-manager.js';

fuzzManager('tcp');
