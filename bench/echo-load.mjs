// Load generator for the echo scenario: `clients` TCP clients on 127.0.0.1:`port`, each
// in a loop of 16-byte ping-pongs for `seconds`; prints round trips/s, latency
// percentiles and errors as one JSON line. Bounded in count and time, loopback only.
import { connect } from 'node:net';
import { build } from 'hdr-histogram-js';

const [port, clients, seconds] = process.argv.slice(2).map(Number);
const h = build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3 });
let trips = 0;
let errors = 0;
let connected = 0;
let stopAt = Infinity;
let settled = 0;
/** The clock starts once every client has connected or failed to. */
function settle() {
  if (++settled === clients) stopAt = performance.now() + seconds * 1000;
}

function runClient(id) {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.setNoDelay(true);
    socket.setEncoding('latin1');
    const message = `ping ${id}`.padEnd(16, '.');
    const expect = message.toUpperCase();
    let buffered = '';
    let sentAt = 0n;
    const send = () => {
      if (performance.now() >= stopAt) return socket.end();
      sentAt = process.hrtime.bigint();
      socket.write(message);
    };
    socket.on('connect', () => {
      connected++;
      settle();
      send();
    });
    socket.on('data', (d) => {
      buffered += d;
      while (buffered.length >= 16) {
        if (buffered.slice(0, 16) !== expect) errors++;
        buffered = buffered.slice(16);
        // Only the measured window counts: after every client connected, before the end.
        if (stopAt !== Infinity && performance.now() < stopAt) {
          trips++;
          h.recordValue(Number(process.hrtime.bigint() - sentAt) / 1000);
        }
        send();
      }
    });
    socket.on('error', () => errors++);
    socket.once('error', () => {
      if (sentAt === 0n) settle(); // never connected: stop waiting for it
    });
    socket.on('close', resolve);
  });
}

// Connections open gradually (in batches) so the listen backlog is not the thing measured.
const all = [];
for (let i = 0; i < clients; i++) {
  all.push(runClient(i));
  if (i % 200 === 199) await new Promise((r) => setImmediate(r));
}
const begun = performance.now();
await Promise.all(all);
const measured = Math.min(performance.now(), stopAt) - (stopAt - seconds * 1000);
console.log(JSON.stringify({ clients, connected, roundTripsPerSec: trips / (measured / 1000), p50Us: h.getValueAtPercentile(50), p99Us: h.getValueAtPercentile(99), errors, wallMs: performance.now() - begun }));
