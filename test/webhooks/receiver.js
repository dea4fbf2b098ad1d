// A webhook receiver that verifies deliveries with the standardwebhooks
// package, as a third party would. It serves on 127.0.0.1, a port of its own,
// and prints one JSON line per event on stdout:
//
//   {"listening": <port>}                          first, once
//   {"ce_id": "...", "webhook_id": "...", "results": [{"ok": true} | {"ok": false, "error": "..."}]}
//
// with one result per secret it holds, each tried alone. PUT /secrets with a
// JSON list of "whsec_..." secrets sets them; any other request is a
// delivery, answered 204 whatever the verdict (the test reads the verdict).
"use strict";
const http = require("node:http");
const { Webhook } = require("standardwebhooks");

let secrets = [];

function verify(secret, body, headers) {
  try {
    new Webhook(secret).verify(body, headers, { jsonParse: false });
    return { ok: true };
  } catch (err) {
    return { ok: false, error: String(err.message || err) };
  }
}

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on("data", (c) => chunks.push(c));
  req.on("end", () => {
    const body = Buffer.concat(chunks);
    if (req.method === "PUT" && req.url === "/secrets") {
      secrets = JSON.parse(body.toString());
      res.writeHead(204).end();
      return;
    }
    const results = secrets.map((s) => verify(s, body, req.headers));
    process.stdout.write(JSON.stringify({ ce_id: req.headers["ce-id"] || "", webhook_id: req.headers["webhook-id"] || "", results }) + "\n");
    res.writeHead(204).end();
  });
});

server.listen(0, "127.0.0.1", () => {
  process.stdout.write(JSON.stringify({ listening: server.address().port }) + "\n");
});
process.on("SIGTERM", () => server.close(() => process.exit(0)));
