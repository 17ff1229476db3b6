// `npm run deploy:local`: deploys the dev environment on a local AWS emulator (moto) with the real cdk CLI, no AWS
// account needed. Starts `moto_server` on a free port of 127.0.0.1, bootstraps it, synthesizes scripts/local-app.ts,
// adapts the templates (docs/emulator.md), deploys `mlops-dev/*`, prints what was created and skipped and the stack
// outputs, then stops the server. Requires `pip install "moto[server]"` and the aws CLI.
import * as fs from 'fs';
import * as path from 'path';
import { deployReport, withEmulator } from './emulator';

async function main(): Promise<void> {
  const started = Date.now();
  const say = (line: string) => process.stdout.write(`[deploy:local ${((Date.now() - started) / 1000).toFixed(0)}s] ${line}\n`);
  await withEmulator(async (emulator) => {
    say(`moto server on ${emulator.endpoint} (log: ${emulator.logFile})`);
    emulator.bootstrap();
    say('bootstrapped aws://123456789012/us-east-1');
    const assembly = path.join(emulator.workDir, 'cdk.out');
    const adaptations = emulator.synth(assembly, 'mlopsdev');
    say(`synthesized; ${adaptations.length} template adaptations for the emulator (docs/emulator.md)`);
    const outputsFile = path.join(emulator.workDir, 'outputs.json');
    emulator.deploy(assembly, ['mlops-dev/*'], outputsFile);
    const stacks = ['mlops-dev-data', 'mlops-dev-platform', 'mlops-dev-serving-07'];
    const resources = stacks.flatMap((s) => emulator.stackResources(s));
    emulator.applySkippedBucketSettings(assembly, 'mlopsdev', resources);
    const report = deployReport(assembly, 'mlopsdev', resources);
    say(`deployed ${stacks.join(', ')}`);
    const table = (counts: Record<string, number>) => Object.entries(counts).sort().map(([t, n]) => `  ${String(n).padStart(3)}  ${t}`).join('\n');
    process.stdout.write(`\nCreated on the emulator:\n${table(report.created)}\n\nSkipped by the emulator:\n${table(report.skipped)}\n`);
    const outputs = JSON.parse(fs.readFileSync(outputsFile, 'utf8')) as Record<string, Record<string, string>>;
    process.stdout.write('\nStack outputs:\n');
    for (const [stack, values] of Object.entries(outputs)) {
      for (const [key, value] of Object.entries(values)) {
        if (!key.startsWith('ExportsOutput')) process.stdout.write(`  ${stack}.${key} = ${value}\n`);
      }
    }
    if (report.missing.length > 0) {
      throw new Error(`the emulator silently failed to create:\n  ${report.missing.join('\n  ')}`);
    }
    say('done; stopping the emulator (its state is discarded)');
  });
}

main().catch((e) => {
  process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 1;
});
