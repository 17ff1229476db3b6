// Runs before every test file (jest setupFiles), in the worker's process: what it sets reaches every synthesis in the
// process and every cdk CLI, consumer project and script the tests start.
import * as path from 'path';

// Control Tower findings per template digest (lib/aws/private/control-tower.ts): the same template synthesized again,
// by another test file or a child process, reads them instead of running cfn-guard. Inside node_modules, so a clean
// clone (npm ci) starts empty.
process.env.MLOPS_CONTROL_TOWER_CACHE ??= path.join(__dirname, '..', '..', 'node_modules', '.cache', 'mlops-control-tower');
