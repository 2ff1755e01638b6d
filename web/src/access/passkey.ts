/**
 * A WebAuthn ceremony with the options the server sent in their JSON form; the credential comes
 * back as JSON for the server to check. `unsupported` when the browser cannot (no passkey support,
 * or not a secure context), `cancelled` when the user or the authenticator declined.
 */
export type Ceremony = { ok: true; response: unknown } | { ok: false; reason: CeremonyFailure };
export type CeremonyFailure = 'unsupported' | 'cancelled' | 'exists' | 'not-here';

export async function passkeyCeremony(kind: 'create' | 'get', options: unknown): Promise<Ceremony> {
  const PKC = globalThis.PublicKeyCredential as (typeof PublicKeyCredential & {
    parseCreationOptionsFromJSON?: (o: unknown) => PublicKeyCredentialCreationOptions;
    parseRequestOptionsFromJSON?: (o: unknown) => PublicKeyCredentialRequestOptions;
  }) | undefined;
  if (!PKC?.parseCreationOptionsFromJSON || !PKC.parseRequestOptionsFromJSON || !globalThis.isSecureContext) return { ok: false, reason: 'unsupported' };
  try {
    const credential =
      kind === 'create'
        ? await navigator.credentials.create({ publicKey: PKC.parseCreationOptionsFromJSON(options) })
        : await navigator.credentials.get({ publicKey: PKC.parseRequestOptionsFromJSON(options) });
    if (!credential) return { ok: false, reason: 'cancelled' };
    return { ok: true, response: (credential as PublicKeyCredential & { toJSON(): unknown }).toJSON() };
  } catch (error) {
    // The browser names what went wrong; a user who declined or let it time out can try again,
    // a passkey already registered or an address passkeys cannot serve needs another answer.
    const name = error instanceof DOMException ? error.name : '';
    return { ok: false, reason: name === 'InvalidStateError' ? 'exists' : name === 'SecurityError' ? 'not-here' : 'cancelled' };
  }
}

/** The i18n key (access namespace) that tells the user why a ceremony failed. */
export function ceremonyFailureText(reason: CeremonyFailure): string {
  return { unsupported: 'passkeyUnsupported', cancelled: 'passkeyCancelled', exists: 'passkeyExists', 'not-here': 'passkeyNotHere' }[reason];
}
