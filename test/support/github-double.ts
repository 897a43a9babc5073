import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface GitHubUser {
  id: number;
  login: string;
  name: string | null;
  /** GitHub staff on github.com, an administrator on GitHub Enterprise; false when left out. */
  site_admin?: boolean;
  /** `verified` left out: an entry that says nothing about it (treated as not verified). */
  emails: { email: string; primary: boolean; verified?: boolean }[];
}

/**
 * A stand-in for GitHub (the real one is not reachable from tests) with GitHub Enterprise's URL layout: the OAuth
 * endpoints `/login/oauth/authorize` and `/login/oauth/access_token`, and the REST API under `/api/v3` with
 * `/user` and `/user/emails`, answering in GitHub's shapes. Authorization approves at once for `user`.
 */
export async function startGitHubDouble(): Promise<{
  origin: string;
  user: GitHubUser;
  stop(): Promise<void>;
}> {
  const codes = new Map<string, { redirectUri: string; challenge: string | null }>();
  const tokens = new Set<string>();
  const double = {
    origin: '',
    user: {
      id: 583231,
      login: 'octocat',
      name: 'The Octocat',
      emails: [{ email: 'octocat@example.com', primary: true, verified: true }],
    } as GitHubUser,
    stop: async () => undefined,
  };
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', double.origin);
    const json = (status: number, body: unknown) =>
      res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' }).end(JSON.stringify(body));
    if (url.pathname === '/login/oauth/authorize') {
      const code = `code-${Math.random().toString(36).slice(2)}`;
      const redirectUri = url.searchParams.get('redirect_uri')!;
      codes.set(code, { redirectUri, challenge: url.searchParams.get('code_challenge') });
      const back = new URL(redirectUri);
      back.searchParams.set('code', code);
      back.searchParams.set('state', url.searchParams.get('state') ?? '');
      res.writeHead(302, { location: back.href }).end();
      return;
    }
    if (url.pathname === '/login/oauth/access_token' && req.method === 'POST') {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk));
      req.on('end', () => {
        const params = new URLSearchParams(body);
        const grant = codes.get(params.get('code') ?? '');
        codes.delete(params.get('code') ?? '');
        if (
          !grant ||
          params.get('client_id') !== 'gh-client' ||
          params.get('client_secret') !== 'gh-secret' ||
          !params.get('code_verifier')
        ) {
          json(200, {
            error: 'bad_verification_code',
            error_description: 'The code passed is incorrect or expired.',
          });
          return;
        }
        const token = `gho_${Math.random().toString(36).slice(2)}`;
        tokens.add(token);
        json(200, { access_token: token, token_type: 'bearer', scope: 'read:user,user:email' });
      });
      return;
    }
    const token = /^Bearer (\S+)$/.exec(req.headers.authorization ?? '')?.[1];
    if (!token || !tokens.has(token)) json(401, { message: 'Bad credentials' });
    else if (url.pathname === '/api/v3/user')
      json(200, {
        id: double.user.id,
        login: double.user.login,
        name: double.user.name,
        email: null,
        site_admin: double.user.site_admin ?? false,
      });
    else if (url.pathname === '/api/v3/user/emails')
      json(
        200,
        double.user.emails.map((entry) => ({ ...entry, visibility: 'private' })),
      );
    else json(404, { message: 'Not Found' });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  double.origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  double.stop = () =>
    new Promise<undefined>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve(undefined));
    });
  return double;
}
