// Builds the library as it is published (tsc to dist/, `npm pack`) and installs the tarball into a fresh
// project, once per source state: the result is cached under the OS temp directory by a hash of every packed
// input, so all consumer test files of a jest run (and later runs on unchanged sources) share one build.
import { spawnSync } from 'child_process';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { REPO_ROOT } from '../../support/gate';

/** What `npm pack` produced. */
export interface PackedLibrary {
  /** The tarball, as a user would install it. */
  readonly tarball: string;
  /** Files inside the tarball, relative to the package root (`package/` stripped), sorted. */
  readonly files: string[];
  /** The package.json that was packed. */
  readonly manifest: Record<string, any>;
  /** Hash of the packed inputs: names the cached build and the projects installed from it. */
  readonly hash: string;
}

const CACHE_PREFIX = 'mlops-consumer-';
const STALE_AFTER_MS = 24 * 3600_000;

/** Files npm would see in the repository: tracked and new ones, minus what .gitignore excludes. */
function sourceFiles(): string[] {
  const git = spawnSync('git', ['ls-files', '-co', '--exclude-standard', '-z'], { cwd: REPO_ROOT, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (git.status !== 0) throw new Error(`git ls-files failed in ${REPO_ROOT}: ${git.stderr}`);
  return git.stdout.split('\0').filter((f) => f !== '' && fs.existsSync(path.join(REPO_ROOT, f)) && fs.statSync(path.join(REPO_ROOT, f)).isFile());
}

/** A hash of everything that can change the package (tests excluded: they are never packed, the pack test checks). */
function inputsHash(files: string[]): string {
  const hash = crypto.createHash('sha256');
  for (const f of files) {
    if (f.startsWith('test/')) continue;
    hash.update(f).update('\0').update(fs.readFileSync(path.join(REPO_ROOT, f))).update('\0');
  }
  hash.update(process.version);
  return hash.digest('hex').slice(0, 16);
}

function run(cmd: string, args: string[], cwd: string, what: string): string {
  const result = spawnSync(cmd, args, { cwd, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, env: { ...process.env, NODE_NO_WARNINGS: '1' } });
  if (result.status !== 0) {
    throw new Error(`${what} failed (exit ${result.status}):\n${result.stdout}\n${result.stderr}`);
  }
  return result.stdout;
}

function sleep(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/**
 * Runs `build(dir)` once for `key` across jest workers and runs: the first caller builds into a private
 * directory and renames it into place; others wait for it.
 */
export function cached(key: string, build: (dir: string) => void): string {
  const dir = path.join(os.tmpdir(), `${CACHE_PREFIX}${key}`);
  const lock = `${dir}.lock`;
  const deadline = Date.now() + 10 * 60_000;
  while (!fs.existsSync(path.join(dir, '.ready'))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${dir} (remove ${lock} if no test is running)`);
    try {
      fs.mkdirSync(lock);
    } catch {
      // Another worker builds it; a lock older than 10 minutes belongs to a killed run.
      try {
        if (Date.now() - fs.statSync(lock).mtimeMs > 10 * 60_000) fs.rmSync(lock, { recursive: true, force: true });
      } catch { /* gone meanwhile */ }
      sleep(500);
      continue;
    }
    try {
      if (fs.existsSync(path.join(dir, '.ready'))) break;
      fs.rmSync(dir, { recursive: true, force: true });
      const work = fs.mkdtempSync(`${dir}.tmp-`);
      build(work);
      fs.writeFileSync(path.join(work, '.ready'), new Date().toISOString());
      fs.renameSync(work, dir);
    } finally {
      fs.rmSync(lock, { recursive: true, force: true });
    }
  }
  return dir;
}

function removeStaleCaches(): void {
  for (const entry of fs.readdirSync(os.tmpdir())) {
    if (!entry.startsWith(CACHE_PREFIX)) continue;
    const full = path.join(os.tmpdir(), entry);
    try {
      if (Date.now() - fs.statSync(full).mtimeMs > STALE_AFTER_MS) fs.rmSync(full, { recursive: true, force: true });
    } catch { /* another run removed it */ }
  }
}

let packed: PackedLibrary | undefined;

/**
 * The library as `npm pack` makes it from this checkout: the repository's files are copied to a staging
 * directory (the checkout itself is never written to), compiled with the project's tsconfig.json into dist/,
 * and packed there.
 */
export function packLibrary(): PackedLibrary {
  if (packed) return packed;
  const files = sourceFiles();
  const hash = inputsHash(files);
  const key = `pack-${hash}`;
  const dir = cached(key, (work) => {
    removeStaleCaches();
    const stage = path.join(work, 'stage');
    for (const f of files) {
      const target = path.join(stage, f);
      fs.mkdirSync(path.dirname(target), { recursive: true });
      fs.copyFileSync(path.join(REPO_ROOT, f), target);
    }
    // The compiler and type declarations come from the repository's install.
    fs.symlinkSync(path.join(REPO_ROOT, 'node_modules'), path.join(stage, 'node_modules'), 'dir');
    run(process.execPath, [path.join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json'], stage, 'tsc (the package build)');
    fs.unlinkSync(path.join(stage, 'node_modules'));
    const out = run('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', work], stage, 'npm pack');
    const report = JSON.parse(out)[0];
    fs.writeFileSync(path.join(work, 'pack.json'), JSON.stringify({ filename: report.filename, files: report.files.map((f: { path: string }) => f.path).sort() }));
    fs.rmSync(stage, { recursive: true, force: true });
  });
  const report = JSON.parse(fs.readFileSync(path.join(dir, 'pack.json'), 'utf8'));
  const tarball = path.join(dir, report.filename);
  const manifest = JSON.parse(run('tar', ['-xzOf', tarball, 'package/package.json'], dir, 'tar'));
  packed = { tarball, files: report.files, manifest, hash };
  return packed;
}

/** Packages a user's project has besides the library's own dependencies: the CDK toolchain of `cdk init app`. */
export const USER_TOOLS = ['typescript', 'tsx', 'aws-cdk', '@types/node', '@types/jest'];

export interface InstallOptions {
  /**
   * Peer dependencies the user did not install (for example the optional `@pulumi/kubernetes`).
   * @default - every peer dependency is installed
   */
  readonly withoutPeers?: string[];
}

/**
 * A fresh project (outside the repository, so nothing resolves from its node_modules by accident) with the
 * packed library installed as npm installs a tarball (extracted to node_modules/mlops-constructs) and, beside
 * it, exactly the library's declared dependencies and peers plus the user's toolchain. Those are links to the
 * repository's install, i.e. the versions of package-lock.json: no network, and an undeclared dependency of
 * the library fails to resolve as it would for a user.
 */
export function installLibrary(options: InstallOptions = {}): string {
  const lib = packLibrary();
  const without = [...(options.withoutPeers ?? [])].sort();
  const key = `proj-${lib.hash}${without.length ? `-without-${without.join('+').replace(/[@/]/g, '_')}` : ''}`;
  return cached(key, (work) => {
    const nodeModules = path.join(work, 'node_modules');
    const target = path.join(nodeModules, 'mlops-constructs');
    fs.mkdirSync(target, { recursive: true });
    run('tar', ['-xzf', lib.tarball, '-C', target, '--strip-components=1'], work, 'tar');
    const peers = Object.keys(lib.manifest.peerDependencies ?? {}).filter((p) => !without.includes(p));
    const links = [...Object.keys(lib.manifest.dependencies ?? {}), ...peers, ...USER_TOOLS];
    for (const name of links) {
      const source = path.join(REPO_ROOT, 'node_modules', name);
      if (!fs.existsSync(source)) throw new Error(`${name} is not installed in the repository (npm ci)`);
      fs.mkdirSync(path.dirname(path.join(nodeModules, name)), { recursive: true });
      fs.symlinkSync(source, path.join(nodeModules, name), 'dir');
    }
    fs.mkdirSync(path.join(nodeModules, '.bin'));
    for (const [bin, file] of [['cdk', 'aws-cdk/bin/cdk'], ['tsc', 'typescript/bin/tsc'], ['tsx', 'tsx/dist/cli.mjs']]) {
      fs.symlinkSync(path.join('..', file), path.join(nodeModules, '.bin', bin));
    }
    const versionOf = (name: string) => JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'node_modules', name, 'package.json'), 'utf8')).version;
    // What `cdk init app --language typescript` writes, with the library added.
    fs.writeFileSync(path.join(work, 'package.json'), JSON.stringify({
      name: 'user-app',
      version: '0.1.0',
      private: true,
      dependencies: Object.fromEntries(['aws-cdk-lib', 'constructs', ...peers.filter((p) => p.startsWith('@pulumi/'))].map((p) => [p, versionOf(p)])
        .concat([['mlops-constructs', `file:${lib.tarball}`]])),
      devDependencies: Object.fromEntries(USER_TOOLS.map((p) => [p, versionOf(p)])),
    }, undefined, 2));
    fs.writeFileSync(path.join(work, 'tsconfig.json'), JSON.stringify({ compilerOptions: CDK_INIT_COMPILER_OPTIONS, exclude: ['node_modules', 'cdk.out'] }, undefined, 2));
  });
}

/** compilerOptions of the tsconfig.json that `cdk init app --language typescript` writes (aws-cdk 2.1148). */
export const CDK_INIT_COMPILER_OPTIONS = {
  target: 'ES2022',
  module: 'NodeNext',
  moduleResolution: 'NodeNext',
  lib: ['es2022'],
  declaration: true,
  strict: true,
  noImplicitAny: true,
  strictNullChecks: true,
  noImplicitThis: true,
  alwaysStrict: true,
  noUnusedLocals: false,
  noUnusedParameters: false,
  noImplicitReturns: true,
  noFallthroughCasesInSwitch: false,
  inlineSourceMap: true,
  inlineSources: true,
  experimentalDecorators: true,
  strictPropertyInitialization: false,
  skipLibCheck: true,
  typeRoots: ['./node_modules/@types'],
  noEmit: true,
  isolatedModules: true,
  types: ['jest', 'node'],
};
