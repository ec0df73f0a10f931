// The baseline for the pins benchmark: a bare node:http server that answers every request
// with the same bytes and headers depcanary would send (no routing, no cohort logic).
const http = require('node:http');
const fs = require('node:fs');
const body = fs.readFileSync(process.argv[2]);
const etag = process.argv[3];
const server = http.createServer((req, res) => {
  res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', etag, 'content-length': body.length });
  res.end(body);
});
server.keepAliveTimeout = 65000;
server.listen(0, '127.0.0.1', () => process.stdout.write(`listening on http://127.0.0.1:${server.address().port}\n`));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
