import type { Configuration, KoaContextWithOIDC } from 'oidc-provider';
import type { PageRenderer } from '../libraries/page-renderer.ts';
import { deviceInfoOf, userCodeOfError } from './provider-internals.ts';

/** The shape of user codes (RFC 8628 section 6.1): 8 characters of base-20, about 34.5 bits of entropy. */
export const userCodeMask = '****-****';

/** Stored user codes are normalised (no separators); people see them in the mask's shape. */
export function formatUserCode(normalized: string, mask = userCodeMask): string {
  let position = 0;
  return [...mask].map((symbol) => (symbol === '*' ? (normalized[position++] ?? '') : symbol)).join('');
}

type DeviceFlow = NonNullable<NonNullable<Configuration['features']>['deviceFlow']>;

/** The action and hidden fields of a form oidc-provider prepared, to render it with Gatehouse's own markup. */
function formParts(form: string): { action: string; xsrf: string } {
  const action = /action="([^"]*)"/.exec(form)?.[1] ?? '';
  const xsrf = /name="xsrf" value="([^"]*)"/.exec(form)?.[1] ?? '';
  return { action, xsrf };
}

const decode = (value: string) =>
  value
    .replaceAll('&quot;', '"')
    .replaceAll('&#39;', "'")
    .replaceAll('&lt;', '<')
    .replaceAll('&gt;', '>')
    .replaceAll('&amp;', '&');

/**
 * Pages of the device authorization grant (RFC 8628) for command-line tools: enter the code shown on the device
 * (`user_code`), sign in as usual, then confirm (or cancel) with the code on screen.
 */
export function createDeviceFlowPages(
  pages: PageRenderer,
): Pick<DeviceFlow, 'userCodeInputSource' | 'userCodeConfirmSource' | 'successSource'> {
  const clientName = (ctx: KoaContextWithOIDC) => ctx.oidc.client?.clientName ?? ctx.oidc.client?.clientId;
  return {
    async userCodeInputSource(ctx, form, _out, error) {
      const { action, xsrf } = formParts(form);
      let message: string | undefined;
      if (error && (userCodeOfError(error) || error.name === 'NoCodeError'))
        message = 'That code is not valid or has expired. Check the code on your device.';
      else if (error?.name === 'AbortedError') message = 'The sign-in on the device was cancelled.';
      else if (error) message = 'Something went wrong with that code. Start again on your device.';
      ctx.type = 'html';
      ctx.body = pages.render('device-input', {
        title: 'Sign in a device',
        action: decode(action),
        xsrf: decode(xsrf),
        userCode: userCodeOfError(error) ?? '',
        error: message,
      });
    },
    async userCodeConfirmSource(ctx, form, client, deviceInfo, userCode) {
      const { action, xsrf } = formParts(form);
      ctx.type = 'html';
      ctx.body = pages.render('device-confirm', {
        title: 'Confirm the device',
        clientName: client.clientName ?? client.clientId,
        userCode,
        device: deviceInfoOf(deviceInfo),
        action: decode(action),
        fields: { xsrf: decode(xsrf), user_code: userCode },
      });
    },
    async successSource(ctx) {
      ctx.type = 'html';
      ctx.body = pages.render('device-success', { title: 'Device signed in', clientName: clientName(ctx) });
    },
  };
}
