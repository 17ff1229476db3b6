import { DependencyType, javascript, JsonPatch, typescript } from 'projen';

/**
 * projen owns package.json, tsconfig*.json, the jest config and the eslint config.
 * Edit this file and run `npx projen` to regenerate them.
 */
const ENTRY_POINTS: Record<string, string> = {
  'mlops-constructs': 'index',
  'mlops-constructs/k8s': 'k8s/index',
  'mlops-constructs/pulumi': 'pulumi/index',
  'mlops-constructs/review': 'review/index',
};

const project = new typescript.TypeScriptProject({
  name: 'mlops-constructs',
  packageName: 'mlops-constructs',
  description:
    'Typed, secure-by-default constructs for a whole MLOps platform on AWS CDK, cdk8s and Pulumi.',
  license: 'Apache-2.0',
  copyrightOwner: 'mlops-constructs contributors',
  defaultReleaseBranch: 'main',
  packageManager: javascript.NodePackageManager.NPM,
  projenrcTs: true,
  srcdir: 'lib',
  libdir: 'dist',
  // The build is in dist/: "main" and "types" serve the root entry point to every module resolution.
  entrypoint: 'dist/index.js',
  entrypointTypes: 'dist/index.d.ts',
  minNodeVersion: '20.0.0',
  typescriptVersion: '~5.9.3',

  // No GitHub automation from projen: the gate is .ci/run (see README).
  github: false,
  release: false,
  depsUpgrade: false,
  buildWorkflow: false,
  pullRequestTemplate: false,
  sampleCode: false,

  peerDeps: ['aws-cdk-lib@^2.257.0', 'constructs@^10.4.0', '@pulumi/aws@^7.0.0', '@pulumi/kubernetes@^4.20.0', '@pulumi/aws-native@^1.79.0'],
  // Test against a current aws-cdk-lib rather than the lowest supported one.
  peerDependencyOptions: { pinnedDevDependency: false },
  deps: [
    'cdk8s@^2.70.0',
    'cdk8s-plus-32@^2.5.0',
    '@pulumi/pulumi@^3.200.0',
    'cdk-nag@^3.0.2',
    '@aws-cdk/cloudformation-diff@^2.187.0',
    'commander@^14.0.0',
    'yaml@^2.8.0',
    // AWS Control Tower proactive controls (cfn-guard rules and binary), the fourth pack of applyCompliancePacks.
    '@cdklabs/cdk-validator-cfnguard@^0.0.62',
  ],
  devDeps: [
    // projen asks for @types/node@ts5.9 when typescriptVersion is set; the registry lacks that tag.
    '@types/node@^20',
    'aws-cdk@^2.1100.0',
    'aws-cdk-lib@^2.270.0',
    'constructs@^10.4.0',
    '@pulumi/aws@^7.0.0',
    '@pulumi/kubernetes@^4.20.0',
    // SageMaker inference components (scale to zero), which the @pulumi/aws provider lacks.
    '@pulumi/aws-native@^1.79.0',
    'fast-check@^4.0.0',
    '@swc/core@^1.15.0',
    '@swc/jest@^0.2.39',
    'tsx@^4.20.0',
    // Offline Kubernetes schema validation of every emitted manifest.
    'kubernetes-models@^5.1.0',
    '@kubernetes-models/gateway-api@^2.0.0',
    '@kubernetes-models/prometheus-operator@^6.0.0',
    '@kubernetes-models/argo-rollouts@^2.0.0',
    '@kubernetes-models/keda@^2.0.0',
    // Typed bindings of the CRDs in lib/k8s/imports/ (from committed CRD YAML; no URL fetches here).
    'cdk8s-cli@^2.207.0',
    // Step Functions definitions executed offline (needs Promise.withResolvers: polyfilled on Node 20 in tests).
    'aws-local-stepfunctions@^3.0.0',
    'asl-validator@^4.0.0',
  ],

  eslintOptions: { dirs: ['lib'], devdirs: ['test', 'bin', 'examples', 'scripts'], fileExtensions: ['.ts'] },

  jest: true,
  jestOptions: {
    jestVersion: '^29',
    jestConfig: {
      testMatch: ['<rootDir>/test/**/*.test.ts'],
      testPathIgnorePatterns: ['/node_modules/', '/dist/', '/cdk.out/'],
      // @swc/jest strips types only; `npm test` type-checks with tsc first.
      moduleNameMapper: Object.fromEntries(
        Object.entries(ENTRY_POINTS).map(([name, file]) => [`^${name}$`, `<rootDir>/lib/${file}.ts`]),
      ),
      testTimeout: 120_000,
      coverageProvider: 'v8',
    },
  },

  tsconfig: {
    compilerOptions: {
      lib: ['es2022'],
      target: 'ES2022',
      skipLibCheck: true,
    },
  },
  tsconfigDevFile: 'tsconfig.dev.json',
  tsconfigDev: {
    compilerOptions: {
      lib: ['es2022'],
      target: 'ES2022',
      skipLibCheck: true,
      baseUrl: '.',
      // Examples and tests import the package by its public names, as a user would.
      paths: Object.fromEntries(
        Object.entries(ENTRY_POINTS).map(([name, file]) => [name, [`lib/${file}.ts`]]),
      ),
    },
    include: ['lib/**/*.ts', 'test/**/*.ts', 'bin/**/*.ts', 'examples/**/*.ts', 'scripts/**/*.ts', '.projenrc.ts'],
  },
  // cdk.context.json only ever holds emulator lookups here (the reference app is account-agnostic).
  // `/node_modules` without a trailing slash: a node_modules symlink must never be committed either (checking one out
  // replaces a worktree's installed node_modules).
  gitignore: ['/node_modules', 'cdk.out/', '.jest-results.json', '/.tmp/', 'examples/k8s/dist/', 'cdk.context.json', '.probe-*'],
});

// The registry here can lag @typescript-eslint releases by a patch; pin a published pair.
project.deps.addDependency('@typescript-eslint/eslint-plugin@~8.73.0', DependencyType.BUILD);
project.deps.addDependency('@typescript-eslint/parser@~8.73.0', DependencyType.BUILD);

// ts-jest is projen's default transform; we use @swc/jest instead (about 5x faster here), and take
// full control of what jest collects: only test/, no coverage instrumentation in the gate.
project.deps.removeDependency('ts-jest');
project.deps.removeDependency('jest-junit');
const jestConfig = project.package.file;
jestConfig.patch(JsonPatch.remove('/jest/transform/^.+\\.[t]sx?$'));
jestConfig.addOverride('jest.transform', { '^.+\\.tsx?$': '@swc/jest' });
jestConfig.addOverride('jest.testMatch', ['<rootDir>/test/**/*.test.ts']);
jestConfig.addOverride('jest.collectCoverage', false);
jestConfig.addOverride('jest.reporters', ['default']);
// With one worker jest runs every file in its own main process, one after the other; that process kept what the
// files loaded (aws-cdk-lib, synthesized apps) and ran out of its 4 GB heap on a clean clone. With a memory limit
// jest runs the files in a worker process instead and replaces the worker once it holds more than this after a file.
jestConfig.addOverride('jest.workerIdleMemoryLimit', '1536MB');
// Two workers on the two cores: the suites wait on child processes (cdk, cfn-lint, moto, tsc) for much of their time,
// so two files at once took the clean-clone gate from 1023 s to 775 s, all passing; memory stays far below the
// machine's (each worker is replaced above the limit).
jestConfig.addOverride('jest.maxWorkers', 2);
// Control Tower findings are kept per template digest under node_modules/.cache (MLOPS_CONTROL_TOWER_CACHE): the gate
// synthesizes the reference app and the examples several times (in process, through the cdk CLI, from the packed
// tarball), and cfn-guard is most of a synthesis' time. A clean clone starts with an empty cache.
jestConfig.addOverride('jest.setupFiles', ['<rootDir>/test/support/jest-setup.ts']);

// Pulumi users install @pulumi/aws, @pulumi/aws-native and @pulumi/kubernetes; CDK-only users need not.
project.package.addField('peerDependenciesMeta', {
  '@pulumi/aws': { optional: true },
  '@pulumi/aws-native': { optional: true },
  '@pulumi/kubernetes': { optional: true },
});

project.package.addField('exports', {
  ...Object.fromEntries(
    Object.entries(ENTRY_POINTS).map(([name, file]) => [
      name === 'mlops-constructs' ? '.' : `./${name.split('/')[1]}`,
      { types: `./dist/${file}.d.ts`, default: `./dist/${file}.js` },
    ]),
  ),
  './package.json': './package.json',
});
// TypeScript's classic `node` (node10) resolution ignores "exports": map the subpath entry points for it.
project.package.addField('typesVersions', {
  '*': Object.fromEntries(
    Object.entries(ENTRY_POINTS).filter(([name]) => name !== 'mlops-constructs')
      .map(([name, file]) => [name.split('/')[1], [`dist/${file}.d.ts`]]),
  ),
});
// What a user installs: the build, the docs the README links to and the examples it points users to
// (test/consumer/package.test.ts checks the tarball).
project.package.addField('files', ['dist/**/*.js', 'dist/**/*.d.ts', 'docs/*.md', 'assets/', 'examples/', '!examples/k8s/dist/']);

// The gate: lint, type-check (library and everything that imports it), then jest.
const test = project.tasks.tryFind('test')!;
test.reset();
test.env('ESLINT_USE_FLAT_CONFIG', 'false');
test.env('NODE_NO_WARNINGS', '1');
test.exec('eslint --ext .ts --max-warnings 0 lib test bin examples scripts .projenrc.ts');
test.exec('tsc --noEmit -p tsconfig.dev.json');
test.exec('jest --passWithNoTests=false --json --outputFile=.jest-results.json', { receiveArgs: true });

project.package.addField('bin', { 'mlops-review': 'dist/review/bin.js' });
project.addTask('review', {
  description: 'Review a change for a PR: mlops-review --base <assembly> --head <assembly> (see README).',
  exec: 'tsx --tsconfig tsconfig.dev.json bin/mlops-review.ts',
  receiveArgs: true,
});
project.addTask('import:crds', {
  description: 'Regenerate the typed CRD bindings in lib/k8s/imports/ from the CRD YAML committed in lib/k8s/crds/.',
  exec: 'tsx --tsconfig tsconfig.dev.json scripts/import-crds.ts',
});
project.addTask('synth:k8s', {
  description: 'Synthesize the cdk8s example (two teams) to examples/k8s/dist/.',
  exec: 'tsx --tsconfig tsconfig.dev.json examples/k8s/main.ts',
});

project.addTask('docs:compliance', {
  description: 'Regenerate the acknowledgement table of docs/compliance.md from the reference app.',
  exec: 'tsx --tsconfig tsconfig.dev.json scripts/compliance-doc.ts',
});

project.addTask('deploy:local', {
  description: 'Deploy the dev environment on a local AWS emulator (moto) with the real cdk CLI; no AWS account (see docs/emulator.md).',
  exec: 'tsx --tsconfig tsconfig.dev.json scripts/deploy-local.ts',
});
project.addTask('bench', {
  description: 'Synthesis benchmark: 10/50/100/200 served models x 3 environments, 500/1,000 in one environment; writes docs/benchmarks.md',
  exec: 'tsx --tsconfig tsconfig.dev.json scripts/bench.ts',
});
project.addTask('test:fuzz', { description: 'Property-based bad-input suite (FC_SEED to replay a run)', exec: 'jest test/fuzz' });

project.addTask('synth:all', {
  description: 'Synthesize every reference environment with the cdk CLI (no AWS account needed).',
  exec: 'cdk synth --quiet',
});

// Lint every folder with the dev tsconfig, which knows the package's public import names.
const eslintrc = project.tryFindObjectFile('.eslintrc.json')!;
eslintrc.addDeletionOverride('parserOptions.projectService');
eslintrc.addOverride('parserOptions.project', './tsconfig.dev.json');
eslintrc.addOverride('settings.import/resolver.typescript', { project: './tsconfig.dev.json', alwaysTryTypes: true });
project.eslint?.addIgnorePattern('lib/k8s/imports/');
project.eslint?.addIgnorePattern('cdk.out/');
project.eslint?.addOverride({ files: ['test/**/*.ts'], rules: { 'import/no-extraneous-dependencies': 'off' } });

project.synth();
