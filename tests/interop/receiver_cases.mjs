// Batch driver for the interop and parity tests (tests/test_interop_node.py,
// tests/test_parity_node.py): one Node process handles many cases, so the tests stay fast.
//
// stdin:  a JSON array of cases; stdout: a JSON array of results, in the same order.
//
//   {"kind": "verify", "signature", "body", "url"?, "upstashRegion"?, "clockTolerance"?,
//    "currentSigningKey"?, "nextSigningKey"?, "now"?}
//     -> {"ok": true} | {"ok": false, "error": "<Error name>: <message>"}
//     Without keys, `new Receiver()` resolves them from process.env (migration mode, dev mode)
//     exactly as an application would. A key given as null is passed as undefined (a half
//     pair). "now" (seconds since the epoch) fixes the clock the SDK's jose reads for this
//     case, so time claims are judged at the same instant as on the Python side.
//
//   {"kind": "sign", "key", "body" | "bodyBase64", "url", "iat", "nbf", "exp", "jti", "padded"?}
//     -> {"token": "<compact JWS>"}
//     Signed with jose the way the @upstash/qstash test suite signs tokens; "bodyBase64"
//     carries raw (e.g. non-UTF-8) bytes whose hash is signed.
//
// Every result also carries "console": the lines the SDK printed (it warns through
// console.warn when it falls back to other keys). They are captured, never shown.
import { Receiver } from "@upstash/qstash";
import * as jose from "jose";
import { readFileSync } from "node:fs";

// The SDK passes no currentDate to jose, which reads `new Date()`: a Date whose argument-less
// construction returns the case's fixed instant (when one is given) stands in for the clock.
const RealDate = Date;
let fixedMs;
globalThis.Date = class extends RealDate {
  constructor(...args) {
    if (args.length === 0 && fixedMs !== undefined) super(fixedMs);
    else super(...args);
  }
  static now() {
    return fixedMs ?? RealDate.now();
  }
};

let captured = [];
for (const method of ["log", "info", "warn", "error", "debug"]) {
  console[method] = (...args) => {
    captured.push(args.map(String).join(" "));
  };
}

async function sha256Base64url(bytes) {
  const digest = await crypto.subtle.digest("SHA-256", bytes);
  return jose.base64url.encode(new Uint8Array(digest));
}

async function verify(c) {
  const keys =
    c.currentSigningKey === undefined
      ? undefined
      : {
          currentSigningKey: c.currentSigningKey ?? undefined,
          nextSigningKey: c.nextSigningKey ?? undefined,
        };
  fixedMs = c.now === undefined ? undefined : c.now * 1000;
  try {
    // The SDK hashes `body` with TextEncoder, so it must be a string: a binary body cannot be
    // passed through losslessly, and binary bodies are covered on the Python side only.
    const verified = await new Receiver(keys).verify({
      signature: c.signature,
      body: c.body,
      url: c.url,
      upstashRegion: c.upstashRegion,
      clockTolerance: c.clockTolerance,
    });
    return verified === true ? { ok: true } : { ok: false, error: `returned ${verified}` };
  } catch (error) {
    return { ok: false, error: `${error?.name}: ${error?.message}` };
  } finally {
    fixedMs = undefined;
  }
}

async function sign(c) {
  const bytes =
    c.bodyBase64 === undefined
      ? new TextEncoder().encode(c.body)
      : new Uint8Array(Buffer.from(c.bodyBase64, "base64"));
  const hash = await sha256Base64url(bytes);
  const token = await new jose.SignJWT({ body: c.padded ? `${hash}=` : hash })
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setIssuer("Upstash")
    .setSubject(c.url)
    .setExpirationTime(c.exp)
    .setNotBefore(c.nbf)
    .setIssuedAt(c.iat)
    .setJti(c.jti)
    .sign(new TextEncoder().encode(c.key));
  return { token };
}

const handlers = { verify, sign };
const cases = JSON.parse(readFileSync(0, "utf8"));
const results = [];
for (const c of cases) {
  captured = [];
  const handler = handlers[c.kind];
  const result = handler ? await handler(c) : { ok: false, error: `unknown kind ${c.kind}` };
  results.push({ ...result, console: captured });
}
process.stdout.write(JSON.stringify(results));
