import { createHash } from 'node:crypto';
import { z } from 'zod';
import { conflict, invalidRequest, notFound } from '../errors/app-error.ts';
import type { AccountQueries, AccountRow } from '../queries/account-queries.ts';
import type { PasswordPolicy } from './password-policy.ts';
import type { PasswordHasher } from './passwords.ts';
import { noSuchRole } from './rbac.ts';
import { isForeignKeyViolation, isUniqueViolation } from '../db/sql-state.ts';
import { findUnstorableText } from '../db/text-safety.ts';

export interface Account {
  id: string;
  email: string;
  emailVerified: boolean;
  name: string | null;
  status: 'active' | 'disabled';
  /** False for accounts created through an upstream sign-in, which have no password. */
  hasPassword: boolean;
  /** Custom attributes (typed JSON values by name), for policies. */
  attributes: Record<string, unknown>;
  createdAt: Date;
  updatedAt: Date;
}

export interface NewAccountInput {
  email: string;
  password: string;
  name?: string | undefined;
  emailVerified?: boolean | undefined;
  /** The account's `sub` (see checkAccountId); default a new UUID. */
  id?: string | undefined;
  /** Custom attributes (see checkAttributes). */
  attributes?: Record<string, unknown> | undefined;
}

/**
 * The claims every account has, which policies read as its built-in attributes (../shared/CONTRACT.md): a custom
 * attribute may not take one of these names.
 */
export const builtinAttributeNames = ['sub', 'email', 'email_verified', 'name', 'permissions'] as const;

const attributeNamePattern = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;
const maxAttributes = 100;
const maxAttributesBytes = 16 * 1024;
const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** What a client id may be made of (clients.ts): an account id that is not a UUID needs a character outside it. */
const clientIdCharacters = /^[A-Za-z0-9._~-]+$/;

/**
 * An account id given at creation (`user create --id`, e.g. to keep the `sub` relying parties of another provider
 * already stored): 1-255 printable ASCII characters without spaces (OpenID Connect's limit for `sub`), and never
 * something a client id could be. A `client_credentials` token's `sub` is its client id (RFC 9700 section 4.15), so
 * the two must never meet: a client id is never a UUID (clients.ts), and an account id is either a UUID or has a
 * character no client id has (`|`, `:`, `@`, `+`, ...), e.g. `auth0|5f7c8ec7a1b2` or `okta:00u1abcd`.
 */
export function checkAccountId(id: string): void {
  if (!/^[\x21-\x7e]{1,255}$/.test(id))
    throw invalidRequest('an account id must be 1-255 printable ASCII characters without spaces', 'id');
  if (!uuidPattern.test(id) && clientIdCharacters.test(id))
    throw invalidRequest(
      `the account id "${id}" could be a client id: use a UUID, or an id with a character no client id has (such as | or :), e.g. legacy:${id}`,
      'id',
    );
}

/** Custom attributes as they may be written: names, values, and size (also from the admin API). */
export function checkAttributes(attributes: Record<string, unknown>): void {
  const names = Object.keys(attributes);
  for (const name of names) {
    const field = `attributes.${name}`;
    if ((builtinAttributeNames as readonly string[]).includes(name))
      throw invalidRequest(
        `"${name}" is a built-in attribute of every account (${builtinAttributeNames.join(', ')}): a custom attribute cannot have its name`,
        field,
      );
    if (!attributeNamePattern.test(name))
      throw invalidRequest(
        `"${name}" is not a valid attribute name (1-64 of A-Z a-z 0-9 _, not starting with a digit)`,
        field,
      );
    if (attributes[name] === null || attributes[name] === undefined)
      throw invalidRequest(
        `the attribute ${name} has no value (to remove it, use --remove-attribute)`,
        field,
      );
    if (findUnstorableText(attributes[name]) !== undefined || findUnstorableText(name) !== undefined)
      throw invalidRequest(`the attribute ${name} holds a character that is not allowed (U+0000)`, field);
  }
  if (names.length > maxAttributes)
    throw invalidRequest(`an account has at most ${String(maxAttributes)} attributes`, 'attributes');
  if (Buffer.byteLength(JSON.stringify(attributes)) > maxAttributesBytes)
    throw invalidRequest(
      `an account's attributes take at most ${String(maxAttributesBytes)} bytes of JSON`,
      'attributes',
    );
}

const emailSchema = z.email().max(254);

export function toAccount(row: AccountRow): Account {
  return {
    id: row.id,
    email: row.email,
    emailVerified: row.email_verified,
    name: row.name,
    status: row.status,
    hasPassword: row.password_hash !== null,
    attributes: structuredClone(row.attributes),
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

const placeholderDomain = 'users.noreply.invalid';

/**
 * The address of an account whose upstream did not vouch for an email: every account needs a unique one (the
 * schema), and this one can never be delivered to nor belong to anyone (`.invalid`, RFC 2606), so no other account,
 * link or relying party can mistake it for a person's address. `idpId` is `[a-z0-9-]`; a subject of lowercase
 * letters and digits (GitHub's user id) is kept readable after the last `-`, any other is hashed after a `.`, which
 * the readable form never has: distinct (upstream, subject) pairs never give the same address.
 */
export function placeholderEmail(idpId: string, subject: string): string {
  const local = /^[a-z0-9]{1,40}$/.test(subject)
    ? `${idpId}-${subject}`
    : `${idpId}.${createHash('sha256').update(subject).digest('hex').slice(0, 32)}`;
  return `${local}@${placeholderDomain}`;
}

/** Whether an account's email is a placeholder (see placeholderEmail): no address at all, for relying parties. */
export function isPlaceholderEmail(email: string): boolean {
  return email.toLowerCase().endsWith(`@${placeholderDomain}`);
}

/**
 * An upstream's email as Gatehouse may use it: trimmed, a well-formed address, and never one in the reserved
 * `.invalid` domain (an upstream naming a placeholder must not reach the account that has it). Else undefined.
 */
export function usableUpstreamEmail(email: string | undefined): string | undefined {
  const trimmed = email?.trim();
  if (!trimmed || !emailSchema.safeParse(trimmed).success) return undefined;
  return /\.invalid\.?$/i.test(trimmed) ? undefined : trimmed;
}

export function normaliseEmail(email: string): string {
  const trimmed = email.trim();
  if (!emailSchema.safeParse(trimmed).success)
    throw invalidRequest(`"${email}" is not an email address`, 'email');
  return trimmed;
}

/** The position a page cursor names; a cursor Gatehouse did not make is a 400 naming `cursor`. */
function readCursor(cursor: string): { createdAt: string; id: string } {
  try {
    const [at, id] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown[];
    if (
      typeof at === 'string' &&
      /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d{1,6})?[+-]\d{2}(:\d{2})?$/.test(at) &&
      typeof id === 'string' &&
      id.length <= 255
    )
      return { createdAt: at, id };
  } catch {
    // falls through to the refusal
  }
  throw invalidRequest('the cursor is not one Gatehouse gave out', 'cursor');
}

/** Accounts: creation, lookup and password sign-in. */
export function createAccountLibrary({
  queries,
  passwords,
  policy,
}: {
  queries: AccountQueries;
  passwords: PasswordHasher;
  policy: PasswordPolicy;
}) {
  /** Throws the 404 naming the first of `roles` that is not a role. */
  async function requireRoles(roles: readonly string[]): Promise<void> {
    const [unknown] = await queries.unknownRoles(roles);
    if (unknown !== undefined) throw noSuchRole(unknown);
  }

  /** Checks a new account as `create` does, then writes it with its roles in one statement (see insertWithRoles). */
  async function insertAccount(input: NewAccountInput, roles: readonly string[]) {
    const email = normaliseEmail(input.email);
    // A new account has no second factor yet, so the longer minimum applies.
    policy.check(input.password, { email, hasSecondFactor: false });
    if (input.name !== undefined && input.name.length > 200)
      throw invalidRequest('the name is too long', 'name');
    if (input.id !== undefined) checkAccountId(input.id);
    if (input.attributes !== undefined) checkAttributes(input.attributes);
    if (await queries.findByEmail(email)) throw conflict(`an account with email ${email} already exists`);
    if (input.id !== undefined && (await queries.findById(input.id)))
      throw conflict(`an account with id ${input.id} already exists`);
    const passwordHash = await passwords.hash(input.password);
    try {
      const { row, roles: held } = await queries.insertWithRoles(
        {
          email,
          name: input.name ?? null,
          passwordHash,
          emailVerified: input.emailVerified ?? false,
          id: input.id,
          attributes: input.attributes,
        },
        roles,
      );
      return { account: toAccount(row), roles: held };
    } catch (error) {
      // Two concurrent creations of one email (or one id): the unique index decides.
      if (isUniqueViolation(error)) {
        if (input.id !== undefined && (await queries.findById(input.id)))
          throw conflict(`an account with id ${input.id} already exists`);
        throw conflict(`an account with email ${email} already exists`);
      }
      // A role deleted since it was checked: nothing was written, and the error names it as the check would.
      if (isForeignKeyViolation(error)) await requireRoles(roles);
      throw error;
    }
  }

  /**
   * One page of accounts in creation order and the cursor of the next page (null on the last): a list never stops
   * short without saying so. The cursor is opaque to callers (the creation time and id of the page's last account).
   */
  async function listPage(options: { limit: number; cursor?: string | undefined }): Promise<{
    accounts: Account[];
    next: string | null;
  }> {
    const rows = await queries.listAfter(
      options.limit + 1,
      options.cursor ? readCursor(options.cursor) : undefined,
    );
    const page = rows.slice(0, options.limit);
    const last = page.at(-1);
    return {
      accounts: page.map(toAccount),
      next:
        rows.length > options.limit && last
          ? Buffer.from(JSON.stringify([last.position, last.id])).toString('base64url')
          : null,
    };
  }

  return {
    async create(input: NewAccountInput): Promise<Account> {
      return (await insertAccount(input, [])).account;
    },

    /**
     * "Create a user with roles", the one way the admin API and the CLI do it: every role must exist (a 404 names
     * the first that does not, before anything is checked or written), and the account and its roles are written
     * together or not at all. Returns the account with the roles it holds.
     */
    async createWithRoles(
      input: NewAccountInput & { roles: readonly string[] },
    ): Promise<Account & { roles: string[] }> {
      await requireRoles(input.roles);
      const { account, roles } = await insertAccount(input, input.roles);
      return { ...account, roles };
    },

    /**
     * Password sign-in. Returns the account only for the right password of an active account. An unknown email
     * spends the same argon2id time as a wrong password, so timing does not reveal which emails exist.
     */
    async authenticate(email: string, password: string): Promise<Account | undefined> {
      if (password.length === 0 || password.length > policy.rules.maxLength * 4) return undefined;
      const row = await queries.findByEmail(email.trim());
      if (!row?.password_hash) {
        await passwords.spendVerificationTime(password);
        return undefined;
      }
      if (!(await passwords.verify(row.password_hash, password))) return undefined;
      if (row.status !== 'active') return undefined;
      if (passwords.needsRehash(row.password_hash)) {
        await queries.updatePasswordHash(row.id, await passwords.hash(password));
      }
      return toAccount(row);
    },

    /** Changes a password after checking the current one; `hasSecondFactor` decides the minimum length. */
    async changePassword(
      accountId: string,
      current: string,
      next: string,
      hasSecondFactor: boolean,
    ): Promise<boolean> {
      const row = await queries.findById(accountId);
      if (!row?.password_hash || !(await passwords.verify(row.password_hash, current))) return false;
      policy.check(next, { email: row.email, hasSecondFactor });
      await queries.updatePasswordHash(row.id, await passwords.hash(next));
      return true;
    },

    /**
     * Sets a password without the current one (an operator's reset): the policy applies as at a change, naming the
     * field `password`. `hasSecondFactor` decides the minimum length.
     */
    async setPassword(id: string, password: string, hasSecondFactor: boolean): Promise<Account> {
      const row = await queries.findById(id);
      if (!row) throw notFound(`no account with id ${id}`);
      policy.check(password, { email: row.email, hasSecondFactor });
      await queries.updatePasswordHash(row.id, await passwords.hash(password));
      return toAccount(row);
    },

    /** Deletes the account and what cascades with it (roles, groups, factors, links); 404 when there is none. */
    async delete(id: string): Promise<void> {
      if (!(await queries.delete(id))) throw notFound(`no account with id ${id}`);
    },

    async findById(id: string): Promise<Account | undefined> {
      const row = await queries.findById(id);
      return row ? toAccount(row) : undefined;
    },

    async get(id: string): Promise<Account> {
      const row = await queries.findById(id);
      if (!row) throw notFound(`no account with id ${id}`);
      return toAccount(row);
    },

    async update(
      id: string,
      patch: { name?: string | null; status?: 'active' | 'disabled'; emailVerified?: boolean },
    ): Promise<Account> {
      if (patch.name && patch.name.length > 200) throw invalidRequest('the name is too long', 'name');
      const row = await queries.update(id, patch);
      if (!row) throw notFound(`no account with id ${id}`);
      return toAccount(row);
    },

    /**
     * Sets the attributes of `set` (replacing those of the same name) and removes those of `remove`, in one
     * statement. A name in both is refused; removing an attribute the account does not have is not an error.
     */
    async updateAttributes(
      id: string,
      set: Record<string, unknown>,
      remove: readonly string[] = [],
    ): Promise<Account> {
      checkAttributes(set);
      const both = remove.find((name) => Object.hasOwn(set, name));
      if (both !== undefined)
        throw invalidRequest(`the attribute ${both} is both set and removed`, `attributes.${both}`);
      const current = await queries.findById(id);
      if (!current) throw notFound(`no account with id ${id}`);
      // The result must stay within the limits too (checked against what the account has now).
      const merged: Record<string, unknown> = { ...current.attributes, ...set };
      for (const name of remove) delete merged[name];
      checkAttributes(merged);
      const row = await queries.updateAttributes(id, set, [...new Set(remove)]);
      if (!row) throw notFound(`no account with id ${id}`);
      return toAccount(row);
    },

    async findByEmail(email: string): Promise<Account | undefined> {
      const row = await queries.findByEmail(email.trim());
      return row ? toAccount(row) : undefined;
    },

    /** The account with this email (case-insensitive), or the 404 that names the email as given. */
    async getByEmail(email: string): Promise<Account> {
      const row = await queries.findByEmail(email.trim());
      if (!row) throw notFound(`no account with email ${email}`);
      return toAccount(row);
    },

    listPage,

    /** Every account, page by page. */
    async list(): Promise<Account[]> {
      const all: Account[] = [];
      let cursor: string | undefined;
      do {
        const page = await listPage({ limit: 1000, cursor });
        all.push(...page.accounts);
        cursor = page.next ?? undefined;
      } while (cursor);
      return all;
    },

    count: () => queries.count(),
  };
}

export type AccountLibrary = ReturnType<typeof createAccountLibrary>;
