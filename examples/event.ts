// Scenario 7: three threads wait until a fourth says the server is up.
import { defineTasks, Event, isMain, Thread } from 'concur';

export const roles = defineTasks(import.meta.url, {
  client(up: Event, name: string): void {
    const ok = up.waitSync(10_000); // blocks this worker thread until the event is set
    console.log(`${name}: server is ${ok ? 'up' : 'still down'}, connecting`);
  },
  async server(up: Event): Promise<void> {
    await new Promise((resolve) => setTimeout(resolve, 50)); // pretend to start listening
    console.log('server: listening');
    up.set();
  },
});

if (isMain()) {
  const up = new Event();
  const clients = ['client-1', 'client-2', 'client-3'].map((name) => new Thread({ target: roles.client, args: [up, name], name }).start());
  const server = new Thread({ target: roles.server, args: [up], name: 'server' }).start();
  await Promise.all([...clients, server].map((t) => t.join()));
  console.log(`all threads done; event set: ${up.isSet()}`);
}
