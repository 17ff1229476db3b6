import { CostModel, GpuInstance, PRICES_AS_OF, PurchaseOption, SPOT_PRICE_FRACTION, roundUsd } from 'mlops-constructs';

describe('CostModel', () => {
  const model = CostModel.default();

  test('monthly on-demand cost of 2 x g5.2xlarge always on: 2 * 1.212 * 730', () => {
    expect(model.monthlyInstanceCost({ instance: 'g5.2xlarge', count: 2 })).toBe(1769.52);
  });

  test('spot is priced at the stated fraction of on-demand (35%)', () => {
    expect(SPOT_PRICE_FRACTION).toBe(0.35);
    // 4 * 21.96 * 0.35 * 730 = 22,443.12
    expect(model.monthlyInstanceCost({ instance: 'p4d.24xlarge', count: 4, purchase: PurchaseOption.SPOT })).toBe(22443.12);
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
    expect(negotiated.assumptions()[0]).toBe('Prices: EDP rates 2026; on-demand Linux.');
  });

  test('hourly units (NAT gateway) priced always on', () => {
    expect(model.monthlyHourly(model.unitPrices.natGatewayHour, 3)).toBe(98.55);
  });

  test('assumptions state the price date, spot fraction and month length', () => {
    const text = model.assumptions().join('\n');
    expect(text).toContain(PRICES_AS_OF);
    expect(text).toContain('35% of on-demand');
    expect(text).toContain('730 hours');
  });

  test('bad input is rejected with the prop named', () => {
    expect(() => model.monthlyInstanceCost({ instance: 'g5.2xlarge', count: -1 })).toThrow(/CostModel: 'count' must be a whole number of 0 or more \(received -1\)/);
    expect(() => model.monthlyInstanceCost({ instance: 'g5.2xlarge', count: 1, hoursPerMonth: 800 })).toThrow(/'hoursPerMonth' must be a number between 0 and 744/);
    expect(() => new CostModel({ spotPriceFraction: 0 })).toThrow(/'spotPriceFraction' must be a number between 0.01 and 1/);
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
});
