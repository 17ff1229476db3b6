// The README's "Use it in your own repository" section, as a user copies it into a fresh project: every TypeScript
// snippet compiles with the tsconfig `cdk init` writes and runs through the package name; the CLI selects the
// stacks the way the README says.
import * as fs from 'fs';
import * as path from 'path';
import { REPO_ROOT } from '../support/gate';
import { UserProject } from './support/user-project';

const SECTION = '## Use it in your own repository';

function snippets(): string[] {
  const readme = fs.readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8');
  const start = readme.indexOf(SECTION);
  const end = readme.indexOf('\n## ', start + SECTION.length);
  return [...readme.slice(start, end).matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]);
}

describe('the README for users', () => {
  const project = UserProject.get();
  const blocks = snippets();
  const find = (marker: string) => {
    const block = blocks.find((b) => b.includes(marker));
    if (!block) throw new Error(`no README snippet with ${marker}`);
    return block;
  };

  test('comes before the contributor material and shows install, a stack, a test, a platform with a pipeline, k8s and a team stack', () => {
    const readme = fs.readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8');
    expect(readme.indexOf(SECTION)).toBeGreaterThan(0);
    expect(readme.indexOf(SECTION)).toBeLessThan(readme.indexOf('## Contributing'));
    expect(readme).toContain('npm install mlops-constructs aws-cdk-lib constructs');
    expect(blocks).toHaveLength(5);
    expect(project.typeCheck(blocks.map((b, i) => project.write(`readme/snippet-${i}.ts`, b)))).toEqual([]);
  });

  test('the first stack synthesizes with no compliance finding', () => {
    const result = project.synth('readme/first-stack', find('GpuTrainingCluster'), { flags: 'recommended' });
    expect(result.failure()).toBe('');
  });

  test('the first test passes', () => {
    const run = project.run('readme/first-test', `(globalThis as any).test = (_name: string, body: () => void) => { body(); console.log('passed'); };\n${find("test('")}`);
    expect(run.error).toBeUndefined();
    expect(run.stdout.trim()).toBe('passed');
  });

  test('the platform with its pipeline synthesizes, and the CLI selects its stacks by path', () => {
    const result = project.synth('readme/platform', find('addModelPipeline'));
    expect(result.failure()).toBe('');
    const listed = project.cdk(['ls', '--app', result.outdir]);
    expect(listed.stdout.split('\n').filter(Boolean).sort()).toEqual([
      'fraud-dev/Data (fraud-dev-data)', 'fraud-dev/Platform (fraud-dev-platform)', 'fraud-dev/Serving13 (fraud-dev-serving-13)',
    ]);
    const selected = project.cdk(['synth', 'fraud-dev/Data', '--app', result.outdir, '--quiet']);
    expect(selected.stderr).not.toMatch(/No stacks match/);
    expect(selected.status).toBe(0);
  });

  test("a team's stack on the shared environment synthesizes with no finding and reads the environment's parameters", () => {
    const result = project.synth('readme/team-repo', find('MlopsPlatform.fromEnvironment'), { flags: 'recommended' });
    expect(result.failure()).toBe('');
    const read = Object.values(result.template('fraud-prod').Parameters as Record<string, { Type: string; Default: string }>)
      .filter((p) => p.Type === 'AWS::SSM::Parameter::Value<String>').map((p) => p.Default);
    expect(read).toEqual(expect.arrayContaining([
      '/mlops/mlops-prod/shared/artifact-store/bucket-names/datasets', '/mlops/mlops-prod/shared/artifact-store/encryption-key-arn',
      '/mlops/mlops-prod/shared/images/training-repository-name', '/mlops/mlops-prod/shared/network/private-subnet-ids',
    ]));
  });

  test('the Kubernetes snippet writes the manifests', () => {
    const run = project.run('readme/k8s', find("from 'mlops-constructs/k8s'"));
    expect(run.error).toBeUndefined();
    const manifest = fs.readFileSync(path.join(project.dir, 'dist', 'fraud.k8s.yaml'), 'utf8');
    expect(manifest).toContain('kind: Job');
    expect(manifest).toContain('nvidia.com/gpu');
  });
});
