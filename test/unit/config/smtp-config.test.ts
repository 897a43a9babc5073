import { loadConfig } from '../../../src/config/load-config.ts';
import { describeDuration } from '../../../src/libraries/email-tokens.ts';
import { createMailer, recipientHash, senderOf } from '../../../src/libraries/mailer.ts';

describe('mail configuration', () => {
  it('leaves mail off by default, and with it everything that needs mail', async () => {
    const config = loadConfig({});
    expect(config.smtp.url).toBeNull();
    const warnings: unknown[] = [];
    const mailer = createMailer(
      { ...config.smtp, issuer: config.issuer, production: false },
      { warn: (object: unknown) => void warnings.push(object) },
    );
    expect(mailer.enabled).toBe(false);
    await expect(mailer.send('password-reset', 'a@example.com', { link: 'secret link' })).resolves.toBe(
      false,
    );
    expect(JSON.stringify(warnings)).not.toContain('secret link');
  });

  it('takes the SMTP server from GATEHOUSE_SMTP_URL', () => {
    expect(loadConfig({ GATEHOUSE_SMTP_URL: 'smtps://user:pass@mail.example.com:465' }).smtp.url).toBe(
      'smtps://user:pass@mail.example.com:465',
    );
  });

  it('refuses an SMTP URL of another scheme, naming the key', () => {
    expect(() => loadConfig({ GATEHOUSE_SMTP_URL: 'http://mail.example.com' })).toThrow(
      /config key "smtp.url"/,
    );
  });

  it('sends from smtp.from, else from gatehouse@ the issuer host', () => {
    expect(senderOf({ from: null, issuer: 'https://id.example.com:8443' })).toBe(
      'Gatehouse <gatehouse@id.example.com>',
    );
    expect(senderOf({ from: 'Example <no-reply@example.com>', issuer: 'https://id.example.com' })).toBe(
      'Example <no-reply@example.com>',
    );
  });

  it('logs a hash of an address, the same for any case, never the address', () => {
    expect(recipientHash('Ada@Example.com')).toBe(recipientHash('ada@example.com'));
    expect(recipientHash('ada@example.com')).not.toContain('ada');
  });

  it('says how long a link works in words', () => {
    expect(describeDuration(1800)).toBe('30 minutes');
    expect(describeDuration(259_200)).toBe('3 days');
    expect(describeDuration(3600)).toBe('1 hour');
    expect(describeDuration(20)).toBe('20 seconds');
  });
});
