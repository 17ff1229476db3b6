import { Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks, HIPAASecurityChecks, NIST80053R5Checks } from 'cdk-nag';
import { IConstruct } from 'constructs';
import { MlopsChecks } from './checks/mlops-checks';
import { ControlTowerControls } from './private/control-tower';

export interface CompliancePacksOptions {
  /** @default true */
  readonly awsSolutions?: boolean;
  /** @default true */
  readonly nist80053r5?: boolean;
  /** @default true */
  readonly hipaaSecurity?: boolean;
  /**
   * The MLOps rule pack (`MlopsChecks`, rule ids `MLOps-*`).
   * @default true
   */
  readonly mlopsChecks?: boolean;
  /**
   * AWS Control Tower proactive controls: the cfn-guard rules Control Tower's CloudFormation hooks enforce at deploy
   * time in organizations that enable them, run at synthesis by `@cdklabs/cdk-validator-cfnguard` (a bundled cfn-guard
   * binary; Linux and macOS, x64 and arm64). A finding fails synthesis; acknowledge one on the narrowest construct with
   * `Validations.of(construct).acknowledge({ id: 'cdk-validator-cfnguard::<rule name>', reason })`.
   * Nested stacks are checked too, and references across stacks are resolved as the hooks see them (see
   * docs/compliance.md). Turn it off only where no Control Tower controls apply.
   * @default true
   */
  readonly controlTower?: boolean;
  /**
   * Control Tower rules not to run (file names without `.guard`, e.g. `ct-s3-pr-4`), for controls the organization
   * has not enabled.
   * @default - every bundled rule
   */
  readonly controlTowerDisabledRules?: string[];
  /**
   * Print each rule's explanation with its finding.
   * @default false
   */
  readonly verbose?: boolean;
}

/**
 * Runs the cdk-nag packs the platform is held to (AwsSolutions, NIST 800-53 rev 5, HIPAA Security, MLOps) over
 * everything in `app`, and the AWS Control Tower proactive controls. With cdk-nag 3.x an unacknowledged finding fails `cdk synth`; acknowledge one with
 * `Validations.of(construct).acknowledge({ id, reason })` and list it in docs/compliance.md.
 */
export function applyCompliancePacks(app: IConstruct, options: CompliancePacksOptions = {}): void {
  const verbose = options.verbose ?? false;
  const packs = [];
  if (options.awsSolutions ?? true) packs.push(new AwsSolutionsChecks(app, { verbose }));
  if (options.nist80053r5 ?? true) packs.push(new NIST80053R5Checks(app, { verbose }));
  if (options.hipaaSecurity ?? true) packs.push(new HIPAASecurityChecks(app, { verbose }));
  if (options.mlopsChecks ?? true) packs.push(new MlopsChecks(app, { verbose }));
  Validations.of(app).addPlugins(...packs);
  if (options.controlTower ?? true) {
    Validations.of(app).addPlugins(new ControlTowerControls(options.controlTowerDisabledRules));
  }
}
