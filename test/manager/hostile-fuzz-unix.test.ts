// A manager's server over a Unix socket under fuzzed frames from an authenticated client
// (hostile-fuzz.test.ts: over TCP).
import { fuzzManager } from '../fixtures/fuzz-manager.js';

fuzzManager('unix');
