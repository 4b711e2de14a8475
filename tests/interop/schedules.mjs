// Drives the stand-in's schedules (and logs) with @upstash/qstash's Client, configured ONLY
// through process.env (migration mode: QSTASH_REGION plus that region's URL and token), as
// tests/test_devserver_interop_schedules.py sets it.
//
// argv: "schedules" DESTINATION  -> create two schedules, read, pause, resume, delete one;
//                                    stdout: JSON of what each step returned
//       "logs" STATE               -> stdout: JSON of client.logs({ filter: { state } })
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
} else if (command === "logs") {
  result = await client.logs({ filter: { state: argument } });
} else {
  throw new Error(`unknown command ${command}`);
}
process.stdout.write(JSON.stringify(result));
