// Drives the stand-in's schedules (and logs) with @upstash/qstash's Client, configured ONLY
// through process.env (migration mode: QSTASH_REGION plus that region's URL and token), as
// tests/test_devserver_interop_schedules.py sets it.
//
// argv: "schedules" DESTINATION  -> create two schedules, read, pause, resume, delete one;
//                                    stdout: JSON of what each step returned
//       "logs" STATE               -> stdout: JSON of client.logs({ filter: { state } })
//       "resources" DESTINATION    -> upsert and read a queue, make and list a URL group of two
//                                    endpoints, publish to it and to DESTINATION/dead (no
//                                    retries); stdout: JSON of what each step returned
//       "dlq"                      -> stdout: JSON of client.dlq.listMessages()
import { Client } from "@upstash/qstash";

const [command, argument] = process.argv.slice(2);
const client = new Client(); // no options: credentials come from the environment only
let result;
if (command === "schedules") {
  const made = await client.schedules.create({
    destination: argument,
    cron: "*/10 * * * *",
    body: JSON.stringify({ from: "node" }),
    headers: { "Content-Type": "application/json", "X-Interop": "node" },
    retries: 1,
  });
  const nightly = await client.schedules.create({
    destination: argument,
    cron: "CRON_TZ=America/New_York 0 4 * * *",
    scheduleId: "node-nightly",
  });
  const listed = (await client.schedules.list()).map((s) => s.scheduleId).sort();
  await client.schedules.pause({ schedule: made.scheduleId });
  const paused = (await client.schedules.get(made.scheduleId)).isPaused;
  await client.schedules.resume({ schedule: made.scheduleId });
  const got = await client.schedules.get(made.scheduleId);
  await client.schedules.delete(nightly.scheduleId);
  const left = (await client.schedules.list()).map((s) => s.scheduleId);
  result = { made: made.scheduleId, nightly: nightly.scheduleId, listed, paused, got, left };
} else if (command === "resources") {
  await client.queue({ queueName: "node-jobs" }).upsert({ parallelism: 2 });
  const queues = (await client.queue().list()).map((q) => q.name).sort();
  const queue = await client.queue({ queueName: "node-jobs" }).get();
  await client.urlGroups.addEndpoints({
    name: "node-group",
    endpoints: [{ url: `${argument}/a` }, { url: `${argument}/b` }],
  });
  const groups = (await client.urlGroups.list()).map((g) => ({
    name: g.name,
    endpoints: g.endpoints.map((e) => e.url).sort(),
  }));
  const fanned = await client.publishJSON({ urlGroup: "node-group", body: { from: "node" } });
  const dead = await client.publishJSON({ url: `${argument}/dead`, body: {}, retries: 0 });
  result = {
    queues,
    queue: { name: queue.name, parallelism: queue.parallelism },
    groups,
    fanned: fanned.map((m) => m.messageId),
    dead: dead.messageId,
  };
} else if (command === "dlq") {
  result = await client.dlq.listMessages();
} else if (command === "logs") {
  result = await client.logs({ filter: { state: argument } });
} else {
  throw new Error(`unknown command ${command}`);
}
process.stdout.write(JSON.stringify(result));
