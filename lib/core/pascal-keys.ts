/**
 * A resource's property value with the SageMaker API's PascalCase keys (`enableCapture` → `EnableCapture`), as a state
 * machine's SDK integration takes it: unset fields (undefined, null, '') are left out and deploy-time values
 * (`isUnresolved`: CDK tokens) are kept as they are. Internal to the engines (not exported from core's index).
 */
export function pascalKeys(value: unknown, isUnresolved: (x: unknown) => boolean = () => false): unknown {
  if (Array.isArray(value)) return value.map((v) => pascalKeys(v, isUnresolved));
  if (typeof value !== 'object' || value === null || isUnresolved(value)) return value;
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined && v !== null && v !== '')
    .map(([k, v]) => [k.charAt(0).toUpperCase() + k.slice(1), pascalKeys(v, isUnresolved)]));
}
