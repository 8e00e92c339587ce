// The baseline: a bare Node http server that reads the body, parses the JSON
// and answers 202, storing nothing. Same process model as the hub (one process).
import { createServer } from 'node:http';

const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    try {
      JSON.parse(Buffer.concat(chunks).toString('utf8'));
      res.writeHead(202, { 'content-type': 'application/json' });
      res.end('{"status":"accepted"}');
    } catch {
      res.writeHead(400);
      res.end();
    }
  });
});
server.listen(0, '127.0.0.1', () => {
  const addr = server.address();
  if (addr && typeof addr === 'object') process.stdout.write(`${JSON.stringify({ msg: 'hub listening', address: `http://127.0.0.1:${addr.port}` })}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
