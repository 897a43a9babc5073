import { readFile } from 'node:fs/promises';
import { ConfigError } from '../errors/config-error.ts';
import { AppError } from '../errors/app-error.ts';
import type { RoleHolderQueries } from '../queries/role-holder-queries.ts';
import type { Account, AccountLibrary } from './accounts.ts';
import type { AuditLog } from './audit.ts';
import type { PasswordPolicy } from './password-policy.ts';

/** The built-in role of Gatehouse's administrators (migration 002). */
export const adminRole = 'admin';

export interface BootstrapAdmin {
  email: string;
  password: string;
}

const emailVariable = 'GATEHOUSE_BOOTSTRAP_ADMIN_EMAIL';
const fileVariable = 'GATEHOUSE_BOOTSTRAP_ADMIN_PASSWORD_FILE';

/**
 * Reads the first administrator's password from its file (a Docker or Kubernetes secret) and checks it against the
 * password rules before anything is served, so a missing file or a refused password stops start-up, naming the
 * variable. Undefined when no bootstrap is configured. The password is never part of a message.
 *
 * @example
 * const admin = await readBootstrapAdmin(config.bootstrapAdmin, policy); // { email, password } | undefined
 */
export async function readBootstrapAdmin(
  settings: { email: string | null; passwordFile: string | null },
  policy: PasswordPolicy,
): Promise<BootstrapAdmin | undefined> {
  const { email, passwordFile } = settings;
  if (email === null || passwordFile === null) return undefined;
  let text: string;
  try {
    text = await readFile(passwordFile, 'utf8');
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    throw new ConfigError(`${fileVariable}: cannot read ${passwordFile} (${reason})`);
  }
  // `echo ... > file` and most secret stores end the file with a newline that is not part of the password.
  const password = text.replace(/[\r\n]+$/, '');
  // A password field cannot hold a line break (HTML strips it), so such a password could never sign in.
  if (/[\r\n]/.test(password))
    throw new ConfigError(`${fileVariable}: ${passwordFile} must hold the password on one line`);
  try {
    policy.check(password, { email, hasSecondFactor: false });
  } catch (error) {
    if (error instanceof AppError)
      throw new ConfigError(`${fileVariable}: the password in ${passwordFile} is refused: ${error.message}`);
    throw error;
  }
  return { email, password };
}

/**
 * The explicit first-administrator step of a deployment with its own database (the demo account exists only with
 * embedded storage). Builds on the account and role libraries; the caller runs it once per start.
 */
export function createAdminBootstrap(deps: {
  accounts: AccountLibrary;
  roleHolders: RoleHolderQueries;
  audit: Pick<AuditLog, 'record'>;
}) {
  return {
    /**
     * While no account holds the admin role, creates `admin` (email verified) with that role and returns it.
     * Once any administrator exists it does nothing and returns undefined, so the variables may stay set.
     */
    async ensure(admin: BootstrapAdmin): Promise<Account | undefined> {
      if (await deps.roleHolders.anyAccountHolds(adminRole)) return undefined;
      // An existing account is not promoted on its email alone: anyone could have made it (an upstream sign-in).
      if (await deps.accounts.findByEmail(admin.email)) {
        throw new ConfigError(
          `${emailVariable}: an account with email ${admin.email} exists but no account holds the ${adminRole} ` +
            `role; if it is yours, run \`gatehouse user assign-role --email ${admin.email} --role ${adminRole}\`, ` +
            'or name another email',
        );
      }
      try {
        // The account and its role are written together: a crash between them cannot leave an account that the
        // next start would report as above.
        const account = await deps.accounts.createWithRoles({
          email: admin.email,
          password: admin.password,
          emailVerified: true,
          roles: [adminRole],
        });
        // As the admin API audits a user it creates (`admin.change`, action `user.create`), the actor being start-up.
        await deps.audit.record('admin.change', {
          actor: 'bootstrap',
          accountId: account.id,
          details: { action: 'user.create', target: `user:${account.id}`, after: account },
        });
        return account;
      } catch (error) {
        if (!(error instanceof AppError) || error.status >= 500) throw error;
        // Another instance starting at the same moment created the administrator first (the unique email decided).
        if (error.code === 'conflict' && (await deps.roleHolders.anyAccountHolds(adminRole)))
          return undefined;
        throw new ConfigError(`${emailVariable}: ${error.message}`);
      }
    },
  };
}

export type AdminBootstrap = ReturnType<typeof createAdminBootstrap>;
