import { withTransaction, type Pool, type Queryable } from '../db/pg-pool.ts';
import { conflict, invalidRequest, notFound } from '../errors/app-error.ts';
import type { GroupQueries, GroupRow } from '../queries/group-queries.ts';

/**
 * A group: its members (accounts) hold its roles and permissions, and those of its parent groups and theirs.
 */
export interface Group {
  name: string;
  description: string | null;
  roles: string[];
  permissions: string[];
  /** The group's own parent groups; their ancestors count too. */
  parents: string[];
  memberCount: number;
}

/** What `group update` changes, all in one transaction. */
export interface GroupChanges {
  addRoles?: readonly string[] | undefined;
  removeRoles?: readonly string[] | undefined;
  addPermissions?: readonly string[] | undefined;
  removePermissions?: readonly string[] | undefined;
  addParents?: readonly string[] | undefined;
  removeParents?: readonly string[] | undefined;
}

/** Group names follow the role names' rule (migration 013 checks it too). */
const groupNamePattern = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/;

export const noSuchGroup = (name: string) => notFound(`no group named ${name}`);

function checkGroupName(name: string, field = 'group'): void {
  if (!groupNamePattern.test(name))
    throw invalidRequest(
      `"${name}" is not a valid group name (1-64 of A-Z a-z 0-9 . _ : -, starting alphanumeric)`,
      field,
    );
}

const toGroup = (row: GroupRow): Group => ({
  name: row.name,
  description: row.description,
  roles: [...row.roles],
  permissions: [...row.permissions],
  parents: [...row.parents],
  memberCount: row.member_count,
});

const unique = (values: readonly string[] | undefined) => [...new Set(values ?? [])];

/**
 * Groups, nested: a group's parents are groups too, and a link that would close a cycle is refused. The rules on
 * roles and permissions are the rbac library's, passed in (it builds this library).
 */
export function createGroupLibrary(deps: {
  pool: Pool;
  groups: GroupQueries;
  /** Throws the 404 naming the first of these that is not a role. */
  requireRoles: (names: readonly string[]) => Promise<void>;
  /** Throws the 400 naming the first malformed permission. */
  checkPermissions: (permissions: readonly string[]) => void;
}) {
  const { pool, groups } = deps;

  async function requireGroup(name: string): Promise<GroupRow> {
    const row = await groups.find(name);
    if (!row) throw noSuchGroup(name);
    return row;
  }

  /** Throws the 404 naming the first of `names` that is not a group. */
  async function requireGroups(names: readonly string[], tx: Queryable) {
    const found = new Set(await groups.existing(names, tx));
    const missing = names.find((name) => !found.has(name));
    if (missing !== undefined) throw noSuchGroup(missing);
  }

  /** Links `name` under `parents`, refusing a cycle; inside `tx`, under the parent-link lock. */
  async function linkParents(name: string, parents: readonly string[], tx: Queryable) {
    if (parents.length === 0) return;
    await groups.lockParents(tx);
    await requireGroups(parents, tx);
    for (const parent of parents) {
      if (await groups.wouldCycle(name, parent, tx))
        throw invalidRequest(
          parent === name
            ? `the group ${name} cannot be its own parent`
            : `${parent} cannot be a parent of ${name}: ${name} is already ${parent}'s ancestor, which would make a cycle`,
          'parent',
        );
    }
    await groups.addParents(name, parents, tx);
  }

  return {
    async create(
      name: string,
      options: {
        roles?: readonly string[] | undefined;
        permissions?: readonly string[] | undefined;
        parents?: readonly string[] | undefined;
        description?: string | undefined;
      } = {},
    ): Promise<Group> {
      checkGroupName(name, 'name');
      const roles = unique(options.roles);
      const permissions = unique(options.permissions);
      const parents = unique(options.parents);
      deps.checkPermissions(permissions);
      if (options.description !== undefined && options.description.length > 500)
        throw invalidRequest('the description is too long (at most 500 characters)', 'description');
      await deps.requireRoles(roles);
      if (await groups.find(name)) throw conflict(`a group named ${name} already exists`);
      await withTransaction(pool, async (tx) => {
        await groups.insert({ name, description: options.description ?? null }, tx);
        await groups.addRoles(name, roles, tx);
        await groups.addPermissions(name, permissions, tx);
        await linkParents(name, parents, tx);
      });
      return toGroup(await requireGroup(name));
    },

    async update(name: string, changes: GroupChanges): Promise<Group> {
      await requireGroup(name);
      const addRoles = unique(changes.addRoles);
      const addPermissions = unique(changes.addPermissions);
      deps.checkPermissions(addPermissions);
      await deps.requireRoles(addRoles);
      await withTransaction(pool, async (tx) => {
        await groups.removeRoles(name, unique(changes.removeRoles), tx);
        await groups.removePermissions(name, unique(changes.removePermissions), tx);
        await groups.removeParents(name, unique(changes.removeParents), tx);
        await groups.addRoles(name, addRoles, tx);
        await groups.addPermissions(name, addPermissions, tx);
        await linkParents(name, unique(changes.addParents), tx);
      });
      return toGroup(await requireGroup(name));
    },

    async get(name: string): Promise<Group> {
      return toGroup(await requireGroup(name));
    },

    async list(): Promise<Group[]> {
      return (await groups.list()).map(toGroup);
    },

    /** Deletes a group; its members leave it, and its child groups lose it as a parent. */
    async delete(name: string): Promise<void> {
      if (!(await groups.delete(name))) throw noSuchGroup(name);
    },

    /** False when the account already was a member. */
    async addMember(name: string, accountId: string): Promise<boolean> {
      await requireGroup(name);
      return groups.addMember(name, accountId);
    },

    async removeMember(name: string, accountId: string): Promise<void> {
      await requireGroup(name);
      if (!(await groups.removeMember(name, accountId)))
        throw notFound(`the account is not a member of the group ${name}`);
    },

    async members(name: string): Promise<{ id: string; email: string }[]> {
      await requireGroup(name);
      return groups.membersOf(name);
    },

    /** The groups an account is itself a member of (without their ancestors). */
    groupsOfAccount: (accountId: string) => groups.groupsOfAccount(accountId),
  };
}

export type GroupLibrary = ReturnType<typeof createGroupLibrary>;
