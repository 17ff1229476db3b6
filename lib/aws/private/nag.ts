import { CfnOutput, Intrinsic, IResolvable, Stack, Token, Tokenization } from 'aws-cdk-lib';
import { Construct, IConstruct } from 'constructs';

// aws-cdk-lib's context key for the strength of cross-stack references (`cdk init` writes "weak" since 2.1148). Read by
// name: older aws-cdk-lib versions, which the peer range admits, have neither the key nor weak references.
const CROSS_STACK_REFERENCES_CONTEXT = '@aws-cdk/core:defaultCrossStackReferences';

/**
 * A resource ARN as cdk-nag prints it in finding ids (`AwsSolutions-IAM5[Resource::<this>]`), so a construct
 * can acknowledge exactly one finding: `<LogicalId.Arn>` for a GetAtt of the same stack, `<Ref>` for a Ref,
 * and, for a value of another stack, what CloudFormation sees there: the export name (a strong reference,
 * `Fn::ImportValue`) or the `Fn::GetStackOutput` of the producer's output (a weak reference, aws-cdk-lib's
 * `@aws-cdk/core:defaultCrossStackReferences: weak`), as aws-cdk-lib will render it.
 */
export function nagResourceId(consumer: IConstruct, value: string): string {
  const consumerStack = Stack.of(consumer);
  let rendered = value;
  for (const token of Tokenization.reverseString(value).tokens) {
    const target = (token as { target?: IConstruct }).target;
    if (!target || typeof (target as { node?: unknown }).node !== 'object') continue;
    const producer = Stack.of(target);
    if (producer === consumerStack || isNestedIn(consumerStack, producer) || isNestedIn(producer, consumerStack)) continue;
    const encoded = String(token);
    rendered = rendered.split(encoded).join(crossStackValue(consumerStack, producer, token, target));
  }
  const visit = (node: unknown): string => {
    if (typeof node === 'string') return node;
    const n = node as Record<string, any>;
    if (n?.['Fn::Join']) return (n['Fn::Join'][1] as unknown[]).map(visit).join(n['Fn::Join'][0]);
    if (n?.['Fn::GetAtt']) return `<${n['Fn::GetAtt'][0]}.${n['Fn::GetAtt'][1]}>`;
    if (n?.['Fn::ImportValue']) return visit(n['Fn::ImportValue']);
    if (n?.Ref) return `<${n.Ref}>`;
    return JSON.stringify(node);
  };
  return visit(consumerStack.resolve(rendered));
}

/**
 * The value a reference from `consumer` to `producer` becomes, made the way aws-cdk-lib makes it (core/lib/private/
 * refs.ts) for stacks of one account and region: an export for a strong reference; for a weak one (or `both`), the
 * producer's `Publish/Output<reference>` output read with `Fn::GetStackOutput`. Creating that output here is what
 * aws-cdk-lib would do: it finds it by id and uses it.
 */
function crossStackValue(consumer: Stack, producer: Stack, reference: IResolvable, target: IConstruct): string {
  const override = (target as { _crossStackReferenceStrengthOverride?: string })._crossStackReferenceStrengthOverride;
  const strength = override ?? consumer.node.tryGetContext(CROSS_STACK_REFERENCES_CONTEXT) ?? 'strong';
  if (strength === 'strong' || !sameEnvironment(consumer, producer)) return producer.exportValue(reference);
  const publish = (producer.node.tryFindChild('Publish') as Construct | undefined) ?? new Construct(producer, 'Publish');
  const outputId = `Output${JSON.stringify(producer.resolve(reference))}`;
  const output = (publish.node.tryFindChild(outputId) as CfnOutput | undefined)
    ?? new CfnOutput(publish, outputId, { value: Token.asString(reference) });
  return new Intrinsic({
    'Fn::GetStackOutput': { StackName: producer.stackName, Region: producer.region, OutputName: producer.resolve(output.logicalId) },
  }).toString();
}

function sameEnvironment(a: Stack, b: Stack): boolean {
  const known = (x: string) => (Token.isUnresolved(x) ? 'unknown' : x);
  return known(a.account) === known(b.account) && known(a.region) === known(b.region);
}

function isNestedIn(child: Stack, parent: Stack): boolean {
  let current = child.nestedStackParent;
  while (current) {
    if (current === parent) return true;
    current = current.nestedStackParent;
  }
  return false;
}
