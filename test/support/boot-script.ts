import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

/** What a fleet instance's boot script did under real bash, with the AWS CLI, IMDS, Docker and the package manager faked. */
export interface BootRun {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
  /** Every `aws` call, as its arguments. */
  readonly awsCalls: string[];
  /** The `MODEL_URI` the model container was started with, if it was started. */
  readonly modelUri?: string;
}

const STUBS: Record<string, string> = {
  // The AWS CLI: the served state from FAKE_SERVED_STATE (a missing parameter when unset), an ECR password.
  aws: `echo "$*" >> "$STUB_DIR/aws.log"
case "$1 $2" in
  "ssm get-parameter") if [ -z "\${FAKE_SERVED_STATE+x}" ]; then echo "An error occurred (ParameterNotFound) when calling the GetParameter operation" >&2; exit 254; fi; printf '%s\\n' "$FAKE_SERVED_STATE";;
  "ecr get-login-password") echo password;;
  *) echo "unexpected aws $*" >&2; exit 2;;
esac`,
  curl: 'case "$*" in *api/token*) echo token;; *placement/region*) echo us-east-1;; *) exit 7;; esac',
  docker: 'echo "$*" >> "$STUB_DIR/docker.log"; cat > /dev/null',
  systemctl: 'exit 0',
  dnf: 'exit 0',
};

/**
 * Runs a boot script (user data) with real bash. `servedState` is the served-state parameter's value the fake AWS CLI
 * returns (`undefined`: the parameter does not exist). Paths under /opt/aws (the CloudWatch agent) go to a temp dir.
 */
export function runBootScript(script: string, servedState: string | undefined): BootRun {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mlops-boot-'));
  const bin = path.join(dir, 'bin');
  fs.mkdirSync(path.join(dir, 'opt/aws/amazon-cloudwatch-agent/etc'), { recursive: true });
  fs.mkdirSync(path.join(dir, 'opt/aws/amazon-cloudwatch-agent/bin'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'opt/aws/amazon-cloudwatch-agent/bin/amazon-cloudwatch-agent-ctl'), '#!/bin/bash\nexit 0\n', { mode: 0o755 });
  fs.mkdirSync(bin);
  for (const [name, body] of Object.entries(STUBS)) fs.writeFileSync(path.join(bin, name), `#!/bin/bash\n${body}\n`, { mode: 0o755 });
  const env: NodeJS.ProcessEnv = { PATH: `${bin}:/usr/bin:/bin`, STUB_DIR: dir, HOME: dir };
  if (servedState !== undefined) env.FAKE_SERVED_STATE = servedState;
  const result = spawnSync('bash', ['-c', script.split('/opt/aws/').join(`${dir}/opt/aws/`)], { env, encoding: 'utf8', timeout: 10_000 });
  const read = (file: string) => (fs.existsSync(path.join(dir, file)) ? fs.readFileSync(path.join(dir, file), 'utf8').trim().split('\n') : []);
  const run = read('docker.log').find((line) => line.startsWith('run '));
  const awsCalls = read('aws.log');
  fs.rmSync(dir, { recursive: true, force: true });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr, awsCalls, modelUri: run ? /MODEL_URI=(\S+)/.exec(run)?.[1] : undefined };
}
