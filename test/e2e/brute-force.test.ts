import { createHttpBrowser, formAction, formField } from '../support/http-sign-in.ts';
import { startGatehouseProcess, type GatehouseProcess } from '../support/gatehouse-process.ts';

/**
 * Password guessing is limited across Gatehouse processes: failures through one count at the other (Redis), an
 * unknown email is limited the same way and looks the same, and an administrator's unlock lifts the lock.
 */
const user = { email: 'target@example.com', password: 'the real passphrase here' };
const lockAfter = 4;

describe('guessing passwords against two processes', () => {
  let first: GatehouseProcess;
  let second: GatehouseProcess;

  beforeAll(async () => {
    const throttle = {
      password: {
        perAccount: {
          maxFailures: lockAfter,
          windowSeconds: 900,
          lockSeconds: 900,
          freeFailures: 100,
          maxDelaySeconds: 1,
        },
        perIp: {
          maxFailures: 1000,
          windowSeconds: 900,
          lockSeconds: 900,
          freeFailures: 1000,
          maxDelaySeconds: 1,
        },
      },
    };
    first = await startGatehouseProcess({ config: { throttle } });
    second = await startGatehouseProcess({ reuse: first, env: { ISSUER: first.url }, config: { throttle } });
    await first.cli('user', 'create', '--email', user.email, '--password', user.password);
    await first.cli(
      'client',
      'create',
      '--id',
      'app',
      '--secret',
      'app-secret-0123456789',
      '--redirect-uri',
      'http://127.0.0.1:9/cb',
    );
  }, 120_000);

  afterAll(async () => {
    await second?.stop();
    await first?.cleanup();
  });

  /** One password attempt through a process's real login form. */
  async function attempt(process: GatehouseProcess, email: string, password: string) {
    const browser = createHttpBrowser();
    const params = new URLSearchParams({
      client_id: 'app',
      response_type: 'code',
      scope: 'openid',
      redirect_uri: 'http://127.0.0.1:9/cb',
      code_challenge: 'c'.repeat(43),
      code_challenge_method: 'S256',
    });
    const start = await browser.get(`${process.url}/auth?${params}`);
    const html = await (await browser.get(new URL(start.headers.get('location')!, process.url).href)).text();
    const response = await browser.post(new URL(formAction(html, '/login'), process.url).href, {
      csrf: formField(html, 'csrf'),
      email,
      password,
    });
    const text = response.status === 303 ? '' : await response.text();
    return {
      status: response.status,
      message: /<p class="error" role="alert"[^>]*>([^<]*)<\/p>/.exec(text)?.[1] ?? '',
    };
  }

  it('locks an account after failures spread over both processes, and keeps it locked on both', async () => {
    for (let i = 0; i < lockAfter; i += 1) {
      const result = await attempt(i % 2 === 0 ? first : second, user.email, `wrong guess number ${i}`);
      expect(result).toEqual({ status: 200, message: 'Wrong email or password.' });
    }
    for (const process of [first, second]) {
      const locked = await attempt(process, user.email, user.password);
      expect(locked.status).toBe(429);
      expect(locked.message).toMatch(/^Too many failed attempts: locked for \d+ minute\(s\)\.$/);
    }
  });

  it('limits guesses at an unknown email the same way, with the same answers', async () => {
    const answers = [];
    for (let i = 0; i <= lockAfter; i += 1)
      answers.push(
        await attempt(i % 2 === 0 ? second : first, 'nobody-here@example.com', `guess ${i} passphrase`),
      );
    expect(answers.slice(0, lockAfter).every((answer) => answer.message === 'Wrong email or password.')).toBe(
      true,
    );
    expect(answers[lockAfter]).toEqual({
      status: 429,
      message: expect.stringMatching(/^Too many failed attempts: locked for/),
    });
  });

  it('lets the user in again once an administrator unlocks the account, and audits it all', async () => {
    const unlocked = await first.cli('user', 'unlock', '--email', user.email, '--json');
    expect(unlocked.json()).toEqual({ email: user.email, unlocked: true, queued: false });
    expect((await attempt(second, user.email, user.password)).status).toBe(303);
    const events = (await first.cli('audit', '--since', '10m', '--email', user.email, '--json'))
      .json<{ type: string }[]>()
      .map((event) => event.type);
    expect(events.filter((type) => type === 'signin.failed')).toHaveLength(lockAfter);
    expect(events).toEqual(expect.arrayContaining(['signin.locked', 'account.unlocked', 'signin.succeeded']));
  });
});
