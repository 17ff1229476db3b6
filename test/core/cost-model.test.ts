import {
  ComputeService, CostModel, DEFAULT_SPOT_PRICE_RATIO, GpuInstance, PRICES_AS_OF, PurchaseOption, SAGEMAKER_HOSTING_HOURLY_USD,
  SAGEMAKER_PRICES_AS_OF, SPOT_PRICE_RATIOS, SPOT_PRICES_AS_OF, roundUsd,
} from 'mlops-constructs';

describe('CostModel', () => {
  const model = CostModel.default();

  test('monthly on-demand cost of 2 x g5.2xlarge always on: 2 * 1.212 * 730', () => {
    expect(model.monthlyInstanceCost({ instance: 'g5.2xlarge', count: 2 })).toBe(1769.52);
  });

  test('spot is priced per family from the Spot Instance Advisor figures: g6.xlarge ~51%, p5.48xlarge ~48%, g5.2xlarge ~42%', () => {
    expect(model.spotRatio('g6.xlarge')).toBe(0.51);
    expect(model.spotRatio('p5.48xlarge')).toBe(0.48);
    expect(model.spotRatio('g5.2xlarge')).toBe(0.42);
    // 0.8048 * 0.51 = $0.410448/h
    expect(model.hourlyPrice('g6.xlarge', PurchaseOption.SPOT)).toBeCloseTo(0.410448, 6);
    // 4 * 55.04 * 0.48 * 730 = 77,144.06
    expect(model.monthlyInstanceCost({ instance: 'p5.48xlarge', count: 4, purchase: PurchaseOption.SPOT })).toBe(77144.06);
    // Every accelerated family has its own ratio, none as optimistic as the old flat 35% for g6 or p5.
    for (const family of GpuInstance.acceleratedFamilies()) expect(SPOT_PRICE_RATIOS[family]).toBeGreaterThan(0.3);
    expect(SPOT_PRICE_RATIOS.g6 / 0.35).toBeGreaterThan(1.15);
  });

  test('a family without a spot ratio is priced at the conservative default', () => {
    const custom = new CostModel({ spotPriceRatios: { 'g5': 0.3, 'g5.2xlarge': 0.6 } });
    expect(custom.spotRatio('g5.xlarge')).toBe(0.3);
    expect(custom.spotRatio('g5.2xlarge')).toBe(0.6);
    expect(DEFAULT_SPOT_PRICE_RATIO).toBe(0.5);
    const withoutTable = new CostModel({ spotPriceRatios: {} });
    expect(withoutTable.spotRatio('g4dn.xlarge')).toBe(SPOT_PRICE_RATIOS.g4dn);
  });

  test('SageMaker endpoints at SageMaker\'s own rates: ml.g5.xlarge $1.408/h, not the EC2 $1.006', () => {
    expect(SAGEMAKER_HOSTING_HOURLY_USD['ml.g5.xlarge']).toBe(1.408);
    expect(model.hourlyPrice('g5.xlarge', PurchaseOption.ON_DEMAND, ComputeService.SAGEMAKER)).toBe(1.408);
    expect(model.hourlyPrice('ml.g5.xlarge', PurchaseOption.ON_DEMAND, ComputeService.SAGEMAKER)).toBe(1.408);
    expect(model.hourlyPrice('g5.xlarge')).toBe(1.006);
    // 2 x ml.g5.xlarge always on: 2 * 1.408 * 730
    expect(model.monthlyInstanceCost({ instance: 'g5.xlarge', count: 2, service: ComputeService.SAGEMAKER })).toBe(2055.68);
    expect(model.monthlyInstanceCost({ instance: 'inf2.xlarge', count: 1, service: ComputeService.SAGEMAKER })).toBe(722.7);
    expect(GpuInstance.of('g5.2xlarge')).toMatchObject({ sageMakerHourlyUsd: 1.515, sageMakerInstanceType: 'ml.g5.2xlarge', isSageMakerHosted: true });
  });

  test('every SageMaker price is a type of the catalog, 15-45% above its EC2 price (P families: above)', () => {
    for (const [type, price] of Object.entries(SAGEMAKER_HOSTING_HOURLY_USD)) {
      const ec2 = GpuInstance.of(type.replace(/^ml\./, ''));
      const premium = price / ec2.onDemandHourlyUsd;
      // SageMaker's P4d/P5 rates did not follow EC2's June 2025 reduction.
      const expected = ec2.family.startsWith('p') ? premium > 1.15 : premium > 1.15 && premium < 1.45;
      expect({ type, premiumInRange: expected }).toEqual({ type, premiumInRange: true });
    }
    expect(GpuInstance.all().filter((i) => !i.isSageMakerHosted).map((i) => i.instanceType)).toEqual(['g4dn.metal']);
  });

  test('SageMaker has no spot, and no price for types it does not host', () => {
    expect(() => model.hourlyPrice('g5.xlarge', PurchaseOption.SPOT, ComputeService.SAGEMAKER)).toThrow(
      /CostModel: 'purchase' is not offered by SageMaker real-time inference \(received "spot"\)/,
    );
    expect(() => model.hourlyPrice('g4dn.metal', PurchaseOption.ON_DEMAND, ComputeService.SAGEMAKER)).toThrow(
      /'instance' is not hosted by SageMaker real-time inference \(no ml.\* price\) \(received "ml.g4dn.metal"\)/,
    );
    const negotiated = new CostModel({ instanceHourlyUsd: { 'ml.g4dn.metal': 9 } });
    expect(negotiated.hourlyPrice('g4dn.metal', PurchaseOption.ON_DEMAND, ComputeService.SAGEMAKER)).toBe(9);
  });

  test('scheduled hours: one g6.xlarge for 260 working hours', () => {
    expect(model.monthlyInstanceCost({ instance: GpuInstance.of('g6.xlarge'), count: 1, hoursPerMonth: 260 })).toBe(roundUsd(0.8048 * 260));
  });

  test('range at min and max capacity: 10 * 0.526 * 730', () => {
    expect(model.monthlyRange({ instance: 'g4dn.xlarge', min: 0, max: 10 })).toEqual({ minUsd: 0, maxUsd: 3839.8 });
  });

  test('a price table overrides list prices and the spot assumption', () => {
    const negotiated = new CostModel({ instanceHourlyUsd: { 'g5.xlarge': 0.8 }, spotPriceFraction: 0.5, source: 'EDP rates 2026' });
    expect(negotiated.monthlyInstanceCost({ instance: 'g5.xlarge', count: 1, purchase: PurchaseOption.SPOT })).toBe(292);
    expect(negotiated.spotRatio('p5.48xlarge')).toBe(0.5);
    expect(negotiated.assumptions()[0]).toBe('Prices: EDP rates 2026; on-demand Linux.');
  });

  test('hourly units (NAT gateway) priced always on', () => {
    expect(model.monthlyHourly(model.unitPrices.natGatewayHour, 3)).toBe(98.55);
  });

  test('assumptions state the price dates and sources, the spot ratios and month length', () => {
    const text = model.assumptions().join('\n');
    expect(text).toContain(PRICES_AS_OF);
    expect(text).toContain(`SageMaker endpoints are priced at SageMaker's own ml.* rates (Amazon SageMaker AI pricing, real-time inference, on-demand, us-east-1 (https://aws.amazon.com/sagemaker/pricing/), ${SAGEMAKER_PRICES_AS_OF}), not at EC2 rates.`);
    expect(text).toContain(`Spot is priced per family as a share of on-demand (AWS Spot Instance Advisor and EC2 spot price history, us-east-1, Linux (https://aws.amazon.com/ec2/spot/instance-advisor/), ${SPOT_PRICES_AS_OF}): g4dn 37%, g5 42%, g6 51%, g6e 46%, p4d 41%, p5 48%`);
    expect(text).toContain('730 hours');
    expect(new CostModel({ spotPriceFraction: 0.35 }).assumptions().join('\n')).toContain('Spot is assumed to cost 35% of on-demand for every type');
  });

  test('bad input is rejected with the prop named', () => {
    expect(() => model.monthlyInstanceCost({ instance: 'g5.2xlarge', count: -1 })).toThrow(/CostModel: 'count' must be a whole number of 0 or more \(received -1\)/);
    expect(() => model.monthlyInstanceCost({ instance: 'g5.2xlarge', count: 1, hoursPerMonth: 800 })).toThrow(/'hoursPerMonth' must be a number between 0 and 744/);
    expect(() => new CostModel({ spotPriceFraction: 0 })).toThrow(/'spotPriceFraction' must be a number between 0.01 and 1/);
    expect(() => new CostModel({ spotPriceRatios: { g5: 2 } })).toThrow(/'spotPriceRatios.g5' must be a number between 0.01 and 1/);
    expect(() => model.hourlyPrice('x9.large')).toThrow(/'instance' is not in the instance catalog/);
  });
});

describe('GpuInstance catalog', () => {
  test('covers the g4dn, g5, g6, g6e, p4d, p5, inf2 and trn1 families', () => {
    expect(GpuInstance.families()).toEqual(expect.arrayContaining(['g4dn', 'g5', 'g6', 'g6e', 'p4d', 'p5', 'inf2', 'trn1']));
  });

  test('known entries carry accelerators, memory, vCPU, price and EFA', () => {
    expect(GpuInstance.of('p5.48xlarge')).toMatchObject({
      acceleratorModel: 'H100', accelerators: 8, acceleratorMemoryGiB: 80, vcpus: 192, memoryGiB: 2048, onDemandHourlyUsd: 55.04, efa: true, gpus: 8,
    });
    // GiB as the EC2 API reports it (MiB / 1024), not the nominal GB of the data sheets.
    expect(GpuInstance.of('g5.xlarge')).toMatchObject({ acceleratorModel: 'A10G', acceleratorMemoryMiB: 22888, acceleratorMemoryGiB: 22.4 });
    expect(GpuInstance.of('g6.xlarge')).toMatchObject({ acceleratorModel: 'L4', acceleratorMemoryGiB: 22.4 });
    expect(GpuInstance.of('g6e.xlarge')).toMatchObject({ acceleratorModel: 'L40S', acceleratorMemoryMiB: 45776, acceleratorMemoryGiB: 44.7 });
    expect(GpuInstance.of('g4dn.xlarge').acceleratorMemoryGiB).toBe(16);
    expect(GpuInstance.of('inf2.xlarge')).toMatchObject({ acceleratorKind: 'inferentia', accelerators: 1, gpus: 0, isNvidiaGpu: false });
    expect(GpuInstance.of('g5.xlarge').efa).toBe(false);
  });

  test('every entry is internally consistent', () => {
    for (const i of GpuInstance.all()) {
      expect(i.instanceType.startsWith(`${i.family}.`)).toBe(true);
      expect(i.onDemandHourlyUsd).toBeGreaterThan(0);
      expect(i.vcpus).toBeGreaterThan(0);
      expect(i.accelerators === 0).toBe(i.acceleratorKind === 'none');
    }
  });

  test('unknown types suggest the family members; accelerated() rejects CPU types', () => {
    expect(() => GpuInstance.of('g5.3xlarge', 'instanceTypes[0]', 'Stack/Cluster')).toThrow(
      /Stack\/Cluster: 'instanceTypes\[0\]' is not in the instance catalog \(received "g5.3xlarge"\)\. Fix: use one of g5.xlarge, g5.2xlarge/,
    );
    expect(() => GpuInstance.accelerated('m7i.xlarge')).toThrow(/'instanceType' has no GPU or other accelerator \(received "m7i.xlarge"\)/);
  });

  test("a SageMaker-style 'ml.' type is rejected with the type to write instead", () => {
    expect(() => GpuInstance.of('ml.g5.xlarge', 'instanceType', 'Stack/Endpoint')).toThrow(
      /Stack\/Endpoint: 'instanceType' is not in the instance catalog \(received "ml.g5.xlarge"\)\. Fix: drop the 'ml.' prefix: 'g5.xlarge'/,
    );
    expect(() => GpuInstance.of('ml.x9.large')).toThrow(/Fix: use a type of the families/);
  });
});
