import { Check, DataClassification, LABEL_KEYS, MlopsTags, TAG_KEYS, ValidationError, formatValue, physicalName, validateIdentifier } from 'mlops-constructs';

describe('MlopsTags', () => {
  test('renders AWS tags and Kubernetes labels from one set of values', () => {
    const tags = MlopsTags.of({ project: 'fraud', environment: 'prod', team: 'risk', costCenter: 'cc-1042' });
    expect(tags.toAwsTags()).toEqual({
      [TAG_KEYS.project]: 'fraud',
      [TAG_KEYS.environment]: 'prod',
      [TAG_KEYS.team]: 'risk',
      [TAG_KEYS.costCenter]: 'cc-1042',
      [TAG_KEYS.dataClassification]: 'internal',
    });
    expect(tags.toKubernetesLabels()[LABEL_KEYS.project]).toBe('fraud');
    expect(Object.keys(tags.toKubernetesLabels()).every((k) => /^[a-z0-9.-]+\/[a-z0-9-]+$/.test(k))).toBe(true);
  });

  test('optional tags are left out, classification defaults to internal', () => {
    expect(MlopsTags.of({ project: 'p', environment: 'dev' }).toAwsTags()).toEqual({
      'mlops:project': 'p', 'mlops:environment': 'dev', 'mlops:data-classification': 'internal',
    });
  });

  test('with() overrides some tags and keeps the others', () => {
    const team = MlopsTags.of({ project: 'p', environment: 'dev' }).with({ team: 'vision', dataClassification: DataClassification.RESTRICTED });
    expect(team.toAwsTags()).toMatchObject({ 'mlops:team': 'vision', 'mlops:data-classification': 'restricted', 'mlops:project': 'p' });
  });
});

describe('ValidationError', () => {
  test('message names scope, prop, value and fix', () => {
    const e = new ValidationError({ scope: 'App/Stack/Store', prop: 'lifecycle.days', value: -1, problem: 'must be positive', fix: 'use 1 or more.' });
    expect(e.message).toBe("App/Stack/Store: 'lifecycle.days' must be positive (received -1). Fix: use 1 or more.");
    expect(e).toBeInstanceOf(Error);
    expect(ValidationError.isValidationError(e)).toBe(true);
    expect(ValidationError.isValidationError(new Error('x'))).toBe(false);
  });

  test('emailList: one check for every construct that notifies people', () => {
    const check = new Check('S');
    expect(check.emailList('notifyEmails', undefined)).toEqual([]);
    expect(check.emailList('notifyEmails', ['a@b.io'])).toEqual(['a@b.io']);
    expect(() => check.emailList('notifyEmails', 'a@b.io' as any)).toThrow(/S: 'notifyEmails' must be a list of email addresses.*Fix: wrap the address in a list/);
    expect(() => check.emailList('notifyEmails', ['a@b.io', 'oncall'])).toThrow(/'notifyEmails\[1\]' must be an email address \(received "oncall"\)/);
  });

  test('formatValue keeps messages short and unambiguous', () => {
    expect(formatValue('x')).toBe('"x"');
    expect(formatValue(undefined)).toBe('undefined');
    expect(formatValue({ a: 'b'.repeat(200) }).length).toBe(120);
  });
});

describe('naming', () => {
  test('short names pass through, cleaned and lower-cased', () => {
    expect(physicalName(['Mlops', 'dev', 'models'], { maxLength: 63 })).toBe('mlops-dev-models');
    expect(physicalName(['a_b', 'c  d'], { maxLength: 63 })).toBe('a-b-c-d');
  });

  test('long names are truncated with a stable hash of the full name', () => {
    const a = physicalName(['x'.repeat(40), 'team-alpha'], { maxLength: 32 });
    const b = physicalName(['x'.repeat(40), 'team-beta'], { maxLength: 32 });
    expect(a).toHaveLength(32);
    expect(a).not.toBe(b);
    expect(physicalName(['x'.repeat(40), 'team-alpha'], { maxLength: 32 })).toBe(a);
  });

  test('identifiers are validated', () => {
    expect(validateIdentifier('S', 'team', 'vision-1')).toBe('vision-1');
    expect(() => validateIdentifier('S', 'team', 'Vision')).toThrow(/S: 'team' must be lower-case letters/);
    expect(() => validateIdentifier('S', 'team', undefined as any)).toThrow(/'team' is required/);
  });
});
