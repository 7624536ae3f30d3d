// Loads every class that registers with shared.ts, so a thread can revive any of them
// even when the code it runs (an inline function) never imported concur.
import './semlock.js';
import './event.js';
import './condition.js';
import './barrier.js';
import './value.js';
import '../queues/shared-queue.js';
import '../queues/shared-ordered.js';
