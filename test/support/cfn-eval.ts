/**
 * Evaluates the intrinsic functions of a piece of a CloudFormation template the way CloudFormation would at deploy time,
 * given values for `Ref`s (template parameters, resources) and pseudo parameters: enough to check what a template
 * renders from a resolved parameter (`Ref`, `Fn::Select`, `Fn::Split`, `Fn::Join`, `Fn::Sub` with literal variables,
 * `Fn::GetAtt` from `attributes`). An unknown reference throws, so a test never passes on an unevaluated value.
 */
export function evaluate(
  value: unknown,
  refs: Record<string, string>,
  pseudo: Record<string, string> = {},
  attributes: Record<string, string> = {},
): any {
  const all = { 'AWS::Partition': 'aws', 'AWS::URLSuffix': 'amazonaws.com', ...pseudo, ...refs };
  const ev = (v: unknown): any => {
    if (Array.isArray(v)) return v.map(ev);
    if (v === null || typeof v !== 'object') return v;
    const entries = Object.entries(v as Record<string, unknown>);
    if (entries.length === 1) {
      const [fn, arg] = entries[0];
      switch (fn) {
        case 'Ref': {
          if (!((arg as string) in all)) throw new Error(`evaluate: no value for Ref ${String(arg)}`);
          return all[arg as keyof typeof all];
        }
        case 'Fn::GetAtt': {
          const key = Array.isArray(arg) ? arg.join('.') : String(arg);
          if (!(key in attributes)) throw new Error(`evaluate: no value for Fn::GetAtt ${key}`);
          return attributes[key];
        }
        case 'Fn::Select': {
          const [index, list] = ev(arg);
          if (!Array.isArray(list) || list[Number(index)] === undefined) throw new Error(`evaluate: Fn::Select ${index} out of ${JSON.stringify(list)}`);
          return list[Number(index)];
        }
        case 'Fn::Split': {
          const [delimiter, source] = ev(arg);
          return String(source).split(delimiter);
        }
        case 'Fn::Join': {
          const [delimiter, list] = ev(arg);
          return list.join(delimiter);
        }
        case 'Fn::Sub': {
          const [text, vars] = Array.isArray(arg) ? [arg[0], ev(arg[1])] : [arg, {}];
          return String(text).replace(/\$\{([^}!]+)\}/g, (_m, name: string) => {
            if (name in vars) return vars[name];
            if (name in all) return all[name as keyof typeof all];
            throw new Error(`evaluate: no value for \${${name}} in Fn::Sub`);
          });
        }
        default:
          if (fn.startsWith('Fn::')) throw new Error(`evaluate: ${fn} is not supported`);
      }
    }
    return Object.fromEntries(entries.map(([k, x]) => [k, ev(x)]));
  };
  return ev(value);
}
