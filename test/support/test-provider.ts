import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { generateKeyPairSync } from 'node:crypto';
import Provider from 'oidc-provider';

/** A person at the provider; change the fields between sign-ins to change what the provider says. */
export interface ProviderAccount {
  email?: string;
  emailVerified?: boolean;
  name?: string;
  groups?: string[];
  /** RFC 8176 methods the provider reports for the sign-in. */
  amr?: string[];
}

export const CLIENT_ID = 'rampart';
export const CLIENT_SECRET = 'the client secret the test provider issued';

/** The slice of a provider request's context the grant hook reads. */
interface GrantContext {
  oidc: { client: { clientId: string }; session: { accountId: string } };
}

/**
 * A real OpenID provider (oidc-provider) on 127.0.0.1 and a random port. Its sign-in page is
 * driven by HTTP: `signIn` follows the authorization request like a browser with its own cookie
 * jar, posts the account to the interaction, and answers the redirect back to the client.
 * Consent is given by the provider itself. With `impostor` on, everything but the published keys
 * is served by a second provider with the same issuer and its own key: what an attacker who can
 * answer for the provider's address, but has not got its key, would do.
 */
export class TestProvider {
  impostor = false;
  readonly errors: unknown[] = [];

  private constructor(
    readonly issuer: string,
    private readonly server: http.Server,
    private readonly redirectUri: string,
    readonly accounts: Map<string, ProviderAccount>,
  ) {}

  /** `accounts` may be another provider's: the same people, known to both. */
  static async start(redirectUri: string, options: { claimsInIdToken?: boolean; accounts?: Map<string, ProviderAccount> } = {}): Promise<TestProvider> {
    const server = http.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const test = new TestProvider(issuer, server, redirectUri, options.accounts ?? new Map());
    const genuine = test.makeProvider(options.claimsInIdToken ?? true);
    const impostor = test.makeProvider(options.claimsInIdToken ?? true);
    server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
      const provider = test.impostor && !req.url?.startsWith('/jwks') ? impostor : genuine;
      test.serve(provider, req, res).catch((error: unknown) => {
        test.errors.push(error);
        res.writeHead(500).end();
      });
    });
    return test;
  }

  private makeProvider(claimsInIdToken: boolean): Provider {
    const key = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' });
    const provider: Provider = new Provider(this.issuer, {
      clients: [{ client_id: CLIENT_ID, client_secret: CLIENT_SECRET, redirect_uris: [this.redirectUri], grant_types: ['authorization_code'], response_types: ['code'] }],
      // The same key id for every provider: an impostor's key is told apart by its signature alone.
      jwks: { keys: [{ ...key, kid: 'signing-key', use: 'sig', alg: 'RS256' }] },
      findAccount: async (_ctx: unknown, id: string) => {
        const account = this.accounts.get(id);
        if (!account) return undefined;
        return {
          accountId: id,
          claims: async () => ({ sub: id, email: account.email, email_verified: account.emailVerified, name: account.name, groups: account.groups }),
        };
      },
      // Like many providers, it says how and when the user signed in in every ID token.
      claims: { openid: ['sub', 'amr', 'auth_time'], email: ['email', 'email_verified'], profile: ['name'], groups: ['groups'] },
      // Off: the scopes' claims go into the ID token too, not only to the userinfo endpoint.
      conformIdTokenClaims: !claimsInIdToken,
      features: { devInteractions: { enabled: false } },
      interactions: { url: (_ctx: unknown, interaction: { uid: string }) => `/interaction/${interaction.uid}` },
      // A first-party client: consent is taken as given.
      loadExistingGrant: async (ctx: GrantContext) => {
        const grant = new provider.Grant({ accountId: ctx.oidc.session.accountId, clientId: ctx.oidc.client.clientId });
        grant.addOIDCScope('openid email profile groups');
        await grant.save();
        return grant;
      },
      cookies: { keys: ['a cookie key of the test provider'] },
      ttl: { AccessToken: 600, AuthorizationCode: 60, Grant: 600, IdToken: 600, Interaction: 600, Session: 600 },
    });
    provider.on('server_error', (_ctx: unknown, error: unknown) => this.errors.push(error));
    return provider;
  }

  /** The provider's own routes, and the sign-in form a person would fill in. */
  private async serve(provider: Provider, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const interaction = /^\/interaction\/([^/]+)\/(login|abort)$/.exec(req.url ?? '');
    if (req.method === 'POST' && interaction) {
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      const form = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
      const accountId = form.get('account') ?? '';
      const result =
        interaction[2] === 'abort'
          ? { error: 'access_denied', error_description: '<script>alert("the user said no")</script>' }
          : { login: { accountId, amr: this.accounts.get(accountId)?.amr ?? ['pwd'] } };
      const returnTo = await provider.interactionResult(req, res, result, { mergeWithLastSubmission: false });
      res.writeHead(303, { location: returnTo }).end();
      return;
    }
    const page = /^\/interaction\/([A-Za-z0-9_-]+)$/.exec(req.url ?? '');
    if (req.method === 'GET' && page) {
      // The form a person fills in at the provider, for tests that go there in a real browser.
      res
        .writeHead(200, { 'content-type': 'text/html; charset=utf-8' })
        .end(`<!doctype html><title>Example ID</title><h1>Example ID</h1><form method="post" action="/interaction/${page[1]}/login"><label>Account <input name="account"></label><button>Continue</button></form>`);
      return;
    }
    provider.callback()(req, res);
  }

  /**
   * Signs `accountId` in at the provider for an authorization request, in a browser of its own,
   * and answers where the provider sends the browser back (the client's callback, with the code).
   * `abort` answers as a person who declines.
   */
  async signIn(authorizationUrl: string, accountId: string, options: { abort?: boolean } = {}): Promise<URL> {
    const jar = new Map<string, string>();
    const go = async (url: URL, init: RequestInit = {}): Promise<Response> => {
      const response = await fetch(url, { ...init, redirect: 'manual', headers: { ...(init.headers as Record<string, string> | undefined), cookie: [...jar].map(([k, v]) => `${k}=${v}`).join('; ') } });
      for (const line of response.headers.getSetCookie()) {
        const [pair] = line.split(';');
        const at = pair!.indexOf('=');
        const name = pair!.slice(0, at).trim();
        const value = pair!.slice(at + 1).trim();
        if (value === '' || /expires=Thu, 01 Jan 1970/i.test(line)) jar.delete(name);
        else jar.set(name, value);
      }
      return response;
    };
    let at = new URL(authorizationUrl);
    let response = await go(at);
    for (let hops = 0; hops < 10; hops++) {
      const location = response.headers.get('location');
      if (!location) throw new Error(`the provider answered ${response.status} at ${at.pathname}: ${(await response.text()).slice(0, 300)}`);
      at = new URL(location, at);
      if (at.href.startsWith(this.redirectUri)) return at;
      const uid = /^\/interaction\/([^/]+)$/.exec(at.pathname)?.[1];
      response = uid
        ? await go(new URL(`/interaction/${uid}/${options.abort ? 'abort' : 'login'}`, at), { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ account: accountId }).toString() })
        : await go(at);
    }
    throw new Error('the provider redirected too many times');
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
