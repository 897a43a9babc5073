import type { Command } from 'commander';
import type { CliContext } from './cli-context.ts';
import { invalidRequest, notFound } from '../errors/app-error.ts';
import { collect, parseAttributes, secretOption, stdinHelp, table } from './options.ts';

export function registerUserCommands(program: Command, context: () => CliContext): void {
  const user = program.command('user').description('manage user accounts');

  user
    .command('create')
    .description('create an account with a password')
    .requiredOption('--email <email>', 'email address (unique, case-insensitive)')
    .option('--password <password>', 'password (or --password-stdin; one of the two is required)')
    .option('--password-stdin', stdinHelp('password'))
    .option('--name <name>', 'display name')
    .option('--role <role>', 'role to assign (repeatable)', collect, [])
    .option(
      '--email-verified',
      'the address is known to belong to the user (released as email_verified: true)',
    )
    .option(
      '--id <sub>',
      'the account id (its sub; default a new UUID): a UUID, or an id with a character no client id has, such as | or : (e.g. auth0|5f7c8ec7)',
    )
    .option(
      '--attribute <name=value>',
      'custom attribute for policies (repeatable): NAME=VALUE sets a string, NAME:=JSON a typed value (tier:=3)',
      collect,
      [],
    )
    .action(
      async (options: {
        email: string;
        password?: string;
        passwordStdin?: boolean;
        name?: string;
        role: string[];
        emailVerified?: boolean;
        id?: string;
        attribute: string[];
      }) => {
        const attributes = parseAttributes(options.attribute);
        const password = await secretOption(
          { value: options.password, stdin: options.passwordStdin },
          { option: '--password', stdinOption: '--password-stdin', what: 'password' },
        );
        if (password === undefined)
          throw invalidRequest("required option '--password <password>' or '--password-stdin' not specified");
        const cli = context();
        const account = await cli.withRuntime(({ libraries }) =>
          libraries.accounts.createWithRoles({
            email: options.email,
            password,
            name: options.name,
            emailVerified: options.emailVerified === true,
            roles: options.role,
            id: options.id,
            attributes,
          }),
        );
        // The roles as given on the command line (the contract's output; the account holds each of them).
        cli.print(
          {
            id: account.id,
            email: account.email,
            name: account.name,
            roles: options.role,
            attributes: account.attributes,
          },
          `created user ${account.email} (${account.id})`,
        );
      },
    );

  user
    .command('update')
    .description("change an account's display name or custom attributes")
    .requiredOption('--email <email>', 'account email')
    .option('--name <name>', 'display name ("" removes it)')
    .option(
      '--attribute <name=value>',
      'set an attribute (repeatable): NAME=VALUE sets a string, NAME:=JSON a typed value (tier:=3)',
      collect,
      [],
    )
    .option('--remove-attribute <name>', 'remove an attribute (repeatable)', collect, [])
    .action(
      async (options: { email: string; name?: string; attribute: string[]; removeAttribute: string[] }) => {
        const set = parseAttributes(options.attribute);
        const cli = context();
        const account = await cli.withRuntime(async ({ libraries }) => {
          const before = await libraries.accounts.getByEmail(options.email);
          let after = before;
          if (options.attribute.length > 0 || options.removeAttribute.length > 0)
            after = await libraries.accounts.updateAttributes(before.id, set, options.removeAttribute);
          if (options.name !== undefined)
            after = await libraries.accounts.update(before.id, {
              name: options.name === '' ? null : options.name,
            });
          await libraries.audit.record('directory.changed', {
            accountId: after.id,
            actor: 'cli',
            details: {
              action: 'user.update',
              before: { name: before.name, attributes: before.attributes },
              after: { name: after.name, attributes: after.attributes },
            },
          });
          return after;
        });
        cli.print(
          { id: account.id, email: account.email, name: account.name, attributes: account.attributes },
          `${account.email} (name: ${account.name ?? '(none)'}) has attributes: ${JSON.stringify(account.attributes)}`,
        );
      },
    );

  // The lifecycle of an account (issue 17): the use cases the admin API and the console share.
  user
    .command('disable')
    .description(
      'disable an account: it can no longer sign in; its sessions end and its grants (refresh and access tokens) are revoked',
    )
    .requiredOption('--email <email>', 'account email')
    .action(async (options: { email: string }) => {
      const cli = context();
      const account = await cli.withRuntime(async ({ libraries }) =>
        libraries.lifecycle.disableUser((await libraries.accounts.getByEmail(options.email)).id, 'cli'),
      );
      cli.print(
        { id: account.id, email: account.email, status: account.status },
        `disabled ${account.email}; its refresh tokens are revoked and the running Gatehouse ends its sessions`,
      );
    });

  user
    .command('enable')
    .description('enable a disabled account again')
    .requiredOption('--email <email>', 'account email')
    .action(async (options: { email: string }) => {
      const cli = context();
      const account = await cli.withRuntime(async ({ libraries }) =>
        libraries.lifecycle.enableUser((await libraries.accounts.getByEmail(options.email)).id, 'cli'),
      );
      cli.print({ id: account.id, email: account.email, status: account.status }, `enabled ${account.email}`);
    });

  user
    .command('delete')
    .description(
      'delete an account, after ending its sessions and revoking its grants; its roles, groups, factors and links go with it',
    )
    .requiredOption('--email <email>', 'account email')
    .action(async (options: { email: string }) => {
      const cli = context();
      const id = await cli.withRuntime(async ({ libraries }) => {
        const account = await libraries.accounts.getByEmail(options.email);
        await libraries.lifecycle.deleteUser(account.id, 'cli');
        return account.id;
      });
      cli.print({ id, email: options.email, deleted: true }, `deleted ${options.email} (${id})`);
    });

  user
    .command('set-password')
    .description("set an account's password (read from standard input, never from the command line)")
    .requiredOption('--email <email>', 'account email')
    .requiredOption('--password-stdin', stdinHelp('new password'))
    .action(async (options: { email: string; passwordStdin: boolean }) => {
      const password = await secretOption(
        { value: undefined, stdin: options.passwordStdin },
        { option: '--password', stdinOption: '--password-stdin', what: 'password' },
      );
      if (password === undefined) throw invalidRequest("required option '--password-stdin' not specified");
      const cli = context();
      await cli.withRuntime(async ({ libraries }) =>
        libraries.lifecycle.setUserPassword(
          (await libraries.accounts.getByEmail(options.email)).id,
          password,
          'cli',
        ),
      );
      cli.print({ email: options.email, passwordSet: true }, `set the password of ${options.email}`);
    });

  for (const [name, verb] of [
    ['grant', 'give an account a permission directly (not through a role or group)'],
    ['revoke', 'take away a permission the account holds directly'],
  ] as const) {
    user
      .command(name)
      .description(verb)
      .requiredOption('--email <email>', 'account email')
      .requiredOption('--permission <permission>', 'the permission')
      .action(async (options: { email: string; permission: string }) => {
        const cli = context();
        const held = await cli.withRuntime(async ({ libraries }) => {
          const account = await libraries.accounts.getByEmail(options.email);
          if (name === 'grant') await libraries.rbac.grantToAccount(account.id, options.permission);
          else await libraries.rbac.revokeFromAccount(account.id, options.permission);
          await libraries.audit.record('directory.changed', {
            accountId: account.id,
            actor: 'cli',
            details: { action: `user.${name}`, permission: options.permission },
          });
          return libraries.rbac.directPermissionsOfAccount(account.id);
        });
        cli.print(
          { email: options.email, permission: options.permission, permissions: held },
          `${options.email} ${name === 'grant' ? 'now holds' : 'no longer holds'} ${options.permission} directly (direct permissions: ${held.join(' ') || '(none)'})`,
        );
      });
  }

  user
    .command('list')
    .description('list accounts')
    .action(async () => {
      const cli = context();
      const accounts = await cli.withRuntime(({ libraries }) => libraries.accounts.list());
      cli.print(
        accounts.map((account) => ({
          id: account.id,
          email: account.email,
          name: account.name,
          status: account.status,
        })),
        table([
          ['ID', 'EMAIL', 'NAME', 'STATUS'],
          ...accounts.map((account) => [account.id, account.email, account.name ?? '', account.status]),
        ]),
      );
    });

  user
    .command('enroll-totp')
    .description(
      'set up a TOTP authenticator for an account (provisioning); prints the secret and recovery codes',
    )
    .requiredOption('--email <email>', 'account email')
    .action(async (options: { email: string }) => {
      const cli = context();
      const enrollment = await cli.withRuntime(async ({ libraries }) => {
        const account = await libraries.accounts.getByEmail(options.email);
        const provisioned = await libraries.mfa.provision(account);
        await libraries.audit.record('mfa.enrolled', {
          accountId: account.id,
          actor: 'cli',
          details: { during: 'provisioning' },
        });
        return provisioned;
      });
      cli.print(
        {
          secret: enrollment.secret,
          otpauth_uri: enrollment.otpauthUri,
          recovery_codes: enrollment.recoveryCodes,
        },
        [
          `secret:      ${enrollment.secret}`,
          `otpauth URI: ${enrollment.otpauthUri}`,
          `recovery codes: ${enrollment.recoveryCodes.join(' ')}`,
        ].join('\n'),
      );
    });

  user
    .command('reset-mfa')
    .description(
      "remove an account's authenticator app and recovery codes, and with --passkeys its passkeys (recorded in the audit log)",
    )
    .requiredOption('--email <email>', 'account email')
    .option('--passkeys', 'also remove every passkey (a lost device)', false)
    .action(async (options: { email: string; passkeys: boolean }) => {
      const cli = context();
      const { removed, passkeys } = await cli.withRuntime(async ({ libraries }) => {
        const account = await libraries.accounts.getByEmail(options.email);
        const reset = await libraries.mfa.reset(account.id);
        const removedPasskeys = options.passkeys ? await libraries.mfa.removePasskeys(account.id) : 0;
        if (reset || removedPasskeys > 0)
          await libraries.audit.record('mfa.removed', {
            accountId: account.id,
            actor: 'cli',
            ...(removedPasskeys > 0 ? { details: { passkeys: removedPasskeys } } : {}),
          });
        return { removed: reset || removedPasskeys > 0, passkeys: removedPasskeys };
      });
      cli.print(
        { email: options.email, removed, ...(options.passkeys ? { passkeys } : {}) },
        removed
          ? `removed the second factor of ${options.email}${passkeys > 0 ? ` and ${passkeys} passkey(s)` : ''}`
          : `${options.email} had no second factor`,
      );
    });

  user
    .command('sessions')
    .description("list an account's active sessions and the apps it granted")
    .requiredOption('--email <email>', 'account email')
    .action(async (options: { email: string }) => {
      const cli = context();
      const { sessions, grants } = await cli.withRuntime(async ({ libraries }) => {
        const account = await libraries.accounts.getByEmail(options.email);
        return {
          sessions: await libraries.sessionLedger.listSessions(account.id),
          grants: await libraries.sessionLedger.listGrants(account.id),
        };
      });
      cli.print(
        { email: options.email, sessions, grants },
        [
          table([
            ['SESSION', 'IP', 'LAST SEEN', 'APPS'],
            ...sessions.map((s) => [s.id, s.ip ?? '', s.lastSeenAt, s.clients.join(' ')]),
          ]),
          '',
          table([['GRANT', 'APP', 'SCOPE'], ...grants.map((g) => [g.grantId, g.clientId, g.scope])]),
        ].join('\n'),
      );
    });

  user
    .command('sign-out-everywhere')
    .description('end every session of an account and revoke every app grant (refresh and access tokens)')
    .requiredOption('--email <email>', 'account email')
    .action(async (options: { email: string }) => {
      const cli = context();
      const outcome = await cli.withRuntime(async ({ libraries }) => {
        const account = await libraries.accounts.getByEmail(options.email);
        // Sessions live in the running servers' store (Redis or their memory): they carry the sign-out out.
        const id = await libraries.sessionLedger.request('sign-out-everywhere', account.id, 'cli');
        return { id, result: await libraries.sessionLedger.waitFor(id, 5000) };
      });
      cli.print(
        { email: options.email, queued: outcome.result === undefined, ...outcome.result },
        outcome.result
          ? `signed ${options.email} out of ${String(outcome.result.sessions)} session(s); revoked ${String(outcome.result.grants)} grant(s)`
          : `queued: the next running Gatehouse signs ${options.email} out everywhere`,
      );
    });

  user
    .command('send-verification')
    .description("mail the account's address a link that verifies it (email_verified); needs smtp.url")
    .requiredOption('--email <email>', 'account email')
    .action(async (options: { email: string }) => {
      const cli = context();
      const outcome = await cli.withRuntime(async ({ libraries }) => {
        const account = await libraries.accounts.getByEmail(options.email);
        return libraries.emailVerification.send(account, 'cli');
      });
      const human: Record<typeof outcome, string> = {
        sent: `sent a verification link to ${options.email}`,
        send_failed: `the verification link to ${options.email} could not be sent (see the log)`,
        already_verified: `${options.email} is already verified`,
        no_address: 'this account has no address to verify (it signs in through an upstream provider)',
        mail_off: 'mail is off: set smtp.url (env GATEHOUSE_SMTP_URL) to send verification links',
      };
      cli.print({ email: options.email, outcome }, human[outcome]);
      // Nothing was sent: a failure for scripts (exit 1), unless there was nothing to do.
      if (outcome === 'send_failed' || outcome === 'mail_off') process.exitCode = 1;
    });

  user
    .command('send-reset')
    .description(
      'mail the account a password reset link (the one "Forgot password?" sends); needs smtp.url and an active account with a password',
    )
    .requiredOption('--email <email>', 'account email')
    .action(async (options: { email: string }) => {
      const cli = context();
      const outcome = await cli.withRuntime(({ libraries }) =>
        libraries.passwordResetLinks.send(options.email, { actor: 'cli' }),
      );
      // The operator is trusted: unlike the login page, this says which addresses have no account to reset.
      if (outcome === 'mail_off')
        throw invalidRequest(
          'mail is off: set smtp.url (env GATEHOUSE_SMTP_URL) to send reset links',
          'smtp.url',
        );
      if (outcome === 'no_account')
        throw notFound(`no active account with a password has email ${options.email}`);
      cli.print(
        { email: options.email, outcome },
        outcome === 'sent'
          ? `sent a password reset link to ${options.email}`
          : `the password reset link to ${options.email} could not be sent (see the log)`,
      );
      if (outcome === 'send_failed') process.exitCode = 1;
    });

  user
    .command('invite')
    .description(
      'create an account without a password and mail it a link to choose one (which verifies the address); needs smtp.url',
    )
    .requiredOption('--email <email>', 'email address (unique, case-insensitive)')
    .option('--name <name>', 'display name')
    .option('--role <role>', 'role to assign (repeatable)', collect, [])
    .action(async (options: { email: string; name?: string; role: string[] }) => {
      const cli = context();
      const { account, sent } = await cli.withRuntime(({ libraries }) =>
        libraries.invitations.invite(
          { email: options.email, name: options.name, roles: options.role },
          'cli',
        ),
      );
      if (!sent) {
        // Undone (no account kept): inviting the address again works once mail does.
        process.stderr.write(
          `gatehouse: the invitation to ${account.email} could not be sent (see the log); no account was kept\n`,
        );
        process.exitCode = 1;
        return;
      }
      cli.print(
        { id: account.id, email: account.email, name: account.name, roles: account.roles, invited: true },
        `invited ${account.email} (${account.id})`,
      );
    });

  user
    .command('unlock')
    .description('lift the sign-in lock of an account (failed passwords and second-factor codes)')
    .requiredOption('--email <email>', 'account email')
    .action(async (options: { email: string }) => {
      const cli = context();
      const result = await cli.withRuntime(async ({ libraries }) => {
        const account = await libraries.accounts.getByEmail(options.email);
        // The counters live in the running servers' store (Redis or their memory): they carry it out.
        const id = await libraries.sessionLedger.request('unlock', account.id, 'cli');
        return libraries.sessionLedger.waitFor(id, 5000);
      });
      cli.print(
        { email: options.email, unlocked: result !== undefined, queued: result === undefined },
        result ? `unlocked ${options.email}` : `queued: the next running Gatehouse unlocks ${options.email}`,
      );
    });
}
