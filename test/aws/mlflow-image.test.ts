// The IAM token hook of the default MLflow image (assets/mlflow/sitecustomize.py), run by Python as the image runs it:
// from PYTHONPATH at interpreter start, against SQLAlchemy's documented `do_connect` event (a recording stand-in for
// SQLAlchemy, which this machine lacks) and the real boto3, which signs the token offline with the task's credentials.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { MLFLOW_IMAGE_DIRECTORY } from 'mlops-constructs';

const STUB = {
  'sqlalchemy/__init__.py': '',
  'sqlalchemy/engine.py': 'class Engine:\n    pass\n',
  // Records (target, event name, listener) as event.listens_for(Engine, "do_connect") registers it.
  'sqlalchemy/event.py': 'listeners = []\ndef listens_for(target, name):\n    def register(fn):\n'
    + '        listeners.append((target, name, fn))\n        return fn\n    return register\n',
};

function runPython(script: string, env: Record<string, string>): { status: number | null; stdout: string; stderr: string } {
  const stub = fs.mkdtempSync(path.join(os.tmpdir(), 'mlops-sqlalchemy-'));
  for (const [file, text] of Object.entries(STUB)) {
    fs.mkdirSync(path.dirname(path.join(stub, file)), { recursive: true });
    fs.writeFileSync(path.join(stub, file), text);
  }
  try {
    // The image puts the hook's directory on PYTHONPATH; the stand-in comes after it.
    return spawnSync('python3', ['-c', script], {
      encoding: 'utf8',
      timeout: 60_000,
      env: {
        PATH: process.env.PATH ?? '',
        HOME: os.tmpdir(),
        PYTHONPATH: `${MLFLOW_IMAGE_DIRECTORY}${path.delimiter}${stub}`,
        AWS_ACCESS_KEY_ID: 'AKIAEXAMPLE',
        AWS_SECRET_ACCESS_KEY: 'example',
        AWS_SESSION_TOKEN: 'task-session',
        // No __pycache__ in the image's build context (it would change the image's content hash).
        PYTHONDONTWRITEBYTECODE: '1',
        ...env,
      },
    });
  } finally {
    fs.rmSync(stub, { recursive: true, force: true });
  }
}

describe('the IAM token hook of the MLflow image', () => {
  test('with MLFLOW_DB_IAM_AUTH=1, every new connection gets a fresh token for its own host, port and user', () => {
    const result = runPython([
      'import json, sys',
      'from sqlalchemy import event',
      'from sqlalchemy.engine import Engine',
      'assert "sitecustomize" in sys.modules',
      '[(target, name, fn)] = event.listeners',
      'cparams = {"host": "registry.cluster-abc.eu-west-1.rds.amazonaws.com", "port": 5433, "user": "mlflow", "dbname": "registry"}',
      'fn(None, None, [], cparams)',
      'print(json.dumps({"target": target.__name__, "name": name, "password": cparams["password"]}))',
    ].join('\n'), { MLFLOW_DB_IAM_AUTH: '1', AWS_REGION: 'eu-west-1' });
    expect(result.stderr).toBe('');
    const out = JSON.parse(result.stdout);
    expect(out).toMatchObject({ target: 'Engine', name: 'do_connect' });
    // An RDS IAM token: a presigned rds-db connect request for that endpoint and user, signed in the database's region.
    expect(out.password).toMatch(/^registry\.cluster-abc\.eu-west-1\.rds\.amazonaws\.com:5433\/\?Action=connect&DBUser=mlflow&/);
    expect(out.password).toContain('%2Feu-west-1%2Frds-db%2Faws4_request');
    expect(out.password).toContain('X-Amz-Security-Token=task-session');
    expect(out.password).toMatch(/X-Amz-Signature=[0-9a-f]{64}/);
  });

  test('without it (the health check, other Python processes), nothing is loaded or registered', () => {
    const result = runPython('import sys\nprint("sqlalchemy" in sys.modules, "boto3" in sys.modules)', { AWS_REGION: 'eu-west-1' });
    expect(result.stderr).toBe('');
    expect(result.stdout.trim()).toBe('False False');
  });
});
