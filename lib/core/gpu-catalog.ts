import { SAGEMAKER_HOSTING_HOURLY_USD } from './prices';
import { ValidationError } from './validation';

/** What does the work on an instance. */
export enum AcceleratorKind {
  NVIDIA_GPU = 'nvidia-gpu',
  INFERENTIA = 'inferentia',
  TRAINIUM = 'trainium',
  NONE = 'none',
}

/** One row of the catalog. */
export interface InstanceSpec {
  /** EC2 instance type, e.g. `g5.2xlarge`. */
  readonly instanceType: string;
  /** Family, e.g. `g5`. */
  readonly family: string;
  readonly acceleratorKind: AcceleratorKind;
  /** Accelerator model, e.g. `A10G`, or `none`. */
  readonly acceleratorModel: string;
  /** Accelerators (GPUs, Inferentia or Trainium chips) per instance. */
  readonly accelerators: number;
  /**
   * Memory per accelerator in MiB, as `DescribeInstanceTypes` reports it (`GpuInfo.Gpus[].MemoryInfo.SizeInMiB`):
   * an A10G or L4 has 22,888 MiB, not the nominal 24 GB.
   */
  readonly acceleratorMemoryMiB: number;
  /** Memory per accelerator in GiB (`acceleratorMemoryMiB / 1024`, one decimal): A10G and L4 22.4, L40S 44.7. */
  readonly acceleratorMemoryGiB: number;
  readonly vcpus: number;
  readonly memoryGiB: number;
  /** On-demand Linux price per hour in us-east-1 on `PRICES_AS_OF`. */
  readonly onDemandHourlyUsd: number;
  /**
   * SageMaker real-time inference price per hour of the `ml.` type in us-east-1 (`SAGEMAKER_HOSTING_HOURLY_USD`);
   * undefined where SageMaker does not host the type.
   */
  readonly sageMakerHourlyUsd?: number;
  /** Whether the type supports Elastic Fabric Adapter for multi-node training. */
  readonly efa: boolean;
}

type Row = [string, AcceleratorKind, string, number, number, number, number, number, boolean];

const G = AcceleratorKind.NVIDIA_GPU;
const INF = AcceleratorKind.INFERENTIA;
const TRN = AcceleratorKind.TRAINIUM;
const CPU = AcceleratorKind.NONE;

// type, kind, model, accelerators, MiB per accelerator (as the EC2 API's GpuInfo/NeuronInfo reports it), vCPU, memory GiB, $/h, EFA
const ROWS: Row[] = [
  ['g4dn.xlarge', G, 'T4', 1, 16384, 4, 16, 0.526, false],
  ['g4dn.2xlarge', G, 'T4', 1, 16384, 8, 32, 0.752, false],
  ['g4dn.4xlarge', G, 'T4', 1, 16384, 16, 64, 1.204, false],
  ['g4dn.8xlarge', G, 'T4', 1, 16384, 32, 128, 2.176, true],
  ['g4dn.12xlarge', G, 'T4', 4, 16384, 48, 192, 3.912, true],
  ['g4dn.16xlarge', G, 'T4', 1, 16384, 64, 256, 4.352, true],
  ['g4dn.metal', G, 'T4', 8, 16384, 96, 384, 7.824, true],
  ['g5.xlarge', G, 'A10G', 1, 22888, 4, 16, 1.006, false],
  ['g5.2xlarge', G, 'A10G', 1, 22888, 8, 32, 1.212, false],
  ['g5.4xlarge', G, 'A10G', 1, 22888, 16, 64, 1.624, false],
  ['g5.8xlarge', G, 'A10G', 1, 22888, 32, 128, 2.448, true],
  ['g5.12xlarge', G, 'A10G', 4, 22888, 48, 192, 5.672, true],
  ['g5.16xlarge', G, 'A10G', 1, 22888, 64, 256, 4.096, true],
  ['g5.24xlarge', G, 'A10G', 4, 22888, 96, 384, 8.144, true],
  ['g5.48xlarge', G, 'A10G', 8, 22888, 192, 768, 16.288, true],
  ['g6.xlarge', G, 'L4', 1, 22888, 4, 16, 0.8048, false],
  ['g6.2xlarge', G, 'L4', 1, 22888, 8, 32, 0.9776, false],
  ['g6.4xlarge', G, 'L4', 1, 22888, 16, 64, 1.3232, false],
  ['g6.8xlarge', G, 'L4', 1, 22888, 32, 128, 2.0144, true],
  ['g6.12xlarge', G, 'L4', 4, 22888, 48, 192, 4.6016, true],
  ['g6.16xlarge', G, 'L4', 1, 22888, 64, 256, 3.3968, true],
  ['g6.24xlarge', G, 'L4', 4, 22888, 96, 384, 6.6752, true],
  ['g6.48xlarge', G, 'L4', 8, 22888, 192, 768, 13.3504, true],
  ['g6e.xlarge', G, 'L40S', 1, 45776, 4, 32, 1.861, false],
  ['g6e.2xlarge', G, 'L40S', 1, 45776, 8, 64, 2.24208, false],
  ['g6e.4xlarge', G, 'L40S', 1, 45776, 16, 128, 3.00424, false],
  ['g6e.8xlarge', G, 'L40S', 1, 45776, 32, 256, 4.52856, true],
  ['g6e.12xlarge', G, 'L40S', 4, 45776, 48, 384, 10.49264, true],
  ['g6e.16xlarge', G, 'L40S', 1, 45776, 64, 512, 7.57719, true],
  ['g6e.24xlarge', G, 'L40S', 4, 45776, 96, 768, 15.06559, true],
  ['g6e.48xlarge', G, 'L40S', 8, 45776, 192, 1536, 30.13118, true],
  ['p4d.24xlarge', G, 'A100', 8, 40960, 96, 1152, 21.96, true],
  ['p5.48xlarge', G, 'H100', 8, 81920, 192, 2048, 55.04, true],
  ['inf2.xlarge', INF, 'Inferentia2', 1, 32768, 4, 16, 0.7582, false],
  ['inf2.8xlarge', INF, 'Inferentia2', 1, 32768, 32, 128, 1.9679, false],
  ['inf2.24xlarge', INF, 'Inferentia2', 6, 32768, 96, 384, 6.4906, false],
  ['inf2.48xlarge', INF, 'Inferentia2', 12, 32768, 192, 768, 12.9813, false],
  ['trn1.2xlarge', TRN, 'Trainium', 1, 32768, 8, 32, 1.34375, false],
  ['trn1.32xlarge', TRN, 'Trainium', 16, 32768, 128, 512, 21.5, true],
  ['m7i.large', CPU, 'none', 0, 0, 2, 8, 0.1008, false],
  ['m7i.xlarge', CPU, 'none', 0, 0, 4, 16, 0.2016, false],
  ['m7i.2xlarge', CPU, 'none', 0, 0, 8, 32, 0.4032, false],
  ['c7i.xlarge', CPU, 'none', 0, 0, 4, 8, 0.1785, false],
  ['c7i.2xlarge', CPU, 'none', 0, 0, 8, 16, 0.357, false],
];

const CATALOG: ReadonlyMap<string, InstanceSpec> = new Map(ROWS.map((row) => {
  const [instanceType, acceleratorKind, acceleratorModel, accelerators, acceleratorMemoryMiB, vcpus, memoryGiB, onDemandHourlyUsd, efa] = row;
  const family = instanceType.split('.')[0];
  const acceleratorMemoryGiB = Math.round((acceleratorMemoryMiB / 1024) * 10) / 10;
  const sageMakerHourlyUsd = SAGEMAKER_HOSTING_HOURLY_USD[`ml.${instanceType}`];
  return [instanceType, Object.freeze({
    instanceType,
    family,
    acceleratorKind,
    acceleratorModel,
    accelerators,
    acceleratorMemoryMiB,
    acceleratorMemoryGiB,
    vcpus,
    memoryGiB,
    onDemandHourlyUsd,
    sageMakerHourlyUsd,
    efa,
  })];
}));

/**
 * An instance type from the catalog. Construct with `GpuInstance.of('g5.2xlarge')`; unknown types are
 * rejected with the list of known ones so a typo never reaches CloudFormation.
 */
export class GpuInstance implements InstanceSpec {
  /**
   * An instance type from the catalog.
   * @param instanceType EC2 instance type, e.g. `g5.2xlarge`
   * @param prop the prop the value came from, for the error message
   * @param scope the construct path or component the value was given to, for the error message
   */
  public static of(instanceType: string, prop = 'instanceType', scope = 'GpuInstance'): GpuInstance {
    const spec = CATALOG.get(instanceType);
    if (!spec) {
      // SageMaker writes instance types with an `ml.` prefix; the catalog (and every prop taking a type) does not.
      const bare = typeof instanceType === 'string' && instanceType.startsWith('ml.') ? instanceType.slice(3) : undefined;
      if (bare !== undefined && CATALOG.has(bare)) {
        throw new ValidationError({
          scope, prop, value: instanceType, problem: 'is not in the instance catalog', fix: `drop the 'ml.' prefix: '${bare}' (the library adds it for SageMaker).`,
        });
      }
      const family = typeof instanceType === 'string' ? instanceType.split('.')[0] : '';
      const sameFamily = [...CATALOG.keys()].filter((k) => k.startsWith(`${family}.`));
      throw new ValidationError({
        scope,
        prop,
        value: instanceType,
        problem: 'is not in the instance catalog',
        fix: sameFamily.length > 0
          ? `use one of ${sameFamily.join(', ')}.`
          : `use a type of the families ${GpuInstance.families().join(', ')} (see GpuInstance.all()).`,
      });
    }
    return new GpuInstance(spec);
  }

  /**
   * An instance type that must have accelerators (GPU, Inferentia or Trainium).
   */
  public static accelerated(instanceType: string, prop = 'instanceType', scope = 'GpuInstance'): GpuInstance {
    const instance = GpuInstance.of(instanceType, prop, scope);
    if (instance.accelerators === 0) {
      throw new ValidationError({
        scope,
        prop,
        value: instanceType,
        problem: 'has no GPU or other accelerator',
        fix: 'use an accelerated type such as g5.xlarge, g6.xlarge or inf2.xlarge.',
      });
    }
    return instance;
  }

  /** Every catalog entry. */
  public static all(): GpuInstance[] {
    return [...CATALOG.values()].map((s) => new GpuInstance(s));
  }

  /** The families in the catalog. */
  public static families(): string[] {
    return [...new Set([...CATALOG.values()].map((s) => s.family))];
  }

  /** Families whose instances carry accelerators (GPU, Inferentia, Trainium): what a GPU spending stop denies. */
  public static acceleratedFamilies(): string[] {
    return [...new Set([...CATALOG.values()].filter((s) => s.accelerators > 0).map((s) => s.family))];
  }

  /** Whether the type is in the catalog. */
  public static isKnown(instanceType: string): boolean {
    return CATALOG.has(instanceType);
  }

  public readonly instanceType: string;
  public readonly family: string;
  public readonly acceleratorKind: AcceleratorKind;
  public readonly acceleratorModel: string;
  public readonly accelerators: number;
  public readonly acceleratorMemoryMiB: number;
  public readonly acceleratorMemoryGiB: number;
  public readonly vcpus: number;
  public readonly memoryGiB: number;
  public readonly onDemandHourlyUsd: number;
  public readonly sageMakerHourlyUsd?: number;
  public readonly efa: boolean;

  private constructor(spec: InstanceSpec) {
    this.instanceType = spec.instanceType;
    this.family = spec.family;
    this.acceleratorKind = spec.acceleratorKind;
    this.acceleratorModel = spec.acceleratorModel;
    this.accelerators = spec.accelerators;
    this.acceleratorMemoryMiB = spec.acceleratorMemoryMiB;
    this.acceleratorMemoryGiB = spec.acceleratorMemoryGiB;
    this.vcpus = spec.vcpus;
    this.memoryGiB = spec.memoryGiB;
    this.onDemandHourlyUsd = spec.onDemandHourlyUsd;
    this.sageMakerHourlyUsd = spec.sageMakerHourlyUsd;
    this.efa = spec.efa;
  }

  /** NVIDIA GPUs per instance (0 for Inferentia, Trainium and CPU types). */
  public get gpus(): number {
    return this.acceleratorKind === AcceleratorKind.NVIDIA_GPU ? this.accelerators : 0;
  }

  /** The SageMaker name of the type (`ml.g5.xlarge`). */
  public get sageMakerInstanceType(): string {
    return `ml.${this.instanceType}`;
  }

  /** Whether SageMaker real-time inference hosts the type (it has a price in `SAGEMAKER_HOSTING_HOURLY_USD`). */
  public get isSageMakerHosted(): boolean {
    return this.sageMakerHourlyUsd !== undefined;
  }

  public get isNvidiaGpu(): boolean {
    return this.acceleratorKind === AcceleratorKind.NVIDIA_GPU;
  }

  /**
   * Whether `other` can run what runs on this type unchanged: the same kind of accelerator (and for Neuron, the same
   * family, whose compiled models differ between generations), as many accelerators with at least as much memory each,
   * and at least as many vCPUs and as much memory.
   */
  public canStandIn(other: GpuInstance): boolean {
    return other.acceleratorKind === this.acceleratorKind
      && (this.acceleratorKind === AcceleratorKind.NVIDIA_GPU || this.acceleratorKind === AcceleratorKind.NONE || other.family === this.family)
      && other.accelerators === this.accelerators
      && other.acceleratorMemoryMiB >= this.acceleratorMemoryMiB
      && other.vcpus >= this.vcpus
      && other.memoryGiB >= this.memoryGiB;
  }

  /**
   * Catalog types that can stand in for this one (`canStandIn`) when it has no capacity, at most `maxPriceRatio` times
   * its on-demand price, cheapest first: what a fleet's Auto Scaling group may launch besides its own type.
   * @param maxPriceRatio the most a stand-in may cost per hour relative to this type
   * @param limit how many to return
   */
  public capacityAlternatives(maxPriceRatio = 1.25, limit = 2): GpuInstance[] {
    return GpuInstance.all()
      .filter((other) => other.instanceType !== this.instanceType && this.canStandIn(other))
      .filter((other) => other.onDemandHourlyUsd <= this.onDemandHourlyUsd * maxPriceRatio)
      .sort((a, b) => a.onDemandHourlyUsd - b.onDemandHourlyUsd || a.instanceType.localeCompare(b.instanceType))
      .slice(0, limit);
  }

  public toString(): string {
    return this.instanceType;
  }
}
