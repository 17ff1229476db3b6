#!/usr/bin/env node
// Entry point of the published `mlops-review` command (package.json "bin"). The CLI itself lives in
// cli.ts so tests run it in-process.
import { main } from './cli';

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (error: unknown) => {
    process.stderr.write(`mlops-review: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 2;
  },
);
