import { isFromThisMachine } from '../../../src/routes/dev-mailbox.ts';
import { createDevMailbox, createMailer, devMailboxWanted } from '../../../src/libraries/mailer.ts';
import { piecesOf } from '../../../src/routes/dev-mailbox.ts';

const issuer = 'http://localhost:3000';
const settings = { url: null, from: null, timeoutSeconds: 5, issuer, production: false };
const development = { production: false, smtp: { url: null, devMailbox: true }, cluster: { workers: 0 } };

describe('the development mailbox', () => {
  it('is wanted only outside production, without smtp.url, when turned on, in one process', () => {
    expect(devMailboxWanted(development)).toBe(true);
    expect(devMailboxWanted({ ...development, production: true })).toBe(false);
    expect(devMailboxWanted({ ...development, smtp: { url: 'smtp://127.0.0.1:25', devMailbox: true } })).toBe(
      false,
    );
    expect(devMailboxWanted({ ...development, smtp: { url: null, devMailbox: false } })).toBe(false);
    expect(devMailboxWanted({ ...development, cluster: { workers: 2 } })).toBe(false);
  });

  it('keeps the last 50 messages, newest first', async () => {
    const mailbox = createDevMailbox();
    const mailer = createMailer(settings, { warn: () => undefined }, { devMailbox: mailbox });
    for (let n = 0; n < 55; n++)
      await mailer.send('password-changed', `person${n}@example.com`, {
        email: 'x',
        site: 'y',
        how: 'z',
        when: 'w',
      });
    const messages = mailbox.messages();
    expect(messages).toHaveLength(50);
    expect(messages[0]!.to).toBe('person54@example.com');
    expect(messages.at(-1)!.to).toBe('person5@example.com');
  });

  it('logs where the message is and a hash of its recipient, never the link or the address', async () => {
    const lines: string[] = [];
    const log = {
      warn: () => undefined,
      info: (_fields: object, message: string) => void lines.push(message),
    };
    const mailbox = createDevMailbox();
    const mailer = createMailer(settings, log as never, { devMailbox: mailbox });
    const link = `${issuer}/invitation?token=${'a'.repeat(43)}`;
    expect(mailer.enabled).toBe(true);
    expect(
      await mailer.send('invitation', 'Ivy@Example.com', {
        email: 'Ivy@Example.com',
        site: 'localhost',
        link,
        validFor: '7 days',
      }),
    ).toBe(true);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      /^mail for [0-9a-f]{16} is in the development mailbox at http:\/\/localhost:3000\/dev\/mailbox$/,
    );
    expect(mailbox.messages()[0]!.text).toContain(link);
  });

  it('is never used in production, where mail without smtp.url stays off', async () => {
    const mailbox = createDevMailbox();
    const mailer = createMailer(
      { ...settings, production: true },
      { warn: () => undefined },
      { devMailbox: mailbox },
    );
    expect(mailer.enabled).toBe(false);
    expect(await mailer.send('password-changed', 'a@example.com', {})).toBe(false);
    expect(mailbox.messages()).toHaveLength(0);
  });

  it('shows the links on the issuer as links, and the rest as text', () => {
    const text = `Hello,\n\nOpen this link:\n\n${issuer}/password-reset?token=abc\n\nor https://evil.example/x`;
    expect(piecesOf(text, issuer)).toEqual([
      [{ text: 'Hello,' }],
      [{ text: 'Open' }, { text: ' ' }, { text: 'this' }, { text: ' ' }, { text: 'link:' }],
      [{ link: `${issuer}/password-reset?token=abc` }],
      [{ text: 'or' }, { text: ' ' }, { text: 'https://evil.example/x' }],
    ]);
  });

  it('shows its links to this machine only: a request from another address is not served (link theft)', () => {
    for (const address of ['127.0.0.1', '127.1.2.3', '::1', '::ffff:127.0.0.1'])
      expect([address, isFromThisMachine(address)]).toEqual([address, true]);
    for (const address of ['10.0.0.5', '192.168.1.2', '::ffff:10.0.0.5', 'fe80::1', '', undefined])
      expect([address, isFromThisMachine(address)]).toEqual([address, false]);
  });
});
