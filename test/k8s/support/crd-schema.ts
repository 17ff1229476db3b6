import { createHash } from 'crypto';
import * as fs from 'fs';
import { createRequire } from 'module';
import * as os from 'os';
import * as path from 'path';
import { parseAllDocuments } from 'yaml';

// Ajv 8, the JSON Schema validator cdk8s-cli (a devDependency) itself uses to check imported CRDs. It is loaded
// through cdk8s-cli's own resolution because the top-level `ajv` of this tree is eslint's Ajv 6, whose API differs;
// the few types needed are declared here for the same reason.
interface ErrorObject { readonly keyword: string; readonly instancePath: string; readonly message?: string; readonly params: object }
interface ValidateFunction { (data: unknown): boolean; errors?: ErrorObject[] | null }
interface Ajv { compile(schema: object): ValidateFunction }
const AJV_MAJOR = 8;
function loadAjv(options: object): Ajv {
  const fromCli = createRequire(require.resolve('cdk8s-cli/package.json'));
  const version: string = fromCli('ajv/package.json').version;
  if (Number(version.split('.')[0]) !== AJV_MAJOR) throw new Error(`crd-schema needs Ajv ${AJV_MAJOR} (cdk8s-cli resolves Ajv ${version})`);
  const mod = fromCli('ajv');
  const AjvClass = (mod.default ?? mod) as new (o: object) => Ajv;
  return new AjvClass(options);
}

/** The CRD YAML the library targets, committed beside the generated bindings. */
export const CRD_DIR = path.join(__dirname, '..', '..', '..', 'lib', 'k8s', 'crds');

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Schema = any;

interface CrdVersion {
  readonly file: string;
  readonly deprecated: boolean;
  readonly schema: Schema;
  validate?: ValidateFunction;
}

/**
 * Validates custom objects against the `openAPIV3Schema` of the committed CRDs, as the API server's structural
 * schema check would: types, required fields, enums, patterns, lengths, ranges. Two things are stricter than
 * the API server on purpose: a field the schema does not know is an error (the API server would silently prune
 * it, so the object would not do what the manifest says), and a deprecated version is an error. CEL rules
 * (`x-kubernetes-validations`) are not evaluated: no CEL interpreter is available offline.
 */
export class CrdSchemas {
  public static load(dir: string = CRD_DIR): CrdSchemas {
    const ajv = loadAjv({ strict: false, allErrors: true, validateFormats: false, code: { regExp: re2 } });
    const versions = new Map<string, CrdVersion>();
    for (const [file, docs] of parsedCrds(dir)) {
      for (const crd of docs) {
        if (crd?.kind !== 'CustomResourceDefinition') continue;
        for (const v of crd.spec.versions) {
          if (!v.served) continue;
          versions.set(key(`${crd.spec.group}/${v.name}`, crd.spec.names.kind), { file, deprecated: v.deprecated === true, schema: v.schema.openAPIV3Schema });
        }
      }
    }
    return new CrdSchemas(versions, ajv);
  }

  private constructor(private readonly versions: Map<string, CrdVersion>, private readonly ajv: Ajv) {}

  /** Whether a committed CRD serves `apiVersion`/`kind`. */
  public has(apiVersion: string, kind: string): boolean {
    return this.versions.has(key(apiVersion, kind));
  }

  /** API groups of the committed CRDs. */
  public groups(): string[] {
    return [...new Set([...this.versions.keys()].map((k) => k.split('/')[0]))].sort();
  }

  /** Problems of one object (empty when it is valid). */
  public errors(obj: Schema): string[] {
    const version = this.versions.get(key(obj.apiVersion, obj.kind));
    if (!version) return [`no committed CRD serves ${obj.apiVersion} ${obj.kind}`];
    const problems: string[] = [];
    if (version.deprecated) problems.push(`${obj.apiVersion} is deprecated in ${version.file}`);
    // Compiled on first use: the large schemas (Argo Rollouts) cost seconds.
    const validate = version.validate ??= this.ajv.compile(toJsonSchema(version.schema, true));
    if (!validate(obj)) problems.push(...(validate.errors ?? []).map(describe));
    return problems;
  }
}

/**
 * The CRD files parsed, cached as JSON in the temp folder under a hash of their content: parsing a megabyte of
 * YAML costs seconds, and every test file that validates manifests needs it.
 */
function parsedCrds(dir: string): [string, Schema[]][] {
  const files = fs.readdirSync(dir).filter((f) => f.endsWith('.yaml')).sort();
  const texts = files.map((f) => fs.readFileSync(path.join(dir, f), 'utf8'));
  const hash = createHash('sha256').update(files.join('\n')).update(texts.join('\n')).digest('hex').slice(0, 16);
  const cache = path.join(os.tmpdir(), `mlops-constructs-crds-${hash}.json`);
  if (fs.existsSync(cache)) return JSON.parse(fs.readFileSync(cache, 'utf8'));
  const parsed: [string, Schema[]][] = files.map((f, i) => [f, parseAllDocuments(texts[i]).map((d) => d.toJS())]);
  const partial = `${cache}.${process.pid}`;
  fs.writeFileSync(partial, JSON.stringify(parsed));
  fs.renameSync(partial, cache);
  return parsed;
}

/** CRD patterns are Go RE2: JavaScript lacks the inline `(?i)` flag, so it becomes the `i` flag. */
function re2(pattern: string, flags: string): RegExp {
  return pattern.includes('(?i)') ? new RegExp(pattern.split('(?i)').join(''), `${flags}i`) : new RegExp(pattern, flags);
}
re2.code = 're2';

function key(apiVersion: string, kind: string): string {
  return `${apiVersion}/${kind}`;
}

function describe(e: ErrorObject): string {
  const where = e.instancePath || '/';
  if (e.keyword === 'additionalProperties') return `${where}: unknown field '${(e.params as { additionalProperty: string }).additionalProperty}' (the API server would prune it)`;
  return `${where}: ${e.message}${e.keyword === 'enum' ? ` (${(e.params as { allowedValues: unknown[] }).allowedValues.join(', ')})` : ''}`;
}

/**
 * An OpenAPI v3 structural schema as JSON Schema: `x-kubernetes-int-or-string` becomes integer-or-string,
 * `nullable` admits null, and objects with declared properties reject unknown fields unless the schema says to
 * preserve them. The root's `apiVersion`, `kind` and `metadata` are always allowed.
 */
function toJsonSchema(node: Schema, root = false): Schema {
  if (node === null || typeof node !== 'object') return node;
  if (Array.isArray(node)) return node.map((n) => toJsonSchema(n));
  const out: Schema = {};
  for (const [k, v] of Object.entries(node)) {
    if (k === 'properties') out.properties = Object.fromEntries(Object.entries(v as object).map(([p, s]) => [p, toJsonSchema(s)]));
    else if (['items', 'additionalProperties', 'not'].includes(k)) out[k] = typeof v === 'object' ? toJsonSchema(v) : v;
    else if (['allOf', 'anyOf', 'oneOf'].includes(k)) out[k] = (v as Schema[]).map((s) => toJsonSchema(s));
    else if (!k.startsWith('x-kubernetes-') && k !== 'description' && k !== 'nullable') out[k] = v;
  }
  if (node['x-kubernetes-int-or-string']) {
    // Patterns and formats beside it apply to the string form only, as JSON Schema's do.
    delete out.type;
    out.anyOf ??= [{ type: 'integer' }, { type: 'string' }];
  }
  if (node.nullable && typeof out.type === 'string') out.type = [out.type, 'null'];
  if (root) {
    out.properties = { ...out.properties, apiVersion: { type: 'string' }, kind: { type: 'string' }, metadata: { type: 'object' } };
  }
  const preserve = node['x-kubernetes-preserve-unknown-fields'] === true;
  if ((out.type === 'object' || root) && out.properties && out.additionalProperties === undefined && !preserve) {
    out.additionalProperties = false;
  }
  return out;
}
