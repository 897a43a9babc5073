import type { Command } from 'commander';
import { invalidRequest } from '../errors/app-error.ts';
import { parseEntityRef } from '../libraries/authz/cedar-values.ts';
import type { Resource } from '../libraries/authz/resources.ts';
import type { CliContext } from './cli-context.ts';
import { collect, parseAttributes, table } from './options.ts';
import { readTextFile } from './policy-commands.ts';

const ref = (entity: { type: string; id: string }) => `${entity.type}:${entity.id}`;

const describe = (resource: Resource) =>
  [
    `${ref(resource)}`,
    `  attributes: ${JSON.stringify(resource.attributes)}`,
    `  parents: ${resource.parents.map(ref).join(' ') || '(none)'}`,
    ...Object.entries(resource.relations).map(
      ([relation, holders]) => `  ${relation}: ${holders.map(ref).join(' ')}`,
    ),
  ].join('\n');

/** Exactly one of --user and --group. */
function holderOf(options: { user?: string; group?: string }): { email: string } | { group: string } {
  if ((options.user === undefined) === (options.group === undefined))
    throw invalidRequest('give one of --user EMAIL and --group NAME');
  return options.user !== undefined ? { email: options.user } : { group: options.group! };
}

/** Resources the policy decision point knows, and their per-resource grants (relation sets). */
export function registerResourceCommands(program: Command, context: () => CliContext): void {
  const resource = program
    .command('resource')
    .description('resources the policy decision point knows: attributes, parents, sharing');

  resource
    .command('put')
    .description("create a resource, or replace an existing one's attributes and parents (its sharing stays)")
    .requiredOption('--type <type>', 'Cedar entity type (document, app::record)')
    .requiredOption('--id <id>', 'its id')
    .option(
      '--attribute <name=value>',
      'attribute (repeatable): NAME=VALUE sets a string, NAME:=JSON a typed value (pages:=3, owner:=\'{"__entity":{"type":"user","id":"..."}}\')',
      collect,
      [],
    )
    .option('--parent <type:id>', 'parent entity (repeatable): resource in TYPE::"ID"', collect, [])
    .action(async (options: { type: string; id: string; attribute: string[]; parent: string[] }) => {
      const attributes = parseAttributes(options.attribute);
      const parents = options.parent.map((parent) => parseEntityRef(parent, '--parent'));
      const cli = context();
      const stored = await cli.withRuntime(({ libraries }) =>
        libraries.authz.resources.put({ type: options.type, id: options.id, attributes, parents }, 'cli'),
      );
      cli.print(stored, `stored ${describe(stored)}`);
    });

  resource
    .command('get')
    .description('show one resource')
    .requiredOption('--type <type>', 'Cedar entity type')
    .requiredOption('--id <id>', 'its id')
    .action(async (options: { type: string; id: string }) => {
      const cli = context();
      const found = await cli.withRuntime(({ libraries }) =>
        libraries.authz.resources.get(options.type, options.id),
      );
      cli.print(found, describe(found));
    });

  resource
    .command('delete')
    .description('delete a resource (and its sharing)')
    .requiredOption('--type <type>', 'Cedar entity type')
    .requiredOption('--id <id>', 'its id')
    .action(async (options: { type: string; id: string }) => {
      const cli = context();
      await cli.withRuntime(({ libraries }) =>
        libraries.authz.resources.delete(options.type, options.id, 'cli'),
      );
      cli.print(
        { type: options.type, id: options.id, deleted: true },
        `deleted ${options.type}:${options.id}`,
      );
    });

  resource
    .command('list')
    .description('list the resources of a type')
    .requiredOption('--type <type>', 'Cedar entity type')
    .action(async (options: { type: string }) => {
      const cli = context();
      const resources = await cli.withRuntime(({ libraries }) =>
        libraries.authz.resources.list(options.type),
      );
      cli.print(
        resources,
        resources.length === 0
          ? `no resources of type ${options.type}`
          : table([
              ['ID', 'ATTRIBUTES', 'PARENTS', 'SHARED'],
              ...resources.map((item) => [
                item.id,
                JSON.stringify(item.attributes),
                item.parents.map(ref).join(' '),
                Object.entries(item.relations)
                  .map(([relation, holders]) => `${relation}: ${holders.map(ref).join(' ')}`)
                  .join('; '),
              ]),
            ]),
      );
    });

  resource
    .command('import')
    .description(
      'upsert many resources from a JSON array in Cedar\'s entity format ({"uid": {"type", "id"}, "attrs": {...}, "parents": [...]}); all or nothing',
    )
    .requiredOption('--file <file.json>', 'the entities')
    .action(async (options: { file: string }) => {
      const text = await readTextFile(options.file, '--file');
      let entities: unknown;
      try {
        entities = JSON.parse(text) as unknown;
      } catch (error) {
        throw invalidRequest(`--file ${options.file}: not JSON (${(error as Error).message})`);
      }
      const cli = context();
      const result = await cli.withRuntime(({ libraries }) =>
        libraries.authz.resources.import(entities, 'cli'),
      );
      cli.print(result, `imported ${String(result.imported)} resource(s)`);
    });

  for (const [name, verb] of [
    ['share', 'grant a relation on a resource to a user or a group: resource.REL holds them'],
    ['unshare', 'take a relation on a resource away from a user or a group'],
  ] as const) {
    resource
      .command(name)
      .description(verb)
      .requiredOption('--type <type>', 'Cedar entity type')
      .requiredOption('--id <id>', 'its id')
      .requiredOption('--relation <relation>', 'relation name (viewers, editors, ...): resource.<relation>')
      .option('--user <email>', 'the account')
      .option('--group <name>', 'the group')
      .action(
        async (options: { type: string; id: string; relation: string; user?: string; group?: string }) => {
          const holder = holderOf(options);
          const cli = context();
          const result = await cli.withRuntime(({ libraries }) =>
            libraries.authz.resources[name](
              { type: options.type, id: options.id },
              options.relation,
              holder,
              'cli',
            ),
          );
          const who = 'email' in holder ? holder.email : `group ${holder.group}`;
          cli.print(
            { ...result.resource, changed: result.changed },
            result.changed
              ? `${name === 'share' ? 'shared' : 'unshared'} ${options.type}:${options.id} (${options.relation}) ${name === 'share' ? 'with' : 'from'} ${who}`
              : `nothing changed: ${who} ${name === 'share' ? 'already holds' : 'does not hold'} ${options.relation} on ${options.type}:${options.id}`,
          );
        },
      );
  }
}
