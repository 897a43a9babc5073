import type { Context } from 'koa';
import type { z } from 'zod';
import { errors, type InteractionResults, type Provider } from 'oidc-provider';
import type { AccountLibrary } from '../../libraries/accounts.ts';
import type { AttemptThrottle } from '../../libraries/attempt-throttle.ts';
import type { AuditLog } from '../../libraries/audit.ts';
import type { CsrfTokens } from '../../libraries/csrf.ts';
import type { KnownDevices } from '../../libraries/known-devices.ts';
import type { MfaLibrary } from '../../libraries/mfa.ts';
import type { PasskeyLibrary } from '../../libraries/passkeys.ts';
import type { PageRenderer } from '../../libraries/page-renderer.ts';
import type { RbacLibrary } from '../../libraries/rbac.ts';
import type { Federation } from '../../libraries/federation.ts';
import type { IdentityProviderLibrary } from '../../libraries/identity-providers.ts';
import type { UpstreamProfile, UpstreamSignIn } from '../../libraries/upstream-sign-in.ts';
import type { KeyValueStore } from '../../storage/hot-state.ts';
import { readCsrfForm } from '../forms.ts';
import { restartUrlFor } from './interaction-helpers.ts';
import { interactionUrl } from '../../vocabulary/interaction-paths.ts';
import { storeKeys } from '../../vocabulary/store-keys.ts';
import { showErrorPage } from '../../middleware/error-page.ts';

export type Interaction = Awaited<ReturnType<Provider['interactionDetails']>>;

export interface InteractionDeps {
  provider: () => Provider;
  accounts: AccountLibrary;
  mfa: MfaLibrary;
  /** Passkeys: passwordless sign-in on the login page, and a second factor. */
  passkeys: PasskeyLibrary;
  audit: AuditLog;
  pages: PageRenderer;
  csrf: CsrfTokens;
  store: KeyValueStore;
  throttles: {
    passwordPerAccount: AttemptThrottle;
    passwordPerIp: AttemptThrottle;
    factorPerAccount: AttemptThrottle;
    factorPerIp: AttemptThrottle;
  };
  /** Browsers where an account's password was right before, so a lock on its email spares them. */
  knownDevices: KnownDevices;
  /** The issuer: https decides the `Secure` cookie attributes and names. */
  issuer: string;
  acr: { password: string; federated: string; emailCode: string; mfa: string };
  interactionTtlSeconds: number;
  /** Registered APIs, for the consent page to name them and their permissions. */
  apis: Pick<RbacLibrary, 'findApi'>;
  /** "Login with ..." (upstream identity providers); absent when federation is not wired. */
  federation?: FederationDeps;
}

export interface FederationDeps {
  federation: Federation;
  identityProviders: IdentityProviderLibrary;
  upstream: UpstreamSignIn;
  issuer: string;
}

/** Where a sign-in stands between its steps (password done, second factor pending), kept per interaction. */
/** How a first factor was passed (its `amr` value): a password, an upstream provider, a code mailed to the address. */
export type FirstFactor = 'pwd' | 'fed' | 'email';

export interface SignInState {
  accountId: string;
  remember: boolean;
  /** The session already exists; only a second factor is asked (step-up). */
  stepUp: boolean;
  /**
   * For a step-up: how the existing session signed in. Its factors stay in `amr` next to the new one, and its
   * `auth_time` and "remember me" choice are kept: a second factor alone is no new sign-in.
   */
  session?: { amr: string[]; loginTs: number | undefined };
  /** Set once an enrollment during sign-in is confirmed: the recovery codes were shown, sign-in may finish. */
  enrolled?: boolean;
  /**
   * How the first factor was passed: a password, an upstream identity provider or a mailed code. (A passkey sign-in
   * passes both factors at once and never stores a state.)
   */
  firstFactor?: FirstFactor;
  /** The upstream that signed the person in, for the `idp` claim. */
  idp?: string;
  /**
   * An upstream identity whose link the account's password confirmed (see LinkOffer). It rides along through the
   * second factor and is written only when the sign-in finishes.
   */
  pendingLink?: { idpId: string; profile: UpstreamProfile };
}

/**
 * An upstream identity with the verified email of an existing account, waiting for that account's password (link
 * policy `confirm`). Kept apart from SignInState: no factor has passed yet, so the second-factor step, which works
 * from SignInState, must not find an account there (it would offer to enroll a factor for someone else's account).
 */
export interface LinkOffer {
  accountId: string;
  idpId: string;
  profile: UpstreamProfile;
}

/**
 * What a passkey challenge of an interaction is bound to (`PasskeyLibrary`): the login page's (passwordless) and the
 * second-factor page's are apart, so an answer to one page's challenge is worth nothing on the other.
 */
export const passkeyBinding = {
  login: (uid: string) => `interaction:${uid}:login`,
  secondFactor: (uid: string) => `interaction:${uid}:mfa`,
};

/** What every interaction step needs: the current interaction, finishing it, and the sign-in state. */
export function createInteractionKit(deps: InteractionDeps) {
  const stateKey = storeKeys.signIn;
  const offerKey = storeKeys.linkOffer;

  return {
    deps,

    /** The interaction this browser is in, or (having answered with a restart page) undefined. */
    async load(ctx: Context): Promise<Interaction | undefined> {
      const provider = deps.provider();
      try {
        const interaction = await provider.interactionDetails(ctx.req, ctx.res);
        if (interaction.uid === ctx.params.uid) return interaction;
      } catch (error) {
        if (!(error instanceof errors.SessionNotFound)) throw error;
      }
      const clientId = typeof ctx.query.client_id === 'string' ? ctx.query.client_id : undefined;
      showErrorPage(ctx, deps.pages, {
        title: 'This sign-in page has expired',
        message:
          'You took longer than Gatehouse allows, or your browser lost its cookies. Start signing in again from the application.',
        restartUrl: await restartUrlFor(provider, clientId),
      });
      return undefined;
    },

    /**
     * The prelude of every form post to an interaction page: the interaction (else a restart page and undefined),
     * the form read against `schema`, its CSRF token checked against the interaction; with `prompt`, a post for a
     * prompt the interaction is no longer at sends the browser to the page of the prompt it is at.
     */
    async submission<T extends z.ZodType<{ csrf: string }>>(
      ctx: Context,
      schema: T,
      prompt?: string,
    ): Promise<{ interaction: Interaction; form: z.infer<T> } | undefined> {
      const interaction = await this.load(ctx);
      if (!interaction) return undefined;
      const form = readCsrfForm(ctx, deps.csrf, interaction.uid, schema);
      if (prompt && interaction.prompt.name !== prompt) {
        ctx.redirect(interactionUrl(interaction));
        return undefined;
      }
      return { interaction, form };
    },

    /** Hands the result to oidc-provider and sends the browser back to the authorization endpoint. */
    async finish(ctx: Context, result: InteractionResults, merge: boolean): Promise<void> {
      const returnTo = await deps
        .provider()
        .interactionResult(ctx.req, ctx.res, result, { mergeWithLastSubmission: merge });
      ctx.status = 303;
      ctx.redirect(returnTo);
    },

    async clientName(interaction: Interaction): Promise<string | undefined> {
      const client = await deps.provider().Client.find(String(interaction.params.client_id));
      return client?.clientName ?? client?.clientId;
    },

    /**
     * After the first factor (password, upstream or mailed code): on to the second factor when the account has one or a policy
     * of its roles or of the client requires one, else the sign-in is done.
     */
    async completeFirstFactor(
      ctx: Context,
      interaction: Interaction,
      state: Omit<SignInState, 'stepUp'> & { firstFactor: FirstFactor },
    ): Promise<void> {
      const clientId = String(interaction.params.client_id);
      if (
        (await deps.mfa.hasSecondFactor(state.accountId)) ||
        (await deps.mfa.isRequired(state.accountId, clientId))
      ) {
        await this.state.set(interaction.uid, { ...state, stepUp: false });
        ctx.status = 303;
        return ctx.redirect(interactionUrl(interaction, 'mfa'));
      }
      const acr = {
        pwd: deps.acr.password,
        fed: deps.acr.federated,
        email: deps.acr.emailCode,
      }[state.firstFactor];
      return this.finishSignIn(ctx, interaction, { ...state, stepUp: false }, [state.firstFactor], acr);
    },

    /** Records the sign-in and resumes the authorization with its `amr` and `acr`. */
    async finishSignIn(
      ctx: Context,
      interaction: Interaction,
      state: SignInState,
      amr: string[],
      acr: string,
    ): Promise<void> {
      const clientId = String(interaction.params.client_id);
      // A link the password confirmed is written now that every factor this sign-in asked for has passed: a
      // password alone (the account's second factor abandoned) links nothing.
      if (state.pendingLink && !state.stepUp && deps.federation) {
        const { federation, identityProviders } = deps.federation;
        const provider = (await identityProviders.listEnabled()).find(
          (candidate) => candidate.id === state.pendingLink!.idpId,
        );
        if (provider) await federation.linkConfirmed(provider, state.pendingLink.profile, state.accountId);
        // Its role rules may just have given a role whose holders must pass a second factor.
        if (!amr.includes('mfa') && (await deps.mfa.isRequired(state.accountId, clientId))) {
          await this.state.set(interaction.uid, { ...state, pendingLink: undefined });
          ctx.status = 303;
          return ctx.redirect(interactionUrl(interaction, 'mfa'));
        }
      }
      const ts = state.session?.loginTs ?? Math.floor(Date.now() / 1000);
      await this.state.clear(interaction.uid);
      await deps.audit.record('signin.succeeded', {
        accountId: state.accountId,
        clientId,
        ip: ctx.ip,
        details: { amr, ...(state.stepUp ? { stepUp: true } : {}), ...(state.idp ? { idp: state.idp } : {}) },
      });
      if (state.idp) await deps.federation?.federation.rememberLogin(state.accountId, ts, state.idp);
      return this.finish(
        ctx,
        {
          login: {
            accountId: state.accountId,
            amr: [...new Set([...(state.session?.amr ?? []), ...amr])],
            acr,
            remember: state.remember,
            ts,
          },
        },
        false,
      );
    },

    csrfFor: (interaction: Interaction) => deps.csrf.tokenFor(interaction.uid),
    url: interactionUrl,

    state: {
      async get(uid: string): Promise<SignInState | undefined> {
        const stored = await deps.store.get(stateKey(uid));
        return stored ? (JSON.parse(stored) as SignInState) : undefined;
      },
      set: (uid: string, state: SignInState) =>
        deps.store.set(stateKey(uid), JSON.stringify(state), deps.interactionTtlSeconds),
      clear: (uid: string) => deps.store.delete(stateKey(uid)),
    },

    /** The link offer of an interaction (see LinkOffer); taking it deletes it. */
    linkOffers: {
      set: (uid: string, offer: LinkOffer) =>
        deps.store.set(offerKey(uid), JSON.stringify(offer), deps.interactionTtlSeconds),
      async take(uid: string): Promise<LinkOffer | undefined> {
        const stored = await deps.store.take(offerKey(uid));
        return stored ? (JSON.parse(stored) as LinkOffer) : undefined;
      },
    },
  };
}

export type InteractionKit = ReturnType<typeof createInteractionKit>;
