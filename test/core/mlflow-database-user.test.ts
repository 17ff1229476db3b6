// Runs the statement that makes MLflow's database user (what ExperimentTracking's bootstrap sends through the RDS Data
// API as the registry's admin) on a real PostgreSQL, set up the way Aurora is: the admin is not a superuser but may
// create roles and grant rds_iam, and owns the MLflow tables it created while MLflow connected as the admin.
// Needs PostgreSQL's server binaries (initdb, pg_ctl, postgres) and psql on the PATH.
import { spawnSync, SpawnSyncReturns } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { MLFLOW_DATABASE_USER, mlflowDatabaseUserSql } from 'mlops-constructs';

const ADMIN = 'registry_admin';
const DATABASE = 'registry';
let dir = '';

/** Runs a PostgreSQL program as the postgres user when the tests run as root (PostgreSQL refuses root). */
function run(command: string, args: string[], input?: string): SpawnSyncReturns<string> {
  const asRoot = process.getuid?.() === 0;
  const result = asRoot
    ? spawnSync('runuser', ['-u', 'postgres', '--', command, ...args], { encoding: 'utf8', input, timeout: 60_000 })
    : spawnSync(command, args, { encoding: 'utf8', input, timeout: 60_000 });
  if (result.error) throw new Error(`${command} could not run (${result.error.message}): install PostgreSQL's server binaries`);
  return result;
}

/** Runs SQL as `user` in the registry database; returns stdout (tuples only, unaligned), throws with stderr on error. */
function psql(user: string, sql: string, database = DATABASE): string {
  const result = run('psql', ['-h', dir, '-p', '5433', '-U', user, '-d', database, '-v', 'ON_ERROR_STOP=1', '-qtA', '-f', '-'], sql);
  if (result.status !== 0) throw new Error(result.stderr);
  return result.stdout.trim();
}

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mlops-pg-'));
  fs.chmodSync(dir, 0o777);
  const data = path.join(dir, 'data');
  const init = run('initdb', ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8']);
  if (init.status !== 0) throw new Error(init.stderr);
  const start = run('pg_ctl', ['-D', data, '-w', '-l', path.join(dir, 'log'), '-o', `-k ${dir} -p 5433 -c listen_addresses=''`, 'start']);
  if (start.status !== 0) throw new Error(start.stderr + fs.readFileSync(path.join(dir, 'log'), 'utf8'));
  // Aurora's shape: rds_iam exists; the admin creates roles and grants rds_iam, and owns the database it was created with.
  psql('postgres', `CREATE ROLE rds_iam; CREATE ROLE ${ADMIN} LOGIN CREATEROLE; GRANT rds_iam TO ${ADMIN} WITH ADMIN OPTION;
    CREATE DATABASE ${DATABASE} OWNER ${ADMIN};`, 'postgres');
  // What MLflow created while it connected as the admin, and something of the admin's own outside MLflow's schema.
  psql(ADMIN, `CREATE TABLE experiments (experiment_id SERIAL PRIMARY KEY, name VARCHAR(256) NOT NULL);
    CREATE TABLE runs (run_uuid VARCHAR(32) PRIMARY KEY, experiment_id INTEGER REFERENCES experiments);
    CREATE TABLE alembic_version (version_num VARCHAR(32) PRIMARY KEY);
    CREATE SEQUENCE standalone_seq; CREATE TYPE stage AS ENUM ('active', 'deleted');
    INSERT INTO experiments (name) VALUES ('Default');
    CREATE SCHEMA admin_only; CREATE TABLE admin_only.notes (note TEXT); INSERT INTO admin_only.notes VALUES ('admin');`);
}, 120_000);

afterAll(() => {
  if (!dir) return;
  run('pg_ctl', ['-D', path.join(dir, 'data'), '-w', '-m', 'immediate', 'stop']);
  fs.rmSync(dir, { recursive: true, force: true });
});

describe("MLflow's database user (mlflowDatabaseUserSql)", () => {
  test('is one statement the Data API accepts, idempotent: it runs twice as the admin without error', () => {
    const sql = mlflowDatabaseUserSql();
    expect(sql.trim()).toMatch(/^DO \$mlops\$[\s\S]*\$mlops\$$/);
    psql(ADMIN, sql);
    psql(ADMIN, sql);
    expect(MLFLOW_DATABASE_USER).toBe('mlflow');
  });

  test('a login role without password, superuser, role or database creation, that signs in with IAM (rds_iam) only', () => {
    expect(psql('postgres', "SELECT rolcanlogin, rolsuper, rolcreaterole, rolcreatedb, rolpassword IS NULL FROM pg_authid WHERE rolname = 'mlflow'"))
      .toBe('t|f|f|f|t');
    expect(psql('postgres', "SELECT pg_has_role('mlflow', 'rds_iam', 'MEMBER')")).toBe('t');
    // It cannot act as the admin.
    expect(psql('postgres', `SELECT pg_has_role('mlflow', '${ADMIN}', 'MEMBER')`)).toBe('f');
  });

  test("owns what MLflow created as the admin, so its migrations can alter it, and uses MLflow's data", () => {
    expect(psql('postgres', `SELECT string_agg(c.relname || ':' || pg_get_userbyid(c.relowner), ',' ORDER BY c.relname) FROM pg_class c
      JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relkind IN ('r', 'S')`))
      .toBe('alembic_version:mlflow,experiments:mlflow,experiments_experiment_id_seq:mlflow,runs:mlflow,standalone_seq:mlflow');
    expect(psql('postgres', "SELECT pg_get_userbyid(typowner) FROM pg_type WHERE typname = 'stage'")).toBe('mlflow');
    psql('mlflow', `ALTER TABLE experiments ADD COLUMN lifecycle_stage VARCHAR(32);
      INSERT INTO experiments (name) VALUES ('second'); CREATE TABLE metrics (key VARCHAR(250)); DROP TABLE metrics;`);
    expect(psql('mlflow', 'SELECT count(*) FROM experiments')).toBe('2');
  });

  test("reads nothing of the admin's own and cannot create roles or grant itself more", () => {
    expect(() => psql('mlflow', 'SELECT * FROM admin_only.notes')).toThrow(/permission denied for schema admin_only/);
    expect(() => psql('mlflow', 'CREATE ROLE sneaky LOGIN')).toThrow(/permission denied to create role/);
    expect(() => psql('mlflow', `GRANT ${ADMIN} TO mlflow`)).toThrow(/permission denied|must have admin option/);
  });
});
