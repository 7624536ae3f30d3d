import { defineTasks } from '../../dist/index.js';

export const pipeTasks = defineTasks(import.meta.url, {
  async echo(conn) {
    for (;;) {
      const v = await conn.recv();
      if (v === -1) break;
      conn.send(v);
    }
  },
});
