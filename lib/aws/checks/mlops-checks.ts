import { CfnResource, PolicyValidationPluginReport } from 'aws-cdk-lib';
import { NagMessageLevel, NagPack, NagPackProps } from 'cdk-nag';
import { IConstruct } from 'constructs';
import { dataCaptureEncrypted } from './rules/data-capture-encrypted';
import { gpuCostTags } from './rules/gpu-cost-tags';
import { onlyPromotionWritesServedModels } from './rules/only-promotion-writes-served-models';
import { restrictedDataRetention } from './rules/restricted-data-retention';
import { servedModelAlarms } from './rules/served-model-alarms';
import { statefulRetained } from './rules/stateful-retained';
import { versionedArtifactBuckets } from './rules/versioned-artifact-buckets';
import { clearServedWritesCache } from './served-writes';
import { clearRenderCache } from './template';

/**
 * The MLOps rule pack for cdk-nag 3: what an ML platform must get right beyond general security packs
 * (versioned datasets and models, alarms on served models, attributable GPU spend, retained state outside dev,
 * only the promotion role publishing what production serves, encrypted data capture, bounded retention of restricted data).
 * Rule ids are `MLOps-<Name>`; acknowledge one like any cdk-nag finding, with
 * `Validations.of(construct).acknowledge({ id: 'MLOps-GpuCostTags', reason })`.
 *
 * @example
 * Validations.of(app).addPlugins(new MlopsChecks(app));
 */
export class MlopsChecks extends NagPack {
  public readonly name = 'MLOps';

  constructor(scope?: IConstruct, props?: NagPackProps) {
    super(scope, props);
    this.packName = 'MLOps';
  }

  public validateScope(scope: IConstruct): PolicyValidationPluginReport {
    clearRenderCache();
    clearServedWritesCache();
    try {
      return super.validateScope(scope);
    } finally {
      clearRenderCache();
      clearServedWritesCache();
    }
  }

  protected checkResource(node: CfnResource): void {
    this.applyRule({
      ruleSuffixOverride: 'VersionedArtifactBuckets',
      info: 'The dataset or model bucket (tag mlops:purpose) does not have versioning enabled.',
      explanation: 'Without versioning an overwritten or deleted training set or model version is lost, and the lineage from a served model '
        + 'to the exact data it was trained on is broken.',
      level: NagMessageLevel.ERROR,
      rule: versionedArtifactBuckets,
      node,
    });
    this.applyRule({
      ruleSuffixOverride: 'ServedModelAlarms',
      info: 'The served model (tag mlops:model) lacks a latency alarm, an error alarm or a rollout-health alarm in its stack.',
      explanation: 'Rollouts roll back on these alarms, and an unwatched model degrades silently. Add alarms that name the model (or refer to '
        + 'the endpoint or fleet) and a composite rollout-health alarm (MlopsMonitoring.addRolloutHealthAlarm).',
      level: NagMessageLevel.ERROR,
      rule: servedModelAlarms,
      node,
    });
    this.applyRule({
      ruleSuffixOverride: 'GpuCostTags',
      info: 'The resource launches accelerated (GPU, Inferentia or Trainium) capacity without mlops:team and mlops:cost-center tags.',
      explanation: 'Accelerated capacity is most of an ML platform\'s spend; without team and cost-center tags on what is launched, budgets '
        + 'and cost allocation cannot attribute it.',
      level: NagMessageLevel.ERROR,
      rule: gpuCostTags,
      node,
    });
    this.applyRule({
      ruleSuffixOverride: 'StatefulRetained',
      info: 'The stateful resource is deleted with the stack outside dev (DeletionPolicy is not Retain or Snapshot).',
      explanation: 'Buckets, databases, keys, registries, log groups, secrets, tables, file systems and model package groups hold data or '
        + 'the keys to it; outside dev a stack change must never destroy them.',
      level: NagMessageLevel.ERROR,
      rule: statefulRetained,
      node,
    });
    this.applyRule({
      ruleSuffixOverride: 'OnlyPromotionWritesServedModels',
      info: 'The role can put, delete or unlock an object that a served model reads (across every stack of the app), and the models '
        + 'bucket policy does not designate it as the promotion role.',
      explanation: 'Production models are published by a reviewed promotion step (ModelPromotion), not by training code, pipelines or '
        + 'people; a role that can write a served URI can replace a model in production without review. ArtifactStore denies every '
        + 'principal but its promotion role these writes below served/.',
      level: NagMessageLevel.ERROR,
      rule: onlyPromotionWritesServedModels,
      node,
    });
    this.applyRule({
      ruleSuffixOverride: 'DataCaptureEncrypted',
      info: 'The SageMaker endpoint configuration captures data without a KMS key (DataCaptureConfig.KmsKeyId).',
      explanation: 'Captured requests and responses are production data, often personal data; encrypt them with a customer managed key.',
      level: NagMessageLevel.ERROR,
      rule: dataCaptureEncrypted,
      node,
    });
    this.applyRule({
      ruleSuffixOverride: 'RestrictedDataRetention',
      info: 'The bucket holds RESTRICTED data (mlops:data-classification=restricted) but no lifecycle rule expires current objects.',
      explanation: 'Privacy rules (GDPR storage limitation, CCPA) require personal data to be deleted when no longer needed; set a retention.',
      level: NagMessageLevel.ERROR,
      rule: restrictedDataRetention,
      node,
    });
  }
}
