// Scenario 8: a parent and a child process talk both ways over a Pipe.
import { defineTasks, isMain, Pipe, Process, type Connection } from 'concur';

export const conversation = defineTasks(import.meta.url, {
  async child(conn: Connection<string>): Promise<void> {
    conn.send('hello from the child');
    for (;;) {
      const question = await conn.recv();
      if (question === 'goodbye') break;
      conn.send(`the child heard: ${question}`);
    }
    conn.close();
  },
});

if (isMain()) {
  const [parentEnd, childEnd] = Pipe<string>();
  const child = new Process({ target: conversation.child, args: [childEnd], name: 'talker' });
  child.start();
  console.log(`parent got: ${await parentEnd.recv()}`);
  for (const q of ['how are you?', 'what is 6 x 7?']) {
    parentEnd.send(q);
    console.log(`parent got: ${await parentEnd.recv()}`);
  }
  parentEnd.send('goodbye');
  await child.join();
  console.log(`child ${child.name} exited with code ${child.exitCode}`);
}
