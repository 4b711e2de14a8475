// Publishes JSON messages with @upstash/qstash's Client configured ONLY through process.env
// (tests/test_devserver_clients.py sets migration mode: QSTASH_REGION plus the region's
// {REGION}_QSTASH_URL and {REGION}_QSTASH_TOKEN, pointing at the local stand-in).
//
// argv: destination URL, then one JSON body per message.
// stdout: a JSON array of the publish responses ({"messageId": ...}), in order.
import { Client } from "@upstash/qstash";

const [destination, ...bodies] = process.argv.slice(2);
const client = new Client(); // no options: credentials come from the environment only
const results = [];
for (const body of bodies) {
  results.push(
    await client.publishJSON({
      url: destination,
      body: JSON.parse(body),
      headers: { "X-Interop": "node" },
      retries: 1,
    }),
  );
}
process.stdout.write(JSON.stringify(results));
