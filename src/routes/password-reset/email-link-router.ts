import Router from '@koa/router';
import type { Context } from 'koa';
import { z } from 'zod';
import { AppError } from '../../errors/app-error.ts';
import type { CsrfTokens } from '../../libraries/csrf.ts';
import { hashEmailToken } from '../../libraries/email-tokens.ts';
import { emailVerificationPath, type EmailVerificationLibrary } from '../../libraries/email-verification.ts';
import { invitationPath, type InvitationLibrary } from '../../libraries/invitations.ts';
import type { PageRenderer } from '../../libraries/page-renderer.ts';
import { passwordResetPath, type PasswordResetLibrary } from '../../libraries/password-reset.ts';
import { signUpPath, type SignUpLibrary } from '../../libraries/sign-up.ts';
import { emailChangePath, type EmailChangeLibrary } from '../../libraries/email-change.ts';
import { showErrorPage } from '../../middleware/error-page.ts';
import { noStore, readCsrfForm, textField } from '../forms.ts';

export interface EmailLinkDeps {
  pages: PageRenderer;
  csrf: CsrfTokens;
  passwordReset: PasswordResetLibrary;
  emailVerification: EmailVerificationLibrary;
  invitations: InvitationLibrary;
  signUp: SignUpLibrary;
  emailChange: EmailChangeLibrary;
  /** Where an accepted invitation sends its person: the account page (`/account`), which signs in. */
  issuer: string;
  passwordRules: { minLength: number; minLengthWithMfa: number };
}

/** The paths this router answers (`ownPrefixes` of the HTTP app). */
export const emailLinkPaths = [
  passwordResetPath,
  emailVerificationPath,
  invitationPath,
  signUpPath,
  emailChangePath,
];

const resetForm = z.object({
  csrf: textField(100),
  token: textField(100),
  email: textField(320).optional(),
  new_password: textField(1024),
});
const verifyForm = z.object({ csrf: textField(100), token: textField(100) });
const invitationForm = resetForm;
const signUpForm = verifyForm;
const emailChangeForm = verifyForm;

/** A form on a link's page is bound to its token (to the token's hash: the binding never holds the token). */
const bindingOf = (purpose: string, token: string) =>
  `${purpose}:${hashEmailToken(token)?.toString('hex') ?? 'none'}`;

const queryToken = (ctx: Context) => (typeof ctx.query.token === 'string' ? ctx.query.token : '');

/** The token a form posts, read before the form itself (its CSRF token is bound to it); '' when absent. */
function bodyToken(ctx: Context): string {
  const body = ctx.request.body as { token?: unknown } | undefined;
  return typeof body?.token === 'string' ? body.token : '';
}

/**
 * The pages the links Gatehouse mails open: setting a new password (`/password-reset?token=…`), confirming an
 * address (`/email-verification?token=…`), accepting an invitation (`/invitation?token=…`), finishing a sign-up
 * (`/sign-up?token=…`) and moving an account to a new address (`/email-change?token=…`). The token travels in the query, which request logs leave out, and the pages send no
 * Referer. A link is a bearer link (it works in any browser) and works once; an expired, used or forged
 * one gets a page that says so and changes nothing.
 */
export function createEmailLinkRouter(deps: EmailLinkDeps): Router {
  const router = new Router();
  router.use(noStore);

  const gone = {
    reset:
      'A password reset link works once, and only for a short while. Ask for a new one with "Forgot password?" on the sign-in page.',
    verification:
      'A verification link works once, and only for a while. Ask your administrator to send a new one.',
    invitation:
      'An invitation link works once, and only for a while. If you already accepted it, sign in with your password; else ask your administrator for a new invitation.',
    signUp:
      'A sign-up link works once, and only for a while. If you already used it, sign in with your password; else choose "Create an account" on the sign-in page again.',
    emailChange:
      'A link to confirm a new address works once, and only for a while. Ask for a new one on your account page.',
  };
  const linkGone = (ctx: Context, what: keyof typeof gone) =>
    showErrorPage(ctx, deps.pages, { title: 'This link no longer works', message: gone[what] }, 400);

  /** The CSRF token of a link's form: bound to the link's token (to its hash; the binding never holds the token). */
  const linkCsrf = (purpose: string, token: string) => deps.csrf.tokenFor(bindingOf(purpose, token));

  /** The form a link's page posts, its CSRF token checked against the token the form carries. */
  const readLinkForm = <T extends z.ZodType<{ csrf: string }>>(ctx: Context, purpose: string, schema: T) =>
    readCsrfForm(ctx, deps.csrf, bindingOf(purpose, bodyToken(ctx)), schema);

  /** A link that would give an account an address another account got in the meantime: nothing changed. */
  const addressTaken = (ctx: Context, message: string) =>
    showErrorPage(ctx, deps.pages, { title: 'This address already has an account', message }, 409);

  /** The page a mailed link opens: `show` with what `check` found for its token, else "This link no longer works". */
  function linkPage<T>(
    path: string,
    what: keyof typeof gone,
    check: (token: string) => Promise<T | undefined>,
    show: (ctx: Context, token: string, found: T) => void,
  ) {
    router.get(path, async (ctx) => {
      const token = queryToken(ctx);
      const found = await check(token);
      if (!found) return linkGone(ctx, what);
      show(ctx, token, found);
    });
  }

  function renderReset(
    ctx: Context,
    token: string,
    found: { email: string; hasSecondFactor: boolean },
    error?: string,
  ) {
    ctx.type = 'html';
    ctx.body = deps.pages.render('password-reset', {
      title: 'Choose a new password',
      csrf: linkCsrf('password-reset', token),
      action: passwordResetPath,
      token,
      email: found.email,
      minLength: found.hasSecondFactor ? deps.passwordRules.minLengthWithMfa : deps.passwordRules.minLength,
      error,
    });
  }

  linkPage(passwordResetPath, 'reset', deps.passwordReset.check, renderReset);

  router.post(passwordResetPath, async (ctx) => {
    const form = readLinkForm(ctx, 'password-reset', resetForm);
    try {
      const outcome = await deps.passwordReset.reset(form.token, form.new_password, { ip: ctx.ip });
      if (outcome.kind === 'invalid') return linkGone(ctx, 'reset');
      ctx.type = 'html';
      ctx.body = deps.pages.render('password-reset-done', {
        title: 'Password changed',
        continueUrl: outcome.returnTo ?? undefined,
      });
    } catch (error) {
      if (!(error instanceof AppError) || error.status !== 400) throw error;
      const found = await deps.passwordReset.check(form.token);
      if (!found) return linkGone(ctx, 'reset');
      ctx.status = 400;
      renderReset(ctx, form.token, found, `The new password was not accepted: ${error.message}.`);
    }
  });

  linkPage(emailVerificationPath, 'verification', deps.emailVerification.check, (ctx, token, found) => {
    ctx.type = 'html';
    ctx.body = deps.pages.render('email-verification', {
      title: 'Confirm your email address',
      csrf: linkCsrf('email-verification', token),
      action: emailVerificationPath,
      token,
      email: found.email,
    });
  });

  router.post(emailVerificationPath, async (ctx) => {
    const form = readLinkForm(ctx, 'email-verification', verifyForm);
    const found = await deps.emailVerification.check(form.token);
    if (!found || !(await deps.emailVerification.verify(form.token, { ip: ctx.ip })))
      return linkGone(ctx, 'verification');
    ctx.type = 'html';
    ctx.body = deps.pages.render('email-verification', {
      title: 'Address confirmed',
      done: true,
      email: found.email,
    });
  });

  function renderInvitation(
    ctx: Context,
    token: string,
    found: { email: string; name: string | null },
    error?: string,
  ) {
    ctx.type = 'html';
    ctx.body = deps.pages.render('invitation', {
      title: 'Accept your invitation',
      csrf: linkCsrf('invitation', token),
      action: invitationPath,
      token,
      email: found.email,
      name: found.name,
      // A new account has no second factor yet: the longer minimum applies.
      minLength: deps.passwordRules.minLength,
      error,
    });
  }

  linkPage(invitationPath, 'invitation', deps.invitations.check, renderInvitation);

  router.post(invitationPath, async (ctx) => {
    const form = readLinkForm(ctx, 'invitation', invitationForm);
    try {
      const outcome = await deps.invitations.accept(form.token, form.new_password, { ip: ctx.ip });
      if (outcome.kind === 'invalid') return linkGone(ctx, 'invitation');
      ctx.type = 'html';
      ctx.body = deps.pages.render('invitation', {
        title: 'Invitation accepted',
        done: true,
        email: outcome.email,
        site: new URL(deps.issuer).host,
        accountUrl: `${deps.issuer}/account`,
      });
    } catch (error) {
      if (!(error instanceof AppError) || error.status !== 400) throw error;
      const found = await deps.invitations.check(form.token);
      if (!found) return linkGone(ctx, 'invitation');
      ctx.status = 400;
      renderInvitation(ctx, form.token, found, `The password was not accepted: ${error.message}.`);
    }
  });

  linkPage(signUpPath, 'signUp', deps.signUp.check, (ctx, token, found) => {
    ctx.type = 'html';
    ctx.body = deps.pages.render('sign-up-confirm', {
      title: 'Create your account',
      csrf: linkCsrf('sign-up', token),
      action: signUpPath,
      token,
      email: found.email,
      name: found.name,
    });
  });

  router.post(signUpPath, async (ctx) => {
    const form = readLinkForm(ctx, 'sign-up', signUpForm);
    const outcome = await deps.signUp.complete(form.token, { ip: ctx.ip });
    if (outcome.kind === 'invalid') return linkGone(ctx, 'signUp');
    if (outcome.kind === 'taken')
      return addressTaken(
        ctx,
        `An account with ${outcome.email} was created in the meantime. Sign in to it, or choose "Forgot password?" on the sign-in page.`,
      );
    ctx.type = 'html';
    ctx.body = deps.pages.render('sign-up-confirm', {
      title: 'Account created',
      done: true,
      email: outcome.email,
      continueUrl: outcome.returnTo ?? undefined,
      accountUrl: `${deps.issuer}/account`,
    });
  });

  linkPage(emailChangePath, 'emailChange', deps.emailChange.check, (ctx, token, found) => {
    ctx.type = 'html';
    ctx.body = deps.pages.render('email-change', {
      title: 'Confirm your new address',
      csrf: linkCsrf('email-change', token),
      action: emailChangePath,
      token,
      email: found.email,
      current: found.current,
    });
  });

  router.post(emailChangePath, async (ctx) => {
    const form = readLinkForm(ctx, 'email-change', emailChangeForm);
    const outcome = await deps.emailChange.confirm(form.token, { ip: ctx.ip });
    if (outcome.kind === 'invalid') return linkGone(ctx, 'emailChange');
    if (outcome.kind === 'taken')
      return addressTaken(
        ctx,
        `${outcome.email} became the address of another account in the meantime; your address did not change.`,
      );
    ctx.type = 'html';
    ctx.body = deps.pages.render('email-change', {
      title: 'Address changed',
      done: true,
      email: outcome.email,
      accountUrl: `${deps.issuer}/account`,
    });
  });

  return router;
}
