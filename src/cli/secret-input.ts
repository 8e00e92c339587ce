import { UsageError } from './args.js';

/** Longest value accepted (a PEM key or a long JWT fits). */
const MAX_BYTES = 64 * 1024;

/**
 * A secret value from stdin (piped: everything, minus one trailing newline)
 * or typed at a prompt without echo. Never from the command line: argv is
 * visible in `ps` and kept in shell history.
 */
export async function readSecretValue(prompt: string): Promise<string> {
  const value = process.stdin.isTTY ? await promptHidden(prompt) : await readAll();
  const trimmed = value.replace(/\r?\n$/, '');
  if (trimmed === '') throw new UsageError('the secret value is empty (pipe it on stdin or type it at the prompt)');
  return trimmed;
}

async function readAll(): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of process.stdin as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BYTES) throw new UsageError(`the secret value is longer than ${MAX_BYTES} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function promptHidden(prompt: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const stdin = process.stdin;
    process.stderr.write(prompt);
    stdin.setRawMode(true);
    stdin.resume();
    let value = '';
    const done = (error?: Error) => {
      stdin.setRawMode(false);
      stdin.pause();
      stdin.off('data', onData);
      process.stderr.write('\n');
      if (error) reject(error);
      else resolve(value);
    };
    const onData = (chunk: Buffer) => {
      for (const ch of chunk.toString('utf8')) {
        if (ch === '\r' || ch === '\n') return done();
        if (ch === '\u0003') return done(new UsageError('cancelled'));
        if (ch === '\u007f' || ch === '\b') value = value.slice(0, -1);
        else value += ch;
      }
    };
    stdin.on('data', onData);
  });
}
