// The 1,000-model environment of scale.test.ts, synthesized in a process of its own (`tsx test/bench/scale-app.ts
// <outdir>`), so its peak memory is this environment's alone and not the peak of whichever suite the jest worker ran
// before. Prints one JSON line: what the test needs from the constructs, and the measurements.
import { BENCH_CERTIFICATE_ARN, benchModels, benchTeams } from '../../scripts/bench';
import { newApp } from '../support/gate';
import { EnvironmentProfile, InferenceFleet, MlopsPlatform } from 'mlops-constructs';

/** What scale.test.ts reads from the synthesized constructs (the templates it reads from the outdir). */
export interface ScaleAppResult {
  readonly outdir: string;
  readonly peakRssMb: number;
  readonly seconds: number;
  readonly dataArtifactId: string;
  readonly platformArtifactId: string;
  readonly servingArtifactIds: string[];
  readonly stackNamePrefix: string;
  readonly costPieces: string[];
  readonly servedStateOf: Record<string, string | undefined>;
}

export const SCALE_MODELS = 1000;

function main(outdir: string): void {
  const started = Date.now();
  const profile = EnvironmentProfile.prod();
  const platform = new MlopsPlatform(newApp({}, outdir), 'env', {
    profile,
    project: 'scale',
    costCenter: 'ml-platform',
    env: { account: '111111111111', region: 'us-east-1' },
    teams: benchTeams(profile.budget.monthlyLimitUsd),
    servedModels: benchModels(SCALE_MODELS),
    notifyEmails: ['oncall@example.com'],
    certificateArn: BENCH_CERTIFICATE_ARN,
  });
  const assembly = platform.node.root as unknown as { synth(): { directory: string } };
  const directory = assembly.synth().directory;
  const result: ScaleAppResult = {
    outdir: directory,
    peakRssMb: process.resourceUsage().maxRSS / 1024,
    seconds: (Date.now() - started) / 1000,
    dataArtifactId: platform.dataStack.artifactId,
    platformArtifactId: platform.platformStack.artifactId,
    servingArtifactIds: platform.servingStacks.map((s) => s.artifactId),
    stackNamePrefix: platform.stackNamePrefix,
    costPieces: Object.keys(platform.costGuard.estimatedMonthlyCost.pieces),
    servedStateOf: { 'model-4': (platform.servedModel('model-4') as InferenceFleet).servedState?.initialValue },
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

if (require.main === module) main(process.argv[2]);
