import type Router from '@koa/router';
import type { Context } from 'koa';
import { formatUserCode } from '../../oidc/device-flow-pages.ts';
import { csrfOnlyForm } from '../forms.ts';
import { grantRequestedAccess } from './interaction-helpers.ts';
import type { Interaction, InteractionKit } from './interaction-kit.ts';
import { deviceCodeOf, deviceInfoOf } from '../../oidc/provider-internals.ts';

/** The device confirmation of RFC 8628 (section 5.4): which tool, and the code it shows. */
export async function renderDeviceConfirmation(
  kit: InteractionKit,
  ctx: Context,
  interaction: Interaction,
): Promise<void> {
  const jti = deviceCodeOf(interaction)!;
  const device = await kit.deps.provider().DeviceCode.find(jti, { ignoreExpiration: true });
  ctx.type = 'html';
  ctx.body = kit.deps.pages.render('device-confirm', {
    title: 'Confirm the device',
    clientName: await kit.clientName(interaction),
    userCode: formatUserCode(device?.userCode ?? ''),
    device: deviceInfoOf(device?.deviceInfo),
    action: kit.url(interaction, 'confirm'),
    cancelAction: kit.url(interaction, 'abort'),
    fields: { csrf: kit.csrfFor(interaction) },
  });
}

/** OpenID scopes in the words of the consent page. */
const scopeWords: Record<string, string> = {
  openid: 'Know who you are (your account identifier)',
  email: 'See your email address',
  profile: 'See your name and profile',
  roles: 'See the roles you hold in this organisation',
  offline_access: 'Keep this access when you are not using the app',
};

/**
 * The consent page (OIDC Core section 3.1.2.4): the application, then what it asks for in words a person
 * understands: each OpenID scope, and for each API it wants to call as the user, the API's name and each permission
 * (its description, with the permission itself beside it for those who know it).
 */
export async function renderConsent(
  kit: InteractionKit,
  ctx: Context,
  interaction: Interaction,
): Promise<void> {
  const details = interaction.prompt.details as {
    missingOIDCScope?: string[];
    missingResourceScopes?: Record<string, string[]>;
  };
  const apis = await Promise.all(
    Object.entries(details.missingResourceScopes ?? {}).map(async ([identifier, permissions]) => {
      const api = await kit.deps.apis.findApi(identifier);
      return {
        name: api?.name ?? identifier,
        identifier,
        permissions: permissions.map((permission) => ({
          permission,
          words: api?.descriptions[permission] ?? `Use the permission “${permission}”`,
        })),
      };
    }),
  );
  ctx.type = 'html';
  ctx.body = kit.deps.pages.render('consent', {
    title: 'Allow access',
    clientName: await kit.clientName(interaction),
    scopes: (details.missingOIDCScope ?? []).map((scope) => scopeWords[scope] ?? `Use “${scope}”`),
    apis,
    csrf: kit.csrfFor(interaction),
    action: kit.url(interaction, 'confirm'),
    abortAction: kit.url(interaction, 'abort'),
  });
}

/** Records what the user allowed in their grant and resumes the authorization. */
export async function grantAndFinish(
  kit: InteractionKit,
  ctx: Context,
  interaction: Interaction,
): Promise<void> {
  const grantId = await grantRequestedAccess(kit.deps.provider(), interaction);
  await kit.deps.audit.record('consent.granted', {
    accountId: interaction.session?.accountId,
    clientId: String(interaction.params.client_id),
    ip: ctx.ip,
    details: { scope: String(interaction.params.scope ?? '') },
  });
  return kit.finish(ctx, { consent: { grantId } }, true);
}

/** The consent step and the way out of any step ("Cancel" / "Deny"). */
export function registerConsentStep(router: Router, kit: InteractionKit): void {
  router.post('/confirm', async (ctx) => {
    const submitted = await kit.submission(ctx, csrfOnlyForm, 'consent');
    if (!submitted) return;
    return grantAndFinish(kit, ctx, submitted.interaction);
  });

  router.post('/abort', async (ctx) => {
    const submitted = await kit.submission(ctx, csrfOnlyForm);
    if (!submitted) return;
    await kit.state.clear(submitted.interaction.uid);
    return kit.finish(
      ctx,
      { error: 'access_denied', error_description: 'The user cancelled the sign-in.' },
      false,
    );
  });
}
