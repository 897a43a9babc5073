import type { Command } from 'commander';
import { invalidRequest } from '../errors/app-error.ts';
import { parseEntityRef } from '../libraries/authz/cedar-values.ts';
import type { CliContext } from './cli-context.ts';
import { collect, parseAttributes } from './options.ts';

const propertyHelp = (what: string) =>
  `a property of the ${what} for this request (repeatable): NAME=VALUE a string, NAME:=JSON a typed value`;

/** `--context JSON`: a JSON object, else a bad argument (exit code 2). */
function parseContext(given: string | undefined): Record<string, unknown> | undefined {
  if (given === undefined) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(given) as unknown;
  } catch (error) {
    throw invalidRequest(`--context: not JSON (${(error as Error).message})`, 'context');
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed))
    throw invalidRequest('--context: expected a JSON object', 'context');
  return parsed as Record<string, unknown>;
}

/** Decisions of the policy decision point, from the command line. */
export function registerAuthzCommands(program: Command, context: () => CliContext): void {
  const authz = program.command('authz').description('ask the policy decision point');

  authz
    .command('check')
    .description(
      'one decision, with the policies that decided it (Cedar policies, and RBAC as gatehouse:rbac)',
    )
    .requiredOption('--subject <type:id>', 'the subject: user:<sub>, client:<client_id>, or any TYPE:ID')
    .requiredOption('--action <name>', 'the action (Action::"<name>"; a permission for RBAC)')
    .requiredOption('--resource <type:id>', 'the resource: TYPE:ID')
    .option('--context <json>', 'the request context, a JSON object (Cedar context)')
    .option('--subject-property <name=value>', propertyHelp('subject'), collect, [])
    .option('--resource-property <name=value>', propertyHelp('resource'), collect, [])
    .option('--action-property <name=value>', propertyHelp('action'), collect, [])
    .option('--explain', 'also print the entities and the context the decision was made on')
    .action(
      async (options: {
        subject: string;
        action: string;
        resource: string;
        context?: string;
        subjectProperty: string[];
        resourceProperty: string[];
        actionProperty: string[];
        explain?: boolean;
      }) => {
        const subject = parseEntityRef(options.subject, '--subject');
        const resource = parseEntityRef(options.resource, '--resource');
        const request = {
          subject: { ...subject, properties: parseAttributes(options.subjectProperty) },
          action: { name: options.action, properties: parseAttributes(options.actionProperty) },
          resource: { ...resource, properties: parseAttributes(options.resourceProperty) },
          context: parseContext(options.context),
        };
        const cli = context();
        const answer = await cli.withRuntime(({ libraries }) =>
          libraries.authz.decisions.check(request, { explain: options.explain === true }),
        );
        cli.print(
          {
            decision: answer.decision,
            policies: answer.policies,
            errors: answer.errors,
            ...(options.explain
              ? { version: answer.version, entities: answer.entities, context: answer.context }
              : {}),
          },
          [
            `${answer.decision ? 'PERMIT' : 'DENY'} ${options.subject} ${options.action} ${options.resource}`,
            `  decided by: ${answer.policies.join(' ') || (answer.decision ? '' : '(no policy permits)')}`,
            `  policy set version: ${String(answer.version)}`,
            ...answer.errors.map((error) => `  error in ${error.policy}: ${error.message}`),
            ...(options.explain
              ? [
                  '  entities:',
                  JSON.stringify(answer.entities, null, 2),
                  '  context:',
                  JSON.stringify(answer.context),
                ]
              : []),
          ].join('\n'),
        );
      },
    );
}
