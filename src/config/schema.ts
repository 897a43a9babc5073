import { z } from 'zod';

/**
 * The one configuration schema. Every key carries a description; `config/default.json` holds the documented
 * defaults and a unit test keeps the two in step. Secrets never live in files: they come from the environment.
 */
const seconds = (description: string) => z.number().int().positive().describe(description);

const throttlePolicy = (what: string) =>
  z
    .object({
      maxFailures: z
        .number()
        .int()
        .positive()
        .describe(`Failed ${what} within the window that lock the key.`),
      windowSeconds: seconds('How long failures are remembered.'),
      lockSeconds: seconds('How long a lock lasts (an administrator can lift it earlier).'),
      freeFailures: z
        .number()
        .int()
        .min(0)
        .describe('Failures before delays start; each further one doubles the wait.'),
      maxDelaySeconds: seconds('Longest delay between attempts before the lock.'),
    })
    .describe(`Guessing protection for ${what}.`);

export const configSchema = z
  .object({
    production: z
      .boolean()
      .describe('Production mode (NODE_ENV=production): refuses insecure defaults instead of warning.'),
    port: z.number().int().min(0).max(65535).describe('TCP port the HTTP server listens on (env PORT).'),
    host: z
      .string()
      .regex(/^[\w.:%-]+$/, 'expected an IP address or a host name (IPv6 without brackets)')
      .nullable()
      .describe(
        'Address the HTTP server listens on (env HOST), e.g. 0.0.0.0, :: or ::1. Unset: 127.0.0.1 outside ' +
          'production (a development server is not reachable from the network), every interface in production.',
      ),
    issuer: z
      .url({ protocol: /^https?$/ })
      .nullable()
      .describe('Issuer identifier and public base URL (env ISSUER). Default http://localhost:$PORT.'),
    databaseUrl: z
      .string()
      .nullable()
      .describe('PostgreSQL connection URL (env DATABASE_URL). Unset: embedded PGlite under dataDir.'),
    redisUrl: z
      .string()
      .nullable()
      .describe(
        'Redis URL (env REDIS_URL); a database index such as /15 is honoured. Unset: in-memory store.',
      ),
    redisCluster: z
      .object({
        nodes: z
          .array(z.string().regex(/^[^:\s]+:\d{1,5}$/, 'expected host:port'))
          .min(1)
          .describe('Seed nodes, host:port.'),
        password: z.string().optional().describe('AUTH password of the cluster nodes.'),
      })
      .nullable()
      .describe('Redis Cluster instead of REDIS_URL (every key Gatehouse writes carries a hash tag).'),
    redisSentinel: z
      .object({
        name: z.string().min(1).describe('Name of the monitored master.'),
        sentinels: z
          .array(z.string().regex(/^[^:\s]+:\d{1,5}$/, 'expected host:port'))
          .min(1)
          .describe('Sentinels, host:port.'),
        password: z.string().optional().describe('AUTH password of the Redis servers.'),
        db: z.number().int().min(0).max(15).optional().describe('Database index.'),
      })
      .nullable()
      .describe('Redis behind Sentinel (automatic failover) instead of REDIS_URL.'),
    redisKeyPrefix: z
      .string()
      .min(1)
      .max(64)
      .describe('Prefix of every Redis key Gatehouse writes, so several deployments can share one Redis.'),
    secret: z
      .string()
      .min(32, 'must be at least 32 characters')
      .nullable()
      .describe(
        'Root secret (env GATEHOUSE_SECRET): cookie signing keys and the at-rest encryption key are derived ' +
          'from it. Unset outside production: a random secret is generated once under dataDir.',
      ),
    previousSecrets: z
      .array(z.string().min(32, 'must be at least 32 characters'))
      .max(5)
      .describe(
        'Earlier root secrets (env GATEHOUSE_PREVIOUS_SECRETS, comma-separated) during a secret rotation: values ' +
          'sealed and cookies signed under them stay readable until `gatehouse secrets reencrypt` has run.',
      ),
    dataDir: z.string().min(1).describe('Directory for embedded Postgres data and the development secret.'),
    logLevel: z
      .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
      .describe('pino log level (env LOG_LEVEL).'),
    logFormat: z
      .enum(['auto', 'json', 'pretty'])
      .default('auto')
      .describe(
        'Log lines as JSON (one object a line, for collectors) or pretty (coloured, for a terminal); auto: pretty ' +
          'only outside production with a terminal on stdout (env LOG_FORMAT).',
      ),
    trustProxy: z
      .union([
        z.boolean(),
        z.number().int().min(1).max(10),
        z
          .array(
            z
              .string()
              .regex(/^[0-9A-Fa-f:.]+(\/\d{1,3})?$/, 'an IP address or CIDR block (10.0.0.0/8, fd00::/8)'),
          )
          .min(1),
      ])
      .describe(
        'Which proxies in front of Gatehouse may set X-Forwarded-For/-Proto: false (none), a number of hops (the ' +
          'client address is that many entries from the right of X-Forwarded-For; true means 1), or a list of ' +
          'proxy addresses and CIDR blocks (the client is the first untrusted hop from the right). The host is ' +
          'always the issuer’s, whatever Host or X-Forwarded-Host say.',
      ),
    seedDemo: z
      .boolean()
      .describe(
        'With embedded storage (no DATABASE_URL) outside production, seed a demo user and a demo client when ' +
          'the database has no accounts. Never with DATABASE_URL: the demo password is public.',
      ),
    bootstrapAdmin: z
      .object({
        email: z
          .email()
          .nullable()
          .describe('Email of the first administrator (env GATEHOUSE_BOOTSTRAP_ADMIN_EMAIL).'),
        passwordFile: z
          .string()
          .min(1)
          .nullable()
          .describe(
            'File holding its password, such as a Docker secret (env GATEHOUSE_BOOTSTRAP_ADMIN_PASSWORD_FILE); ' +
              'a trailing newline is dropped. The password itself never goes in the environment or a config file.',
          ),
      })
      .describe(
        'At start, while no account holds the admin role, create this account (email verified) with role ' +
          'admin. Both keys or neither; once an administrator exists they change nothing.',
      ),
    http: z
      .object({
        bodyLimitBytes: z
          .number()
          .int()
          .positive()
          .describe('Largest request body accepted on Gatehouse routes.'),
        shutdownGraceMs: z
          .number()
          .int()
          .positive()
          .describe('On SIGTERM, how long requests in flight may take before the process exits.'),
      })
      .describe('HTTP server limits.'),
    ttl: z
      .object({
        accessToken: seconds('Lifetime of access tokens issued to users.'),
        clientCredentials: seconds('Lifetime of client_credentials access tokens.'),
        authorizationCode: seconds('Lifetime of authorization codes.'),
        idToken: seconds('Lifetime of ID tokens.'),
        refreshToken: seconds('Absolute lifetime of a refresh token chain.'),
        grant: seconds('Lifetime of a grant (what a user allowed a client).'),
        interaction: seconds('How long a sign-in page stays valid.'),
        session: seconds('Absolute lifetime of a browser session (from sign-in).'),
        sessionIdle: seconds(
          'A browser session unused this long ends (each request through it restarts the clock).',
        ),
        deviceCode: seconds('Lifetime of device authorization codes (RFC 8628).'),
      })
      .describe('Token and session lifetimes, in seconds.'),
    refreshToken: z
      .object({
        reuseGraceSeconds: z
          .number()
          .int()
          .min(0)
          .max(10)
          .describe(
            'A rotated refresh token presented again within this many seconds (a concurrent refresh) is ' +
              'answered instead of revoking the grant. 0 disables the grace.',
          ),
      })
      .describe('Refresh token rotation.'),
    configCache: z
      .object({
        pollMs: z
          .number()
          .int()
          .min(50)
          .max(10_000)
          .describe(
            'How often each process checks whether clients, APIs, roles or accounts changed elsewhere (the CLI, ' +
              'another instance); the longest such a change can go unseen.',
          ),
        maxAgeMs: z
          .number()
          .int()
          .positive()
          .describe('Cached configuration is read again after this long whatever happens.'),
      })
      .describe('Per-process cache of configuration read on every token request.'),
    argon2: z
      .object({
        memoryCost: z.number().int().min(19456).describe('argon2id memory in KiB (OWASP minimum 19456).'),
        timeCost: z.number().int().min(2).describe('argon2id iterations (OWASP minimum 2 at 19 MiB).'),
        parallelism: z.number().int().min(1).max(16).describe('argon2id lanes.'),
      })
      .describe('Password hashing parameters.'),
    cluster: z
      .object({
        workers: z
          .number()
          .int()
          .min(0)
          .max(256)
          .describe(
            'Worker processes (node:cluster) sharing the port. 0: one per core in production, one otherwise. More than ' +
              'one needs DATABASE_URL and REDIS_URL (embedded storage serves one process).',
          ),
      })
      .describe('Processes on one host.'),
    outgoing: z
      .object({
        allowHosts: z
          .array(z.string().min(1))
          .describe(
            'host:port pairs on loopback or private addresses Gatehouse may call in production (SSRF guard).',
          ),
        backchannelRetryDelaysSeconds: z
          .array(z.number().int().min(0).max(3600))
          .max(10)
          .describe('Waits between back-channel logout delivery attempts; their count bounds the retries.'),
      })
      .describe('Requests Gatehouse makes to other servers.'),
    throttle: z
      .object({
        password: z
          .object({
            perAccount: throttlePolicy('password sign-ins per account'),
            perIp: throttlePolicy('password sign-ins per IP address'),
          })
          .describe('Password sign-in limits.'),
        secondFactor: z
          .object({
            perAccount: throttlePolicy('second-factor codes per account'),
            perIp: throttlePolicy('second-factor codes per IP address'),
          })
          .describe('Second-factor code limits.'),
        clientAuthentication: z
          .object({
            perClient: throttlePolicy('client authentications per client and IP address'),
            perIp: throttlePolicy('client authentications per IP address'),
          })
          .describe(
            'Limits on guessing client secrets at the token, introspection and revocation endpoints.',
          ),
        passwordReset: z
          .object({
            perAddress: throttlePolicy('password reset requests per email address'),
            perIp: throttlePolicy('password reset requests per IP address'),
          })
          .describe(
            'Limits on "Forgot password?" requests (every request counts, whether or not the address has an account).',
          ),
        emailChange: throttlePolicy('requests to change the address, per account (on the account page)'),
        emailCode: z
          .object({
            perAddress: throttlePolicy('sign-in code requests per email address'),
            perIp: throttlePolicy('sign-in code requests per IP address'),
            guesses: throttlePolicy('wrong sign-in codes per email address'),
          })
          .describe(
            'Limits on sign-in codes by email: asking for one (every request counts), and guessing one.',
          ),
        signUp: z
          .object({
            perAddress: throttlePolicy('sign-up requests per email address'),
            perIp: throttlePolicy('sign-up requests per IP address'),
          })
          .describe(
            'Limits on "Create an account" requests (every request counts, whether or not the address has an account).',
          ),
      })
      .describe('Limits on guessing, shared by every process through Redis.'),
    passwords: z
      .object({
        minLength: z
          .number()
          .int()
          .min(8)
          .max(64)
          .describe('Minimum length without a second factor (NIST SP 800-63B: 15).'),
        minLengthWithMfa: z
          .number()
          .int()
          .min(8)
          .max(64)
          .describe('Minimum length with a second factor (NIST: 8).'),
        maxLength: z.number().int().min(64).max(1024).describe('Maximum length (NIST: at least 64).'),
      })
      .describe(
        'Password rules; a list of common and breached passwords (config/common-passwords.txt) applies too.',
      ),
    metrics: z
      .object({
        token: z
          .string()
          .min(32, 'must be at least 32 characters')
          .nullable()
          .describe(
            'Bearer token that `GET /metrics` requires (env GATEHOUSE_METRICS_TOKEN), compared in constant time; ' +
              'Prometheus sends it with `authorization: { credentials_file: ... }`. Unset: /metrics is open ' +
              'outside production and not served at all (404) in production.',
          ),
      })
      .describe('Prometheus metrics at GET /metrics on the public port.'),
    smtp: z
      .object({
        url: z
          .string()
          .regex(/^smtps?:\/\/[^\s]+$/, 'expected smtp://user:pass@host:587 or smtps://user:pass@host:465')
          .nullable()
          .describe(
            'SMTP server Gatehouse sends mail through (env GATEHOUSE_SMTP_URL), e.g. smtp://user:pass@host:587 ' +
              '(STARTTLS when the server offers it) or smtps://user:pass@host:465 (TLS from the start). Unset: ' +
              'no mail is sent, and what needs mail (password reset, address verification) is off.',
          ),
        from: z
          .string()
          .min(3)
          .max(320)
          .nullable()
          .describe(
            'The From of every message, e.g. "Example <no-reply@example.com>". Unset: gatehouse@<issuer host>.',
          ),
        timeoutSeconds: seconds('How long one delivery may take (connect, greeting, each exchange).'),
        devMailbox: z
          .boolean()
          .default(true)
          .describe(
            'Outside production, with no smtp.url and one process: keep the last 50 messages in memory and show ' +
              'them at GET /dev/mailbox (reset, verification and invitation links can be followed without an SMTP ' +
              'server). Never in production (the page does not exist there) nor in the CLI.',
          ),
      })
      .describe('Outgoing mail (nodemailer over SMTP).'),
    passwordReset: z
      .object({
        tokenSeconds: seconds('How long a password reset link stays valid (it works once).'),
      })
      .describe('"Forgot password?" on the login page (needs smtp.url).'),
    emailVerification: z
      .object({
        tokenSeconds: seconds('How long an address verification link stays valid (it works once).'),
      })
      .describe('Verifying that an account owns its email address (needs smtp.url).'),
    invitations: z
      .object({
        tokenSeconds: seconds(
          'How long an invitation link stays valid (it works once): the invitee sets a password with it.',
        ),
      })
      .describe('Inviting a person by email (`gatehouse user invite`; needs smtp.url).'),
    emailCode: z
      .object({
        enabled: z
          .boolean()
          .default(false)
          .describe(
            'Sign-in with a one-time code by email: "Email me a sign-in code" on the login page (env ' +
              'GATEHOUSE__EMAIL_CODE__ENABLED). Needs smtp.url or the development mailbox.',
          ),
        clients: z
          .array(z.string().min(1).max(200))
          .nullable()
          .default(null)
          .describe('The client ids whose login page offers it; null: every client.'),
        codeSeconds: seconds('How long a sign-in code stays valid (it works once).'),
      })
      .describe('One-time sign-in codes by email (off by default).'),
    signUp: z
      .object({
        enabled: z
          .boolean()
          .default(false)
          .describe(
            'Self-service sign-up: "Create an account" on the login page (env GATEHOUSE__SIGN_UP__ENABLED). The ' +
              'account exists only once its address is confirmed by a mailed link; needs smtp.url (production ' +
              'refuses to start without it) or the development mailbox.',
          ),
        tokenSeconds: seconds('How long a sign-up confirmation link stays valid (it works once).'),
      })
      .describe('People creating their own account (off by default).'),
    keys: z
      .object({
        algorithms: z
          .array(z.enum(['RS256', 'ES256', 'EdDSA']))
          .min(1)
          .refine((algs) => algs.includes('RS256'), 'must include RS256 (required by OpenID Connect)')
          .describe('Signing algorithms Gatehouse keeps a key for.'),
        accessTokenAlg: z
          .enum(['RS256', 'ES256', 'EdDSA'])
          .describe('Algorithm of JWT access tokens (RFC 9068); ES256 is several times cheaper than RS256.'),
        publishBeforeUseSeconds: z
          .number()
          .int()
          .min(0)
          .describe('`keys rotate` publishes the next key in JWKS this long before signing with it.'),
        refreshSeconds: seconds('How often a running server re-reads signing keys (to pick up rotation).'),
      })
      .describe('Signing keys.'),
  })
  .strict();

export type Config = z.infer<typeof configSchema>;
