import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './gatehouse-process.ts';

const modules = '/usr/lib/apache2/modules';

export interface ApacheRelyingParty {
  origin: string;
  redirectUri: string;
  errorLog(): string;
  stop(): Promise<void>;
}

/**
 * Apache httpd with mod_auth_openidc (Debian packages apache2 and libapache2-mod-auth-openidc) on a loopback port,
 * protecting `/protected/` with the configuration the README's SSO guide shows.
 */
export async function startApacheRelyingParty(options: {
  issuer: string;
  clientId: string;
  clientSecret: string;
  port?: number;
}): Promise<ApacheRelyingParty> {
  const port = options.port ?? (await freePort());
  const origin = `http://127.0.0.1:${port}`;
  const redirectUri = `${origin}/protected/redirect_uri`;
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-apache-'));
  mkdirSync(join(dir, 'www', 'protected'), { recursive: true });
  writeFileSync(
    join(dir, 'www', 'protected', 'index.html'),
    '<!doctype html><title>Team wiki</title><h1>Team wiki</h1>\n',
  );
  // Apache started as root serves as www-data, which must read the document root.
  chmodSync(dir, 0o755);
  const runAsRoot = process.getuid?.() === 0;
  writeFileSync(
    join(dir, 'httpd.conf'),
    `ServerRoot "${dir}"
ServerName 127.0.0.1
Listen 127.0.0.1:${port}
PidFile "${dir}/httpd.pid"
ErrorLog "${dir}/error.log"
LogLevel warn auth_openidc:info
${runAsRoot ? 'User www-data\nGroup www-data' : ''}
LoadModule mpm_event_module ${modules}/mod_mpm_event.so
LoadModule authn_core_module ${modules}/mod_authn_core.so
LoadModule authz_core_module ${modules}/mod_authz_core.so
LoadModule authz_user_module ${modules}/mod_authz_user.so
LoadModule mime_module ${modules}/mod_mime.so
LoadModule dir_module ${modules}/mod_dir.so
LoadModule auth_openidc_module ${modules}/mod_auth_openidc.so
TypesConfig /etc/mime.types
DirectoryIndex index.html
DocumentRoot "${dir}/www"
<Directory "${dir}/www">
  Require all granted
</Directory>

# --- Gatehouse (the block the README's SSO guide shows) ---
OIDCProviderMetadataURL ${options.issuer}/.well-known/openid-configuration
OIDCClientID ${options.clientId}
OIDCClientSecret ${options.clientSecret}
OIDCRedirectURI ${redirectUri}
OIDCCryptoPassphrase ${'x'.repeat(32)}
OIDCScope "openid email profile roles"
OIDCPKCEMethod S256
OIDCRemoteUserClaim email
OIDCInfoHook iat access_token_expires id_token userinfo session
<Location /protected/>
  AuthType openid-connect
  Require valid-user
</Location>
`,
  );
  const child: ChildProcess = spawn('/usr/sbin/apache2', ['-f', join(dir, 'httpd.conf'), '-DFOREGROUND'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk));
  const errorLog = () => {
    try {
      return readFileSync(join(dir, 'error.log'), 'utf8');
    } catch {
      return '';
    }
  };
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null)
      throw new Error(`apache2 exited with ${child.exitCode}: ${output}\n${errorLog()}`);
    try {
      await fetch(`${origin}/`);
      break;
    } catch {
      if (Date.now() > deadline)
        throw new Error(`apache2 did not answer on ${origin}: ${output}\n${errorLog()}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  return {
    origin,
    redirectUri,
    errorLog,
    async stop() {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
