import { Stack, Tokenization } from 'aws-cdk-lib';
import { IConstruct } from 'constructs';

/**
 * A resource ARN as cdk-nag prints it in finding ids (`AwsSolutions-IAM5[Resource::<this>]`), so a construct
 * can acknowledge exactly one finding: `<LogicalId.Arn>` for a GetAtt of the same stack, `<Ref>` for a Ref,
 * and the export name for a value imported from another stack (what CloudFormation sees there).
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
    const exported = producer.exportValue(encoded);
    rendered = rendered.split(encoded).join(exported);
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

function isNestedIn(child: Stack, parent: Stack): boolean {
  let current = child.nestedStackParent;
  while (current) {
    if (current === parent) return true;
    current = current.nestedStackParent;
  }
  return false;
}
