import { createHmac, randomInt } from 'node:crypto';
import { withTransaction, type Pool } from '../db/pg-pool.ts';
import { conflict, notFound } from '../errors/app-error.ts';
import type { MfaQueries } from '../queries/mfa-queries.ts';
import { sealContexts } from '../vocabulary/seal-contexts.ts';
import type { SecretBox } from './secret-box.ts';
import { checkTotp, newTotpSecret, totpUri } from './totp.ts';

export type SecondFactor = 'otp' | 'recovery_code';

export interface Enrollment {
  secret: string;
  otpauthUri: string;
}

export interface MfaStatus {
  enrolled: boolean;
  recoveryCodesRemaining: number;
}

const sealContext = sealContexts.totpSeed;
const recoveryAlphabet = 'abcdefghijkmnpqrstuvwxyz23456789';
export const recoveryCodeCount = 10;

/** `k7m2q-x9p4t`: 10 characters of an unambiguous alphabet (50 bits), grouped for reading. */
function newRecoveryCode(): string {
  const chars = Array.from({ length: 10 }, () => recoveryAlphabet[randomInt(recoveryAlphabet.length)]);
  return `${chars.slice(0, 5).join('')}-${chars.slice(5).join('')}`;
}

const normaliseRecoveryCode = (code: string) => code.toLowerCase().replace(/[\s-]/g, '');

/**
 * Second factors: TOTP enrollment (seed sealed at rest, confirmed by a first code), verification with replay
 * protection, one-time recovery codes (stored as keyed hashes), and the per-role / per-client MFA policy.
 */
export function createMfaLibrary(deps: {
  pool: Pool;
  queries: MfaQueries;
  secretBox: SecretBox;
  /**
   * The keys of recovery-code hashes: the first makes new codes, every one is tried when a code is used (codes from
   * before the data key came are hashed under keys derived from the root secrets).
   */
  recoveryCodeKeys: () => Promise<readonly Buffer[]>;
  issuerName: string;
  /** How many passkeys an account has (a passkey is a second factor too); none when not given. */
  passkeyCount?: (accountId: string) => Promise<number>;
  /** Removes every passkey of an account, returning how many (an operator's reset). */
  removePasskeys?: (accountId: string) => Promise<number>;
}) {
  const { queries, secretBox } = deps;
  const hashRecoveryCode = (key: Buffer, code: string) =>
    createHmac('sha256', key).update(normaliseRecoveryCode(code)).digest('base64url');

  async function issueRecoveryCodes(accountId: string): Promise<string[]> {
    const codes = Array.from({ length: recoveryCodeCount }, newRecoveryCode);
    const [key] = await deps.recoveryCodeKeys();
    await withTransaction(deps.pool, (tx) =>
      queries.replaceRecoveryCodes(
        accountId,
        codes.map((code) => hashRecoveryCode(key!, code)),
        tx,
      ),
    );
    return codes;
  }

  const enrollmentFor = (secret: string, email: string): Enrollment => ({
    secret,
    otpauthUri: totpUri(secret, { issuer: deps.issuerName, account: email }),
  });

  return {
    async status(accountId: string): Promise<MfaStatus> {
      const factor = await queries.findFactor(accountId);
      return {
        enrolled: !!factor?.confirmed_at,
        recoveryCodesRemaining: await queries.remainingRecoveryCodes(accountId),
      };
    },

    async isEnrolled(accountId: string): Promise<boolean> {
      return !!(await queries.findFactor(accountId))?.confirmed_at;
    },

    /**
     * Whether the account has any second factor: a confirmed authenticator app or a passkey. What decides whether a
     * sign-in asks for one (`isEnrolled` is the authenticator app alone, for the pages that manage it).
     */
    async hasSecondFactor(accountId: string): Promise<boolean> {
      if ((await queries.findFactor(accountId))?.confirmed_at) return true;
      return ((await deps.passkeyCount?.(accountId)) ?? 0) > 0;
    },

    isRequired: (accountId: string, clientId: string | undefined) => queries.mfaRequired(accountId, clientId),

    /** Starts an enrollment; the factor counts only once confirmed with a code from the app. */
    async startEnrollment(account: { id: string; email: string }): Promise<Enrollment> {
      const secret = newTotpSecret();
      if (!(await queries.savePendingFactor(account.id, secretBox.seal(secret, sealContext)))) {
        throw conflict('an authenticator app is already set up for this account');
      }
      return enrollmentFor(secret, account.email);
    },

    /** The pending enrollment, to show its QR code again (after a wrong first code). */
    async pendingEnrollment(account: { id: string; email: string }): Promise<Enrollment | undefined> {
      const factor = await queries.findFactor(account.id);
      if (!factor || factor.confirmed_at) return undefined;
      return enrollmentFor(secretBox.open(factor.sealed_secret, sealContext), account.email);
    },

    /** Confirms a pending enrollment with a current code. Returns the recovery codes (shown once), or undefined for a wrong code. */
    async confirmEnrollment(accountId: string, code: string, now?: number): Promise<string[] | undefined> {
      const factor = await queries.findFactor(accountId);
      if (!factor || factor.confirmed_at) return undefined;
      const check = await checkTotp(secretBox.open(factor.sealed_secret, sealContext), code.trim(), { now });
      if (!check.valid || !(await queries.confirmFactor(accountId, check.timeStep!))) return undefined;
      return issueRecoveryCodes(accountId);
    },

    /** Provisioning (`gatehouse user enroll-totp`): a confirmed factor at once, replacing any earlier one. */
    async provision(account: {
      id: string;
      email: string;
    }): Promise<Enrollment & { recoveryCodes: string[] }> {
      const secret = newTotpSecret();
      await queries.saveConfirmedFactor(account.id, secretBox.seal(secret, sealContext), null);
      return { ...enrollmentFor(secret, account.email), recoveryCodes: await issueRecoveryCodes(account.id) };
    },

    /**
     * Checks a second-factor code: a TOTP code of a step not used before (±1 step), or an unused recovery code.
     * Returns which factor it was, or undefined.
     */
    async verify(accountId: string, code: string, now?: number): Promise<SecondFactor | undefined> {
      const trimmed = code.trim();
      if (/^\d{6}$/.test(trimmed)) {
        const factor = await queries.findFactor(accountId);
        if (!factor?.confirmed_at) return undefined;
        const lastStep = factor.last_used_step === null ? undefined : Number(factor.last_used_step);
        const check = await checkTotp(secretBox.open(factor.sealed_secret, sealContext), trimmed, {
          afterTimeStep: lastStep,
          now,
        });
        return check.valid && (await queries.useStep(accountId, check.timeStep!)) ? 'otp' : undefined;
      }
      if (/^[a-z0-9]{10}$/.test(normaliseRecoveryCode(trimmed))) {
        const hashes = (await deps.recoveryCodeKeys()).map((key) => hashRecoveryCode(key, trimmed));
        return (await queries.useRecoveryCode(accountId, hashes)) ? 'recovery_code' : undefined;
      }
      return undefined;
    },

    async regenerateRecoveryCodes(accountId: string): Promise<string[]> {
      if (!(await queries.findFactor(accountId))?.confirmed_at)
        throw notFound('no authenticator app is set up for this account');
      return issueRecoveryCodes(accountId);
    },

    remainingRecoveryCodes: (accountId: string) => queries.remainingRecoveryCodes(accountId),

    /** Removes the factor and every recovery code; true when there was something to remove. */
    async reset(accountId: string): Promise<boolean> {
      const removedFactor = await queries.deleteFactor(accountId);
      const removedCodes = await queries.deleteRecoveryCodes(accountId);
      return removedFactor || removedCodes > 0;
    },

    /** Removes every passkey of the account (its device lost); returns how many there were. */
    removePasskeys: async (accountId: string): Promise<number> =>
      (await deps.removePasskeys?.(accountId)) ?? 0,

    async setRoleRequired(roleName: string, required: boolean): Promise<void> {
      if (!(await queries.setRoleMfaRequired(roleName, required)))
        throw notFound(`no role named ${roleName}`);
    },

    async setClientRequired(clientId: string, required: boolean): Promise<void> {
      if (!(await queries.setClientMfaRequired(clientId, required)))
        throw notFound(`no client with id ${clientId}`);
    },
  };
}

export type MfaLibrary = ReturnType<typeof createMfaLibrary>;
