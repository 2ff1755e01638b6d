import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';

/**
 * Signed checkpoints of the audit log, in the formats transparency logs share, so that tools made
 * for them can check Rampart's too:
 *
 * - the note (C2SP signed-note): a text ending in a newline, a blank line, then one line per
 *   signature, `— <key name> <base64 of key id ‖ Ed25519 signature>`;
 * - the checkpoint (C2SP tlog-checkpoint) as the text: the log's origin, the tree size and the
 *   base64 tree head, one per line, here followed by a `time <ISO-8601>` line.
 *
 * The signing key is Ed25519 and belongs to the audit log alone, apart from every data key.
 */
const ALG_ED25519 = 0x01;
const EM_DASH_PREFIX = '\u2014 ';
const PKCS8_ED25519 = Buffer.from('302e020100300506032b657004220420', 'hex');
const SPKI_ED25519 = Buffer.from('302a300506032b6570032100', 'hex');

export class NoteError extends Error {
  override readonly name = 'NoteError';
}

/** A key's name must be usable in a note's signature line: printable, no spaces or plus signs. */
function checkName(name: string): void {
  if (name.length === 0 || name.length > 200 || /[\s+\u0000-\u001f\u007f]/.test(name)) throw new NoteError('a key name is printable text without spaces or plus signs');
}

/** The 4-byte key id: the start of SHA-256(name ‖ "\n" ‖ 0x01 ‖ public key). */
function keyId(name: string, publicKey: Buffer): number {
  return createHash('sha256').update(name).update('\n').update(Buffer.from([ALG_ED25519])).update(publicKey).digest().readUInt32BE(0);
}

function rawPublicKey(key: KeyObject): Buffer {
  return Buffer.from(key.export({ format: 'der', type: 'spki' }).subarray(SPKI_ED25519.length));
}

const hex8 = (id: number) => id.toString(16).padStart(8, '0');

/** A new key: the signer key stays secret with the server; the verifier key is given to whoever checks. */
export function generateSigningKey(name: string): { signerKey: string; verifierKey: string } {
  checkName(name);
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const seed = Buffer.from(privateKey.export({ format: 'der', type: 'pkcs8' }).subarray(PKCS8_ED25519.length));
  const pub = rawPublicKey(publicKey);
  const id = hex8(keyId(name, pub));
  return {
    signerKey: `PRIVATE+KEY+${name}+${id}+${Buffer.concat([Buffer.from([ALG_ED25519]), seed]).toString('base64')}`,
    verifierKey: `${name}+${id}+${Buffer.concat([Buffer.from([ALG_ED25519]), pub]).toString('base64')}`,
  };
}

interface Signer {
  name: string;
  id: number;
  key: KeyObject;
}

interface Verifier {
  name: string;
  id: number;
  key: KeyObject;
}

function parseSignerKey(text: string): Signer {
  const parts = text.split('+');
  if (parts.length < 5 || parts[0] !== 'PRIVATE' || parts[1] !== 'KEY') throw new NoteError('not a signer key');
  const [name, idHex] = [parts[2]!, parts[3]!];
  const raw = Buffer.from(parts.slice(4).join('+'), 'base64');
  if (raw.length !== 33 || raw[0] !== ALG_ED25519 || !/^[0-9a-f]{8}$/.test(idHex)) throw new NoteError('not an Ed25519 signer key');
  const key = createPrivateKey({ key: Buffer.concat([PKCS8_ED25519, raw.subarray(1)]), format: 'der', type: 'pkcs8' });
  const id = keyId(name, rawPublicKey(createPublicKey(key)));
  if (hex8(id) !== idHex) throw new NoteError('the signer key does not match its id');
  return { name, id, key };
}

export function parseVerifierKey(text: string): Verifier {
  const parts = text.split('+');
  if (parts.length < 3) throw new NoteError('not a verifier key');
  const [name, idHex] = [parts[0]!, parts[1]!];
  checkName(name);
  const raw = Buffer.from(parts.slice(2).join('+'), 'base64');
  if (raw.length !== 33 || raw[0] !== ALG_ED25519 || !/^[0-9a-f]{8}$/.test(idHex)) throw new NoteError('not an Ed25519 verifier key');
  const pub = raw.subarray(1);
  if (hex8(keyId(name, pub)) !== idHex) throw new NoteError('the verifier key does not match its id');
  return { name, id: parseInt(idHex, 16), key: createPublicKey({ key: Buffer.concat([SPKI_ED25519, pub]), format: 'der', type: 'spki' }) };
}

/** Signs a note's text (which must end in a newline) and answers the whole note. */
export function signNote(text: string, signerKey: string): string {
  if (!text.endsWith('\n')) throw new NoteError('a note text ends with a newline');
  const signer = parseSignerKey(signerKey);
  const signature = sign(null, Buffer.from(text, 'utf8'), signer.key);
  const blob = Buffer.alloc(4 + signature.length);
  blob.writeUInt32BE(signer.id, 0);
  signature.copy(blob, 4);
  return `${text}\n${EM_DASH_PREFIX}${signer.name} ${blob.toString('base64')}\n`;
}

/** Checks a note's signature by this verifier key and answers its text; any other signature lines are ignored. */
export function openNote(note: string, verifierKey: string): string {
  const verifier = parseVerifierKey(verifierKey);
  const split = note.lastIndexOf('\n\n');
  if (split < 0 || !note.endsWith('\n')) throw new NoteError('not a signed note');
  const text = note.slice(0, split + 1);
  for (const line of note.slice(split + 2, -1).split('\n')) {
    if (!line.startsWith(EM_DASH_PREFIX)) throw new NoteError('a signature line is malformed');
    const [name, b64, extra] = line.slice(EM_DASH_PREFIX.length).split(' ');
    if (extra !== undefined || !name || !b64) throw new NoteError('a signature line is malformed');
    const blob = Buffer.from(b64, 'base64');
    if (name !== verifier.name || blob.length < 4 || blob.readUInt32BE(0) !== verifier.id) continue;
    if (verify(null, Buffer.from(text, 'utf8'), verifier.key, blob.subarray(4))) return text;
    throw new NoteError('the signature does not verify');
  }
  throw new NoteError('the note carries no signature by this key');
}

export interface Checkpoint {
  /** Names the log, e.g. `rampart.example.com/audit`. */
  readonly origin: string;
  readonly size: number;
  readonly rootHash: Buffer;
  readonly time: string;
}

export function checkpointText(checkpoint: Checkpoint): string {
  if (!checkpoint.origin || /\n/.test(checkpoint.origin)) throw new NoteError('an origin is one line');
  return `${checkpoint.origin}\n${checkpoint.size}\n${checkpoint.rootHash.toString('base64')}\ntime ${checkpoint.time}\n`;
}

export function parseCheckpoint(text: string): Checkpoint {
  const lines = text.split('\n');
  const [origin, size, root, time] = lines;
  if (!origin || !/^\d{1,19}$/.test(size ?? '') || !root || !time?.startsWith('time ')) throw new NoteError('not a checkpoint');
  const rootHash = Buffer.from(root, 'base64');
  if (rootHash.length !== 32) throw new NoteError('not a checkpoint');
  return { origin, size: Number(size), rootHash, time: time.slice('time '.length) };
}

/**
 * The notes in a file of checkpoints as the server appends them: each note, then a blank line. A
 * note's own blank line separates its text from its signature lines, which start with an em dash.
 */
export function splitNotes(text: string): string[] {
  const notes: string[] = [];
  let current: string[] = [];
  let signed = false;
  for (const line of text.replace(/\r\n/g, '\n').split('\n')) {
    if (line.startsWith(EM_DASH_PREFIX)) {
      current.push(line);
      signed = true;
    } else if (line === '') {
      if (signed) {
        notes.push(`${current.join('\n')}\n`);
        current = [];
        signed = false;
      } else if (current.length > 0) current.push(line);
    } else {
      if (signed) {
        notes.push(`${current.join('\n')}\n`);
        current = [];
        signed = false;
      }
      current.push(line);
    }
  }
  if (signed) notes.push(`${current.join('\n')}\n`);
  return notes;
}
