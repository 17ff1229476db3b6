// Every entry point compiles and loads in a user's project under each module resolution TypeScript offers, with
// the library's own declarations type-checked (skipLibCheck off for them).
import { UserProject } from './support/user-project';

const ALL_ENTRY_POINTS = `
import { App, Stack } from 'aws-cdk-lib';
import { App as Cdk8sApp } from 'cdk8s';
import { ArtifactStore, EnvironmentProfile, ValidationError } from 'mlops-constructs';
import { MlopsChart, TeamNamespace } from 'mlops-constructs/k8s';
import { ArtifactStore as PulumiArtifactStore } from 'mlops-constructs/pulumi';
import { loadAssembly, DISPOSABLE_MARKER } from 'mlops-constructs/review';

export function build(): void {
  const app = new App();
  new ArtifactStore(new Stack(app, 'Data'), 'Store', { profile: EnvironmentProfile.dev() });
  const chart = new MlopsChart(new Cdk8sApp(), 'team', { profile: EnvironmentProfile.dev(), project: 'fraud', team: 'risk' });
  new TeamNamespace(chart, 'ns', { team: 'risk' });
  const pulumiStore: typeof PulumiArtifactStore = PulumiArtifactStore;
  const review: typeof loadAssembly = loadAssembly;
  console.log(typeof pulumiStore, typeof review, DISPOSABLE_MARKER, ValidationError.name);
}
`;

const STRICT = { strict: true, skipLibCheck: false, target: 'ES2022', lib: ['es2022'], types: ['node'], noEmit: true, esModuleInterop: true };

const RESOLUTIONS: Record<string, Record<string, unknown>> = {
  'nodenext': { module: 'NodeNext', moduleResolution: 'NodeNext' },
  'node16': { module: 'Node16', moduleResolution: 'Node16' },
  'bundler': { module: 'ESNext', moduleResolution: 'Bundler' },
  // TypeScript's classic resolution (`node10`): what "module": "commonjs" without "moduleResolution" means.
  'node (node10)': { module: 'CommonJS' },
};

describe('a user project importing all four entry points', () => {
  const project = UserProject.get();
  const cjs = project.write('resolution/app.ts', ALL_ENTRY_POINTS);
  const esm = project.write('resolution/app.mts', ALL_ENTRY_POINTS);

  test.each(Object.entries(RESOLUTIONS))('type-checks under moduleResolution %s', (_name, resolution) => {
    const files = resolution.moduleResolution === 'NodeNext' || resolution.moduleResolution === 'Node16' ? [cjs, esm] : [cjs];
    expect(project.typeCheck(files, { ...STRICT, ...resolution })).toEqual([]);
  });

  test('loads every entry point with require() and with import()', () => {
    const entries = ['mlops-constructs', 'mlops-constructs/k8s', 'mlops-constructs/pulumi', 'mlops-constructs/review'];
    const required = project.run('resolution/require', `
for (const entry of ${JSON.stringify(entries)}) console.log(entry, Object.keys(require(entry)).filter((k) => k !== 'default' && k !== '__esModule').length);
`, { language: 'js' });
    expect(required.error).toBeUndefined();
    const imported = project.run('resolution/import.mjs', `
for (const entry of ${JSON.stringify(entries)}) console.log(entry, Object.keys(await import(entry)).filter((k) => k !== 'default' && k !== '__esModule').length);
`, { language: 'js' });
    expect(imported.error).toBeUndefined();
    expect(imported.stdout).toBe(required.stdout);
    for (const entry of entries) expect(required.stdout).toMatch(new RegExp(`^${entry} [1-9]\\d*$`, 'm'));
  });
});
