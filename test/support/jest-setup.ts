// Runs before every test file (jest setupFiles), in the worker's process: what it sets reaches every synthesis in the
// process and every cdk CLI, consumer project and script the tests start.
import * as path from 'path';

// Control Tower findings per template digest (lib/aws/private/control-tower.ts): the same template synthesized again,
// by another test file or a child process, reads them instead of running cfn-guard. Inside node_modules, so a clean
// clone (npm ci) starts empty.
process.env.MLOPS_CONTROL_TOWER_CACHE ??= path.join(__dirname, '..', '..', 'node_modules', '.cache', 'mlops-control-tower');

// aws-cdk-lib (2.27x) validates every synthesized template in process with a WebAssembly CloudFormation validator
// ("CloudFormation Validate"); starting its engine costs about 7 s of CPU in each process that synthesizes, which is
// every test file. Its findings are warnings (errors only under @aws-cdk/core:validateAgainstDefaultRules), and the
// gate checks every template with cfn-lint. It stays on where a user has it: the consumer suite's projects (their
// environment has no CDK_ variables) and the README's `cdk synth` (test/gate/cdk-cli.test.ts), which assert it
// reports nothing (builtinValidationFindings).
process.env.CDK_VALIDATION ??= 'false';
