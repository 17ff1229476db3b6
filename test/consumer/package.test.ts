// What `npm pack` ships, and that package.json points every module system at files the tarball holds.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import { builtinModules } from 'module';
import * as path from 'path';
import { REPO_ROOT } from '../support/gate';
import { packLibrary } from './support/package';
import { UserProject } from './support/user-project';

const lib = packLibrary();

describe('the tarball', () => {
  test('holds the build, README, LICENSE, the docs and the examples, and nothing else', () => {
    const unexpected = lib.files.filter((f) => !(
      /^dist\/.+\.(js|d\.ts)$/.test(f)
      || ['package.json', 'README.md', 'LICENSE'].includes(f)
      || /^docs\/[\w-]+\.md$/.test(f)
      || /^assets\/mlflow\/(Dockerfile|sitecustomize\.py)$/.test(f)
      || /^examples\/[\w-]+\/[\w.-]+$/.test(f)
    ));
    expect(unexpected).toEqual([]);
    // No tests, CI scripts, TypeScript sources of the library, repository tooling or generated output.
    expect(lib.files.filter((f) => /^(test|lib|bin|scripts|\.ci|\.projen|projenrc)\/|^\.|tsconfig|\.projenrc|cdk\.out|examples\/k8s\/dist/.test(f))).toEqual([]);
    expect(lib.files.filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts') && !f.startsWith('examples/'))).toEqual([]);
  });

  test('ships every entry point, the mlops-review command and every example the README points to', () => {
    for (const entry of ['index', 'k8s/index', 'pulumi/index', 'review/index']) {
      expect(lib.files).toContain(`dist/${entry}.js`);
      expect(lib.files).toContain(`dist/${entry}.d.ts`);
    }
    const readme = fs.readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8');
    const pointed = [...new Set([...readme.matchAll(/\bexamples\/[\w-]+(?:\/[\w.-]+)?/g)].map((m) => m[0]))]
      // Generated output the README mentions (npm run synth:k8s writes it) is not shipped.
      .filter((p) => !p.startsWith('examples/k8s/dist'));
    expect(pointed.length).toBeGreaterThan(3);
    for (const p of pointed) {
      expect([p, lib.files.filter((f) => f === p || f.startsWith(`${p}/`)).length > 0]).toEqual([p, true]);
    }
    // Every example file of the repository (bar generated output) is in the tarball.
    const tracked = spawnSync('git', ['ls-files', 'examples'], { cwd: REPO_ROOT, encoding: 'utf8' }).stdout.split('\n').filter(Boolean);
    expect(tracked.filter((f) => !lib.files.includes(f))).toEqual([]);
    for (const f of ['docs/compliance.md', 'LICENSE', 'README.md']) expect(lib.files).toContain(f);
    // The build context of ExperimentTracking's default image (MLFLOW_IMAGE_DIRECTORY), which CDK stages at synth.
    expect(lib.files).toContain('assets/mlflow/Dockerfile');
    expect(lib.files).toContain('assets/mlflow/sitecustomize.py');
  });

  test("package.json's main, types, typesVersions, exports and bin name files the tarball holds", () => {
    const m = lib.manifest;
    expect(m.main).toBe('dist/index.js');
    expect(m.types).toBe('dist/index.d.ts');
    const targets: string[] = [m.main, m.types, ...Object.values(m.bin as Record<string, string>)];
    for (const [subpath, target] of Object.entries(m.exports as Record<string, any>)) {
      if (subpath === './package.json') continue;
      targets.push(target.types, target.default);
    }
    for (const [subpath, mapped] of Object.entries(m.typesVersions['*'] as Record<string, string[]>)) {
      expect(Object.keys(m.exports)).toContain(`./${subpath}`);
      targets.push(...mapped);
    }
    expect(targets.length).toBeGreaterThan(12);
    for (const t of targets) expect([t, lib.files.includes(t.replace(/^\.\//, ''))]).toEqual([t, true]);
  });

  test('the build requires only declared dependencies, peers and Node built-ins', () => {
    const project = UserProject.get();
    const dist = path.join(project.root, 'node_modules', 'mlops-constructs', 'dist');
    const declared = new Set([...Object.keys(lib.manifest.dependencies ?? {}), ...Object.keys(lib.manifest.peerDependencies ?? {})]);
    const undeclared = new Set<string>();
    for (const file of lib.files.filter((f) => f.startsWith('dist/') && f.endsWith('.js'))) {
      const source = fs.readFileSync(path.join(dist, '..', file), 'utf8');
      for (const m of source.matchAll(/require\("([^".][^"]*)"\)/g)) {
        const spec = m[1];
        const pkg = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0];
        if (!declared.has(pkg) && !builtinModules.includes(pkg.replace(/^node:/, ''))) undeclared.add(`${pkg} (${file})`);
      }
    }
    expect([...undeclared]).toEqual([]);
  });

  test('the mlops-review command runs from the installed package', () => {
    const project = UserProject.get();
    const bin = path.join(project.root, 'node_modules', 'mlops-constructs', lib.manifest.bin['mlops-review']);
    expect(fs.readFileSync(bin, 'utf8').startsWith('#!/usr/bin/env node')).toBe(true);
    const result = spawnSync(process.execPath, [bin, '--help'], { cwd: project.dir, encoding: 'utf8' });
    expect(result.stderr).toBe('');
    expect(result.stdout).toContain('--base');
    expect(result.status).toBe(0);
  });
});
