import type { Command } from 'commander';
import type { Group } from '../libraries/groups.ts';
import type { CliContext } from './cli-context.ts';
import { collect, table } from './options.ts';

const describeGroup = (group: Group) =>
  `group ${group.name}: roles ${group.roles.join(' ') || '(none)'}; permissions ${group.permissions.join(' ') || '(none)'}; parents ${group.parents.join(' ') || '(none)'}`;

/** Groups: members inherit the group's roles and permissions, and those of its parent groups. */
export function registerGroupCommands(program: Command, context: () => CliContext): void {
  const group = program
    .command('group')
    .description('manage groups: members inherit their roles and permissions (and their parent groups’)');

  /** Runs a change and records it in the audit log as the CLI's. */
  const change = <T>(
    action: string,
    target: string,
    work: (libraries: Parameters<Parameters<CliContext['withRuntime']>[0]>[0]['libraries']) => Promise<T>,
    accountId?: string,
  ) =>
    context().withRuntime(async ({ libraries }) => {
      const result = await work(libraries);
      await libraries.audit.record('directory.changed', {
        actor: 'cli',
        ...(accountId ? { accountId } : {}),
        details: { action, target, after: result },
      });
      return result;
    });

  group
    .command('create')
    .description('create a group')
    .argument('<name>', 'group name')
    .option('--role <role>', 'role its members hold (repeatable)', collect, [])
    .option('--permission <permission>', 'permission its members hold (repeatable)', collect, [])
    .option('--parent <group>', 'parent group: its members are members of it too (repeatable)', collect, [])
    .option('--description <text>', 'what the group is for')
    .action(
      async (
        name: string,
        options: { role: string[]; permission: string[]; parent: string[]; description?: string },
      ) => {
        const created = await change('group.create', `group:${name}`, (libraries) =>
          libraries.rbac.groups.create(name, {
            roles: options.role,
            permissions: options.permission,
            parents: options.parent,
            description: options.description,
          }),
        );
        context().print(created, `created ${describeGroup(created)}`);
      },
    );

  group
    .command('update')
    .description("change a group's roles, permissions and parent groups")
    .argument('<name>', 'group name')
    .option('--add-role <role>', 'repeatable', collect, [])
    .option('--remove-role <role>', 'repeatable', collect, [])
    .option('--add-permission <permission>', 'repeatable', collect, [])
    .option('--remove-permission <permission>', 'repeatable', collect, [])
    .option('--add-parent <group>', 'repeatable; refused when it would make a cycle', collect, [])
    .option('--remove-parent <group>', 'repeatable', collect, [])
    .action(
      async (
        name: string,
        options: {
          addRole: string[];
          removeRole: string[];
          addPermission: string[];
          removePermission: string[];
          addParent: string[];
          removeParent: string[];
        },
      ) => {
        const updated = await change('group.update', `group:${name}`, (libraries) =>
          libraries.rbac.groups.update(name, {
            addRoles: options.addRole,
            removeRoles: options.removeRole,
            addPermissions: options.addPermission,
            removePermissions: options.removePermission,
            addParents: options.addParent,
            removeParents: options.removeParent,
          }),
        );
        context().print(updated, describeGroup(updated));
      },
    );

  group
    .command('list')
    .description('list groups')
    .action(async () => {
      const cli = context();
      const groups = await cli.withRuntime(({ libraries }) => libraries.rbac.groups.list());
      cli.print(
        groups,
        table([
          ['GROUP', 'PARENTS', 'ROLES', 'PERMISSIONS', 'MEMBERS'],
          ...groups.map((g) => [
            g.name,
            g.parents.join(' '),
            g.roles.join(' '),
            g.permissions.join(' '),
            String(g.memberCount),
          ]),
        ]),
      );
    });

  group
    .command('show')
    .description('a group and its members')
    .argument('<name>', 'group name')
    .action(async (name: string) => {
      const cli = context();
      const shown = await cli.withRuntime(async ({ libraries }) => ({
        ...(await libraries.rbac.groups.get(name)),
        members: (await libraries.rbac.groups.members(name)).map((member) => member.email),
      }));
      cli.print(shown, `${describeGroup(shown)}\nmembers: ${shown.members.join(' ') || '(none)'}`);
    });

  group
    .command('delete')
    .description('delete a group (its members leave it; its child groups lose it as a parent)')
    .argument('<name>', 'group name')
    .action(async (name: string) => {
      await change('group.delete', `group:${name}`, async (libraries) => {
        await libraries.rbac.groups.delete(name);
        return { deleted: true };
      });
      context().print({ name, deleted: true }, `deleted group ${name}`);
    });

  for (const [command, description] of [
    ['add-member', 'make an account a member of a group'],
    ['remove-member', 'take an account out of a group'],
  ] as const) {
    group
      .command(command)
      .description(description)
      .argument('<name>', 'group name')
      .requiredOption('--email <email>', 'account email')
      .action(async (name: string, options: { email: string }) => {
        const cli = context();
        const groups = await cli.withRuntime(async ({ libraries }) => {
          const account = await libraries.accounts.getByEmail(options.email);
          if (command === 'add-member') await libraries.rbac.groups.addMember(name, account.id);
          else await libraries.rbac.groups.removeMember(name, account.id);
          const after = await libraries.rbac.groups.groupsOfAccount(account.id);
          await libraries.audit.record('directory.changed', {
            actor: 'cli',
            accountId: account.id,
            details: { action: `group.${command}`, target: `group:${name}`, after: { groups: after } },
          });
          return after;
        });
        cli.print(
          { email: options.email, group: name, groups },
          command === 'add-member'
            ? `${options.email} is a member of ${name} (groups: ${groups.join(' ')})`
            : `${options.email} is no longer a member of ${name} (groups: ${groups.join(' ') || '(none)'})`,
        );
      });
  }
}
